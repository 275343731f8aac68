import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { FlotillaError } from '@flotilla/actor';
import { parseIP } from '@flotilla/api';
import {
  canonicalName,
  type DnsMessage,
  decodeMessage,
  encodeMessage,
  maxMessageBytes,
  Opcode,
  Rcode,
  RRClass,
} from './wire.ts';

export type DnsQuery = {
  readonly server: string;
  readonly port: number;
  readonly name: string;
  readonly type: number;
  readonly transport: 'udp' | 'tcp';
  readonly timeoutMs?: number;
  /** Send an OPT record offering this UDP payload size; absent, a classic 512-byte query. */
  readonly ednsUdpPayloadBytes?: number;
};

export const defaultDnsQueryTimeoutMs = 2_000;

export class DnsQueryError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('DnsQuery', message, data);
  }
}

/** The query message for one question, recursion desired. */
export function queryMessage(q: Omit<DnsQuery, 'server' | 'port' | 'transport'>, id: number): Buffer {
  return encodeMessage({
    id,
    qr: false,
    opcode: Opcode.QUERY,
    aa: false,
    tc: false,
    rd: true,
    ra: false,
    ad: false,
    cd: false,
    rcode: Rcode.NOERROR,
    questions: [{ name: q.name, type: q.type, class: RRClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns:
      q.ednsUdpPayloadBytes === undefined
        ? undefined
        : { udpPayloadBytes: q.ednsUdpPayloadBytes, version: 0, dnssecOk: false, options: Buffer.alloc(0) },
  });
}

function checkAnswer(answer: DnsMessage, id: number, q: DnsQuery): DnsMessage {
  const question = answer.questions[0];
  if (answer.id !== id || !answer.qr) throw new DnsQueryError(`answer with id ${answer.id}, expected ${id}`);
  if (
    question !== undefined &&
    (canonicalName(question.name) !== canonicalName(q.name) || question.type !== q.type)
  ) {
    throw new DnsQueryError(`answer for ${question.name}/${question.type}, asked ${q.name}/${q.type}`);
  }
  return answer;
}

/** Asks one question of one server and returns its answer as it came (TC is not retried). */
export function queryDns(q: DnsQuery): Promise<DnsMessage> {
  const id = randomInt(0x10000);
  const message = queryMessage(q, id);
  const timeoutMs = q.timeoutMs ?? defaultDnsQueryTimeoutMs;
  return q.transport === 'udp' ? viaUdp(q, id, message, timeoutMs) : viaTcp(q, id, message, timeoutMs);
}

function viaUdp(q: DnsQuery, id: number, message: Buffer, timeoutMs: number): Promise<DnsMessage> {
  const socket = createSocket(parseIP(q.server)?.family === 'IPv6' ? 'udp6' : 'udp4');
  return new Promise<DnsMessage>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DnsQueryError(`no answer from ${q.server}:${q.port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(new DnsQueryError(err.message));
    });
    socket.on('message', (buf, rinfo) => {
      if (rinfo.port !== q.port || buf.length < 2 || buf.readUInt16BE(0) !== id) return;
      clearTimeout(timer);
      try {
        resolve(checkAnswer(decodeMessage(buf), id, q));
      } catch (err) {
        reject(err);
      }
    });
    socket.send(message, q.port, q.server);
  }).finally(() => socket.close());
}

function viaTcp(q: DnsQuery, id: number, message: Buffer, timeoutMs: number): Promise<DnsMessage> {
  return new Promise<DnsMessage>((resolve, reject) => {
    const socket = connect({ host: q.server, port: q.port });
    const chunks: Buffer[] = [];
    let received = 0;
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () =>
      fail(new DnsQueryError(`no answer from ${q.server}:${q.port} within ${timeoutMs} ms`)),
    );
    socket.on('error', (err) => fail(new DnsQueryError(err.message)));
    socket.on('connect', () => {
      const frame = Buffer.alloc(message.length + 2);
      frame.writeUInt16BE(message.length, 0);
      message.copy(frame, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk) => {
      received += chunk.length;
      if (received > maxMessageBytes + 2) return fail(new DnsQueryError('answer longer than a DNS message'));
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length < 2 || all.length < 2 + all.readUInt16BE(0)) return;
      socket.destroy();
      try {
        resolve(checkAnswer(decodeMessage(all.subarray(2, 2 + all.readUInt16BE(0))), id, q));
      } catch (err) {
        reject(err);
      }
    });
  });
}
