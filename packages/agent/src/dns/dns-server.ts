import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { FlotillaError, type Logger } from '@flotilla/actor';
import { parseIP } from '@flotilla/api';
import {
  ServiceCatalog,
  type ServiceCatalogEvent,
  type ServiceCatalogSource,
} from '../net/service-catalog.ts';
import { AnswerCache } from './answer-cache.ts';
import { ClusterZone, defaultRecordTtlSeconds } from './cluster-zone.ts';
import { Forwarder, type Upstream } from './forwarder.ts';
import {
  classicUdpPayloadBytes,
  DnsFormatError,
  type DnsMessage,
  decodeMessage,
  encodeMessage,
  encodeWithin,
  maxMessageBytes,
  Opcode,
  Rcode,
} from './wire.ts';

export type ClusterDnsOptions = {
  /** Where to answer, UDP and TCP on the same port. Port 0 picks a free one. */
  readonly listen: { readonly address: string; readonly port: number };
  /** The cluster domain (default `cluster.local`). */
  readonly domain?: string;
  /** Names outside the cluster domain go here; absent, they are REFUSED. */
  readonly upstream?: Upstream | undefined;
  readonly recordTtlSeconds?: number;
  /** Largest UDP answer, whatever a client's EDNS offers (1232 avoids IP fragmentation: DNS Flag Day 2020). */
  readonly maxUdpPayloadBytes?: number;
  readonly maxTcpConnections?: number;
  /** A TCP connection with no query for this long is closed (RFC 7766 §6.2.3). */
  readonly tcpIdleTimeoutMs?: number;
  /** Queries of one TCP connection processed at once; the connection is paused beyond. */
  readonly maxTcpQueriesPerConnection?: number;
  readonly maxForwardsInFlight?: number;
  readonly forwardTimeoutMs?: number;
  readonly maxCacheEntries?: number;
  readonly maxCacheTtlSeconds?: number;
  readonly logger: Logger;
};

export const clusterDnsDefaults = {
  domain: 'cluster.local',
  recordTtlSeconds: defaultRecordTtlSeconds,
  maxUdpPayloadBytes: 1232,
  maxTcpConnections: 256,
  tcpIdleTimeoutMs: 10_000,
  maxTcpQueriesPerConnection: 16,
  maxForwardsInFlight: 512,
  forwardTimeoutMs: 2_000,
  maxCacheEntries: 10_000,
  maxCacheTtlSeconds: 300,
} as const;

export type DnsTransport = 'udp' | 'tcp';

export class DnsListenError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('DnsListen', message, data);
  }
}

/**
 * The cluster DNS: answers the cluster domain from the Services it is fed, forwards the
 * rest when an upstream is configured. Every instance builds its answers from its own
 * copy of the same watch, so any number of them answer alike with no leader and no
 * coordination; put them behind one Service.
 */
export class ClusterDns {
  readonly catalog = new ServiceCatalog();
  readonly zone: ClusterZone;
  private readonly options: ClusterDnsOptions;
  private readonly settings: typeof clusterDnsDefaults;
  private readonly log: Logger;
  private readonly udp: UdpSocket;
  private readonly tcp: Server;
  private readonly forwarder: Forwarder | undefined;
  private readonly connections = new Set<TcpSocket>();
  private boundPort = 0;
  private stopped = false;

  private constructor(
    options: ClusterDnsOptions,
    udp: UdpSocket,
    tcp: Server,
    forwarder: Forwarder | undefined,
  ) {
    this.options = options;
    this.settings = { ...clusterDnsDefaults, ...definedOnly(options) };
    this.log = options.logger.child({ component: 'cluster-dns' });
    this.zone = new ClusterZone({ domain: this.settings.domain, ttlSeconds: this.settings.recordTtlSeconds });
    this.udp = udp;
    this.tcp = tcp;
    this.forwarder = forwarder;
  }

