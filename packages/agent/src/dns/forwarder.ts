import { randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { FlotillaError } from '@flotilla/actor';
import { parseIP } from '@flotilla/api';
import { type AnswerCache, cacheKey } from './answer-cache.ts';
import { canonicalName, type DnsMessage, decodeMessage, maxMessageBytes, type Question } from './wire.ts';

export type Upstream = { readonly address: string; readonly port: number };

export type ForwarderOptions = {
  readonly upstream: Upstream;
  /** A query the upstream has not answered in this long fails (the client gets SERVFAIL). */
  readonly timeoutMs: number;
  /** Queries waiting on the upstream at once; one more fails at once instead of queueing. */
  readonly maxInFlight: number;
  readonly cache: AnswerCache;
};

/** The forwarder already waits on `maxInFlight` upstream answers. */
export class ForwarderBusyError extends FlotillaError {
  constructor(maxInFlight: number) {
    super('DnsForwarderBusy', `${maxInFlight} queries already wait on the upstream resolver`);
  }
}

export class UpstreamError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('DnsUpstream', message, data);
  }
}

type Pending = {
  readonly question: Question;
  readonly resolve: (response: Buffer) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
};

function sameQuestion(a: Question | undefined, b: Question | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    canonicalName(a.name) === canonicalName(b.name) &&
    a.type === b.type &&
    a.class === b.class
  );
}

/**
 * Sends the queries for names outside the cluster domain to one upstream resolver:
 * over UDP from one socket (a fresh random id per query, and an answer is taken only
 * from the upstream's address, with that id and the same question), over TCP when the
 * client asked over TCP. Answers are cached.
 */
export class Forwarder {
  private readonly options: ForwarderOptions;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private tcpInFlight = 0;

  private constructor(options: ForwarderOptions, socket: Socket) {
    this.options = options;
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.onUdpAnswer(msg, rinfo));
  }

  static async start(options: ForwarderOptions): Promise<Forwarder> {
    const family = parseIP(options.upstream.address)?.family;
    if (family === undefined)
      throw new UpstreamError(`upstream ${options.upstream.address} is not an IP address`);
    const socket = createSocket(family === 'IPv4' ? 'udp4' : 'udp6');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => {});
    return new Forwarder(options, socket);
  }

  get inFlight(): number {
    return this.pending.size + this.tcpInFlight;
  }

  /** The upstream's answer to `query` (already decoded as `msg`), with the client's id. */
  async forward(query: Buffer, msg: DnsMessage, transport: 'udp' | 'tcp', nowMs: number): Promise<Buffer> {
    const question = msg.questions[0]!;
    const key = cacheKey(question, msg.edns !== undefined, msg.edns?.dnssecOk ?? false, msg.cd);
    const cached = this.options.cache.get(key, query, nowMs);
    if (cached !== undefined) return cached;
    if (this.inFlight >= this.options.maxInFlight) throw new ForwarderBusyError(this.options.maxInFlight);
    const response =
      transport === 'udp' ? await this.viaUdp(query, question) : await this.viaTcp(query, question);
    response.writeUInt16BE(msg.id, 0);
    this.options.cache.put(key, response, Date.now());
    return response;
  }

  close(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new UpstreamError('forwarder closed'));
      this.pending.delete(id);
    }
    this.socket.close();
  }

  private viaUdp(query: Buffer, question: Question): Promise<Buffer> {
    let id = randomInt(0x10000);
    while (this.pending.has(id)) id = randomInt(0x10000);
    const out = Buffer.from(query);
    out.writeUInt16BE(id, 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new UpstreamError(`no answer from ${this.describe()} within ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
      this.pending.set(id, { question, resolve, reject, timer });
      this.socket.send(out, this.options.upstream.port, this.options.upstream.address, (err) => {
        if (err === null || err === undefined) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new UpstreamError(`sending to ${this.describe()}: ${err.message}`));
      });
    });
  }

  private onUdpAnswer(msg: Buffer, rinfo: RemoteInfo): void {
    const { address, port } = this.options.upstream;
    if (rinfo.port !== port || parseIP(rinfo.address)?.value !== parseIP(address)?.value) return;
    if (msg.length < 12) return;
    const p = this.pending.get(msg.readUInt16BE(0));
    if (p === undefined) return;
    let decoded: DnsMessage;
    try {
      decoded = decodeMessage(msg);
    } catch {
      return;
    }
    if (!decoded.qr || !sameQuestion(decoded.questions[0], p.question)) return;
    clearTimeout(p.timer);
    this.pending.delete(msg.readUInt16BE(0));
    p.resolve(Buffer.from(msg));
  }

  private viaTcp(query: Buffer, question: Question): Promise<Buffer> {
    const id = randomInt(0x10000);
    const out = Buffer.alloc(query.length + 2);
    out.writeUInt16BE(query.length, 0);
    query.copy(out, 2);
    out.writeUInt16BE(id, 2);
    this.tcpInFlight += 1;
    return new Promise<Buffer>((resolve, reject) => {
      const socket = connect({ host: this.options.upstream.address, port: this.options.upstream.port });
      const chunks: Buffer[] = [];
      let received = 0;
      const fail = (err: Error) => {
        socket.destroy();
        reject(err);
      };
      socket.setTimeout(this.options.timeoutMs, () =>
        fail(
          new UpstreamError(`no answer from ${this.describe()} (tcp) within ${this.options.timeoutMs} ms`),
        ),
      );
      socket.on('error', (err) => fail(new UpstreamError(`${this.describe()} (tcp): ${err.message}`)));
      socket.on('connect', () => socket.write(out));
      socket.on('data', (chunk) => {
        received += chunk.length;
        if (received > maxMessageBytes + 2) return fail(new UpstreamError('upstream answer too long'));
        chunks.push(chunk);
        const all = Buffer.concat(chunks);
        if (all.length < 2 || all.length < 2 + all.readUInt16BE(0)) return;
        const response = Buffer.from(all.subarray(2, 2 + all.readUInt16BE(0)));
        socket.destroy();
        try {
          const decoded = decodeMessage(response);
          if (decoded.id !== id || !decoded.qr || !sameQuestion(decoded.questions[0], question)) {
            return reject(new UpstreamError('upstream answered another question'));
          }
        } catch (err) {
          return reject(err instanceof Error ? err : new UpstreamError(String(err)));
        }
        resolve(response);
      });
    }).finally(() => {
      this.tcpInFlight -= 1;
    });
  }

  private describe(): string {
    return `upstream ${this.options.upstream.address}:${this.options.upstream.port}`;
  }
}