  static async start(options: ClusterDnsOptions): Promise<ClusterDns> {
    const family = parseIP(options.listen.address)?.family;
    if (family === undefined)
      throw new DnsListenError(`listen address ${options.listen.address} is not an IP`);
    const settings = { ...clusterDnsDefaults, ...definedOnly(options) };
    const forwarder =
      options.upstream === undefined
        ? undefined
        : await Forwarder.start({
            upstream: options.upstream,
            timeoutMs: settings.forwardTimeoutMs,
            maxInFlight: settings.maxForwardsInFlight,
            cache: new AnswerCache(settings.maxCacheEntries, settings.maxCacheTtlSeconds),
          });
    // Port 0 takes the port the kernel gives UDP for TCP too; another process may hold that
    // port for TCP (an ephemeral port of an outgoing connection), so a few pairs are tried.
    const attempts = options.listen.port === 0 ? 5 : 1;
    let dns: ClusterDns | undefined;
    for (let attempt = 1; dns === undefined; attempt++) {
      const udp = createSocket({ type: family === 'IPv4' ? 'udp4' : 'udp6' });
      const tcp = createServer({ pauseOnConnect: false });
      const candidate = new ClusterDns(options, udp, tcp, forwarder);
      try {
        await candidate.listen();
        dns = candidate;
      } catch (err) {
        const taken = err instanceof DnsListenError && err.message.includes('EADDRINUSE');
        if (!taken || attempt >= attempts) {
          forwarder?.close();
          throw err;
        }
      }
    }
    dns.log.info(
      { address: options.listen.address, port: dns.boundPort, upstream: options.upstream ?? null },
      'cluster DNS listening',
    );
    return dns;
  }

  /** The UDP and TCP port it answers on. */
  get port(): number {
    return this.boundPort;
  }

  /** Feeds one watch event. */
  handle(event: ServiceCatalogEvent): void {
    for (const key of this.catalog.apply(event)) this.zone.updateService(key, this.catalog.view(key));
  }

  /** Consumes a source until it ends or the server stops. */
  async run(source: ServiceCatalogSource): Promise<void> {
    for await (const event of source) {
      if (this.stopped) return;
      this.handle(event);
    }
  }

  /**
   * The answer to one query as it arrived over `transport`, or undefined when it gets no
   * answer at all (too short to carry an id, or itself a response).
   */
  async answer(query: Buffer, transport: DnsTransport): Promise<Buffer | undefined> {
    if (query.length < 12 || (query.readUInt8(2) & 0x80) !== 0) return undefined;
    let msg: DnsMessage;
    try {
      msg = decodeMessage(query);
    } catch (err) {
      if (err instanceof DnsFormatError) return this.formErr(query);
      throw err;
    }
    const limit = this.udpLimit(msg, transport);
    const reply = (fields: Partial<DnsMessage>): Buffer =>
      encodeWithin(
        {
          id: msg.id,
          qr: true,
          opcode: msg.opcode,
          aa: false,
          tc: false,
          rd: msg.rd,
          ra: this.forwarder !== undefined,
          ad: false,
          cd: msg.cd,
          rcode: Rcode.NOERROR,
          questions: msg.questions,
          answers: [],
          authorities: [],
          additionals: [],
          edns:
            msg.edns === undefined
              ? undefined
              : {
                  udpPayloadBytes: this.settings.maxUdpPayloadBytes,
                  version: 0,
                  dnssecOk: false,
                  options: Buffer.alloc(0),
                },
          ...fields,
        },
        limit,
      );
    if (msg.opcode !== Opcode.QUERY) return reply({ rcode: Rcode.NOTIMP });
    if (msg.questions.length !== 1) return reply({ rcode: Rcode.FORMERR });
    // RFC 6891 §6.1.3: only version 0 exists.
    if (msg.edns !== undefined && msg.edns.version !== 0)
      return reply({ rcode: Rcode.BADVERS, questions: [] });
    const zoneAnswer = this.zone.answer(msg.questions[0]!);
    if (zoneAnswer.kind === 'answer') {
      return reply({
        aa: true,
        rcode: zoneAnswer.rcode,
        answers: zoneAnswer.answers,
        authorities: zoneAnswer.authorities,
        additionals: zoneAnswer.additionals,
      });
    }
    if (this.forwarder === undefined) return reply({ rcode: Rcode.REFUSED });
    try {
      const response = await this.forwarder.forward(query, msg, transport, Date.now());
      // This server offers recursion to its clients, whatever the upstream told it.
      response.writeUInt8(response.readUInt8(3) | 0x80, 3);
      if (response.length <= limit) return response;
      // A cached answer bigger than this client takes (stored for a TCP or larger-EDNS client).
      return encodeWithin(decodeMessage(response), limit);
    } catch (err) {
      this.log.debug({ err, name: msg.questions[0]?.name }, 'forwarding failed');
      return reply({ rcode: Rcode.SERVFAIL });
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const socket of this.connections) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
    this.forwarder?.close();
  }

  private udpLimit(msg: DnsMessage, transport: DnsTransport): number {
    if (transport === 'tcp') return maxMessageBytes;
    const offered = msg.edns?.udpPayloadBytes ?? classicUdpPayloadBytes;
    return Math.max(classicUdpPayloadBytes, Math.min(offered, this.settings.maxUdpPayloadBytes));
  }

  /** FORMERR for a query that could not be read: its id, no question. */
  private formErr(query: Buffer): Buffer {
    return encodeMessage({
      id: query.readUInt16BE(0),
      qr: true,
      opcode: (query.readUInt8(2) >>> 3) & 0xf,
      aa: false,
      tc: false,
      rd: (query.readUInt8(2) & 1) !== 0,
      ra: this.forwarder !== undefined,
      ad: false,
      cd: false,
      rcode: Rcode.FORMERR,
      questions: [],
      answers: [],
      authorities: [],
      additionals: [],
      edns: undefined,
    });
  }

  private async listen(): Promise<void> {
    const { address, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      this.udp.once('error', reject);
      this.udp.bind(port, address, () => {
        this.udp.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      throw new DnsListenError(`UDP ${address}:${port}: ${err.message}`);
    });
    this.boundPort = this.udp.address().port;
    this.udp.on('error', (err) => this.log.warn({ err }, 'UDP socket error'));
    this.udp.on('message', (query, rinfo) => {
      this.answer(query, 'udp')
        .then((response) => {
          if (response !== undefined && !this.stopped) this.udp.send(response, rinfo.port, rinfo.address);
        })
        .catch((err) => this.log.warn({ err }, 'query failed'));
    });
    this.tcp.maxConnections = this.settings.maxTcpConnections;
    this.tcp.on('connection', (socket) => this.serveTcp(socket));
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen({ host: address, port: this.boundPort, exclusive: true }, () => {
        this.tcp.off('error', reject);
        resolve();
      });
    }).catch((err: Error) => {
      this.udp.close();
      throw new DnsListenError(`TCP ${address}:${this.boundPort}: ${err.message}`);
    });
  }

  /** RFC 1035 §4.2.2 framing: a two-byte length before each message, answers in query order. */
  private serveTcp(socket: TcpSocket): void {
    this.connections.add(socket);
    socket.setTimeout(this.settings.tcpIdleTimeoutMs, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    const max = this.settings.maxTcpQueriesPerConnection;
    let pending = Buffer.alloc(0);
    let inFlight = 0;
    let chain: Promise<void> = Promise.resolve();
    // Takes complete queries off `pending` while fewer than `max` are being answered; the
    // socket stays paused while that many are, so a client that does not read its
    // answers holds at most `max` queries and one read's worth of bytes here.
    const pump = () => {
      while (inFlight < max && pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const query = Buffer.from(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + query.length);
        inFlight += 1;
        const answered = this.answer(query, 'tcp').catch((err) => {
          this.log.warn({ err }, 'query failed');
          return undefined;
        });
        // Answers go out in query order (RFC 7766 allows any order; in order is simpler).
        chain = chain.then(async () => {
          const response = await answered;
          inFlight -= 1;
          if (response !== undefined && !socket.destroyed) {
            const frame = Buffer.alloc(response.length + 2);
            frame.writeUInt16BE(response.length, 0);
            response.copy(frame, 2);
            socket.write(frame);
          }
          pump();
        });
      }
      if (inFlight >= max) socket.pause();
      else if (socket.isPaused()) socket.resume();
    };
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      pump();
    });
  }
}

/** The options that are set, so spreading them over the defaults keeps a default for the rest. */
function definedOnly(options: ClusterDnsOptions): Partial<typeof clusterDnsDefaults> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(clusterDnsDefaults)) {
    const v = (options as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = v;
  }
  return out as Partial<typeof clusterDnsDefaults>;
}
