/**
 * The DNS message format (RFC 1035 §4, with EDNS(0) from RFC 6891 and SRV from RFC
 * 2782): decoding with every length and pointer checked, encoding with name
 * compression. Names are in presentation form without the final dot (`web.default.svc`,
 * '' for the root); a label byte that is not a printable, non-special character is
 * written `\DDD`, a literal dot or backslash `\.` or `\\` (RFC 1035 §5.1).
 */
import { FlotillaError } from '@flotilla/actor';
import { formatIP, parseIP } from '@flotilla/api';

export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const RRClass = { IN: 1, ANY: 255 } as const;

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (needs OPT): the query's EDNS version is not supported. */
  BADVERS: 16,
} as const;

export const Opcode = { QUERY: 0 } as const;

/** A message over UDP without EDNS is at most 512 bytes (RFC 1035 §4.2.1). */
export const classicUdpPayloadBytes = 512;
/** Anything bigger cannot be framed over TCP (two-byte length). */
export const maxMessageBytes = 65_535;
/** RFC 1035 §2.3.4. */
export const maxLabelBytes = 63;
export const maxNameBytes = 255;
/** Compression pointers followed while reading one name; a longer chain is a loop or an attack. */
const maxPointerHops = 64;

export type Question = { readonly name: string; readonly type: number; readonly class: number };

export type RecordData =
  | { readonly type: 'A'; readonly address: string }
  | { readonly type: 'AAAA'; readonly address: string }
  | { readonly type: 'CNAME' | 'PTR' | 'NS'; readonly target: string }
  | {
      readonly type: 'SRV';
      readonly priority: number;
      readonly weight: number;
      readonly port: number;
      readonly target: string;
    }
  | {
      readonly type: 'SOA';
      readonly mname: string;
      readonly rname: string;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
  | { readonly type: 'TXT'; readonly texts: readonly string[] }
  /** Any other type, its RDATA kept as it came (RFC 3597). */
  | { readonly type: 'raw'; readonly rrtype: number; readonly data: Buffer };

export type ResourceRecord = {
  readonly name: string;
  readonly class: number;
  readonly ttl: number;
  readonly data: RecordData;
};

/** The OPT pseudo-record's contents (RFC 6891 §6.1). */
export type Edns = {
  readonly udpPayloadBytes: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  /** The option bytes, kept opaque. */
  readonly options: Buffer;
};

export type DnsMessage = {
  readonly id: number;
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly ad: boolean;
  readonly cd: boolean;
  /** The full response code; values above 15 need `edns` (their upper bits travel in OPT). */
  readonly rcode: number;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authorities: readonly ResourceRecord[];
  /** Without the OPT record, which is `edns`. */
  readonly additionals: readonly ResourceRecord[];
  readonly edns: Edns | undefined;
};

/** A message that cannot be read: what a server answers with FORMERR. */
export class DnsFormatError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('DnsFormat', message, data);
  }
}

/** A message that cannot be written as asked (a name too long, a value out of range). */
export class DnsEncodeError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('DnsEncode', message, data);
  }
}

const typeCodes: Readonly<Record<Exclude<RecordData['type'], 'raw'>, number>> = {
  A: RRType.A,
  AAAA: RRType.AAAA,
  CNAME: RRType.CNAME,
  PTR: RRType.PTR,
  NS: RRType.NS,
  SRV: RRType.SRV,
  SOA: RRType.SOA,
  TXT: RRType.TXT,
};

export function recordType(data: RecordData): number {
  return data.type === 'raw' ? data.rrtype : typeCodes[data.type];
}

// ---- names ----------------------------------------------------------------------------------

/** Splits a presentation-form name into label bytes, resolving escapes. */
export function nameToLabels(name: string): Buffer[] {
  if (name === '' || name === '.') return [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  const labels: Buffer[] = [];
  let current: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      const digits = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(digits) && Number(digits) <= 255) {
        current.push(Number(digits));
        i += 3;
      } else if (i + 1 < text.length) {
        current.push(text.charCodeAt(i + 1) & 0xff);
        i += 1;
      } else {
        throw new DnsEncodeError(`name ${JSON.stringify(name)} ends in a lone backslash`);
      }
    } else if (c === 0x2e /* . */) {
      labels.push(Buffer.from(current));
      current = [];
    } else {
      if (c > 0x7e) throw new DnsEncodeError(`name ${JSON.stringify(name)} has a non-ASCII character`);
      current.push(c);
    }
  }
  labels.push(Buffer.from(current));
  let wire = 1;
  for (const label of labels) {
    if (label.length === 0) throw new DnsEncodeError(`name ${JSON.stringify(name)} has an empty label`);
    if (label.length > maxLabelBytes) throw new DnsEncodeError(`label of ${label.length} bytes in ${name}`);
    wire += label.length + 1;
  }
  if (wire > maxNameBytes) throw new DnsEncodeError(`name of ${wire} bytes: ${name}`);
  return labels;
}

function labelText(label: Buffer): string {
  let out = '';
  for (const b of label) {
    if (b === 0x2e || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b > 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${String(b).padStart(3, '0')}`;
  }
  return out;
}

// ---- reading ---------------------------------------------------------------------------------

class Reader {
  readonly buf: Buffer;
  offset = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  need(n: number, what: string): void {
    if (this.offset + n > this.buf.length) {
      throw new DnsFormatError(
        `message ends inside ${what} (offset ${this.offset}, ${this.buf.length} bytes)`,
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf.readUInt8(this.offset++);
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A possibly compressed name; pointers may only point backwards (no loops by construction). */
  name(): string {
    const labels: string[] = [];
    let pos = this.offset;
    let jumped = false;
    let hops = 0;
    let wire = 1;
    for (;;) {
      if (pos >= this.buf.length) throw new DnsFormatError(`name runs past the end (offset ${pos})`);
      const len = this.buf.readUInt8(pos);
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new DnsFormatError('compression pointer cut short');
        const target = ((len & 0x3f) << 8) | this.buf.readUInt8(pos + 1);
        if (target >= pos)
          throw new DnsFormatError(`compression pointer forward or to itself (${pos} -> ${target})`);
        if (++hops > maxPointerHops) throw new DnsFormatError('too many compression pointers');
        if (!jumped) this.offset = pos + 2;
        jumped = true;
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new DnsFormatError(`unknown label type 0x${len.toString(16)}`);
      if (len === 0) {
        if (!jumped) this.offset = pos + 1;
        return labels.join('.');
      }
      wire += len + 1;
      if (wire > maxNameBytes) throw new DnsFormatError('name longer than 255 bytes');
      if (pos + 1 + len > this.buf.length) throw new DnsFormatError('label runs past the end');
      labels.push(labelText(this.buf.subarray(pos + 1, pos + 1 + len)));
      pos += 1 + len;
    }
  }
}

function readQuestion(r: Reader): Question {
  const name = r.name();
  return { name, type: r.u16('question type'), class: r.u16('question class') };
}

function readData(r: Reader, rrtype: number, end: number): RecordData {
  switch (rrtype) {
    case RRType.A:
      if (end - r.offset !== 4) throw new DnsFormatError('A record data is not 4 bytes');
      return { type: 'A', address: [...r.bytes(4, 'A')].join('.') };
    case RRType.AAAA: {
      if (end - r.offset !== 16) throw new DnsFormatError('AAAA record data is not 16 bytes');
      const value = BigInt(`0x${r.bytes(16, 'AAAA').toString('hex')}`);
      return { type: 'AAAA', address: formatIP({ family: 'IPv6', value }) };
    }
    case RRType.CNAME:
      return { type: 'CNAME', target: r.name() };
    case RRType.PTR:
      return { type: 'PTR', target: r.name() };
    case RRType.NS:
      return { type: 'NS', target: r.name() };
    case RRType.SRV:
      return {
        type: 'SRV',
        priority: r.u16('SRV priority'),
        weight: r.u16('SRV weight'),
        port: r.u16('SRV port'),
        target: r.name(),
      };
    case RRType.SOA:
      return {
        type: 'SOA',
        mname: r.name(),
        rname: r.name(),
        serial: r.u32('SOA serial'),
        refresh: r.u32('SOA refresh'),
        retry: r.u32('SOA retry'),
        expire: r.u32('SOA expire'),
        minimum: r.u32('SOA minimum'),
      };
    case RRType.TXT: {
      const texts: string[] = [];
      while (r.offset < end) {
        const len = r.u8('TXT length');
        texts.push(r.bytes(len, 'TXT string').toString('latin1'));
      }
      return { type: 'TXT', texts };
    }
    default:
      return { type: 'raw', rrtype, data: Buffer.from(r.bytes(end - r.offset, 'record data')) };
  }
}

type RawRecord = {
  readonly record: ResourceRecord | undefined;
  readonly edns: Edns | undefined;
  ednsRcodeHigh: number;
};

function readRecord(r: Reader): RawRecord {
  const name = r.name();
  const rrtype = r.u16('record type');
  const klass = r.u16('record class');
  const ttl = r.u32('record TTL');
  const length = r.u16('record data length');
  r.need(length, 'record data');
  const end = r.offset + length;
  if (rrtype === RRType.OPT) {
    if (name !== '') throw new DnsFormatError('OPT record not owned by the root');
    const options = Buffer.from(r.bytes(length, 'OPT options'));
    return {
      record: undefined,
      edns: {
        udpPayloadBytes: Math.max(klass, classicUdpPayloadBytes),
        version: (ttl >>> 16) & 0xff,
        dnssecOk: (ttl & 0x8000) !== 0,
        options,
      },
      ednsRcodeHigh: ttl >>> 24,
    };
  }
  const data = readData(r, rrtype, end);
  if (r.offset !== end) throw new DnsFormatError(`record data length ${length} does not match its content`);
  return { record: { name, class: klass, ttl, data }, edns: undefined, ednsRcodeHigh: 0 };
}

/** Reads a whole message; throws DnsFormatError on anything malformed or trailing. */
export function decodeMessage(buf: Buffer): DnsMessage {
  const r = new Reader(buf);
  const id = r.u16('header');
  const flags = r.u16('header');
  const counts = [r.u16('header'), r.u16('header'), r.u16('header'), r.u16('header')] as const;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) questions.push(readQuestion(r));
  const sections: ResourceRecord[][] = [[], [], []];
  let edns: Edns | undefined;
  let rcodeHigh = 0;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const raw = readRecord(r);
      if (raw.edns !== undefined) {
        if (s !== 2 || edns !== undefined) throw new DnsFormatError('OPT record misplaced or repeated');
        edns = raw.edns;
        rcodeHigh = raw.ednsRcodeHigh;
      } else if (raw.record !== undefined) {
        sections[s]!.push(raw.record);
      }
    }
  }
  if (r.offset !== buf.length) throw new DnsFormatError(`${buf.length - r.offset} bytes after the message`);
  return {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: (rcodeHigh << 4) | (flags & 0xf),
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
    edns,
  };
}

/**
 * Offsets of the TTL field of every answer, authority and additional record except
 * OPT (whose TTL field holds flags): a cache ages a stored response by rewriting them.
 */
export function recordTtlOffsets(buf: Buffer): readonly number[] {
  const r = new Reader(buf);
  r.offset = 4;
  const qd = r.u16('header');
  const rrs = r.u16('header') + r.u16('header') + r.u16('header');
  for (let i = 0; i < qd; i++) readQuestion(r);
  const offsets: number[] = [];
  for (let i = 0; i < rrs; i++) {
    r.name();
    const rrtype = r.u16('record type');
    r.u16('record class');
    if (rrtype !== RRType.OPT) offsets.push(r.offset);
    r.u32('record TTL');
    r.bytes(r.u16('record data length'), 'record data');
  }
  return offsets;
}

// ---- writing ---------------------------------------------------------------------------------

class Writer {
  private buf = Buffer.alloc(512);
  length = 0;
  /** Offsets of names already written, by their presentation text (exact case). */
  private readonly names = new Map<string, number>();

  private ensure(n: number): void {
    if (this.length + n > maxMessageBytes)
      throw new DnsEncodeError(`message longer than ${maxMessageBytes} bytes`);
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.min(maxMessageBytes, Math.max(this.buf.length * 2, this.length + n)));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.length);
    this.length += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.length);
    this.length += 4;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }

  patchU16(offset: number, v: number): void {
    this.buf.writeUInt16BE(v, offset);
  }

  /** Writes a name, pointing at an earlier copy of its longest known suffix (RFC 1035 §4.1.4). */
  name(name: string, compress: boolean): void {
    const labels = nameToLabels(name);
    // Each suffix's text, built once from the right: `c`, `b.c`, `a.b.c`.
    const suffixes: string[] = new Array(labels.length);
    if (compress) {
      for (let i = labels.length - 1; i >= 0; i--) {
        const text = labelText(labels[i]!);
        suffixes[i] = i === labels.length - 1 ? text : `${text}.${suffixes[i + 1]}`;
      }
    }
    for (let i = 0; i < labels.length; i++) {
      const suffix = suffixes[i]!;
      const earlier = compress ? this.names.get(suffix) : undefined;
      if (earlier !== undefined) {
        this.u16(0xc000 | earlier);
        return;
      }
      if (compress && this.length < 0x4000) this.names.set(suffix, this.length);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }

  result(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

function u16In(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw new DnsEncodeError(`${what} ${v} is not a 16-bit value`);
  return v;
}

function writeData(w: Writer, data: RecordData): void {
  switch (data.type) {
    case 'A': {
      const octets = data.address.split('.');
      if (octets.length !== 4 || !octets.every((o) => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) < 256)) {
        throw new DnsEncodeError(`A record address ${data.address}`);
      }
      for (const o of octets) w.u8(Number(o));
      return;
    }
    case 'AAAA': {
      const ip = parseIP(data.address);
      if (ip?.family !== 'IPv6') throw new DnsEncodeError(`AAAA record address ${data.address}`);
      w.bytes(Buffer.from(ip.value.toString(16).padStart(32, '0'), 'hex'));
      return;
    }
    case 'CNAME':
    case 'PTR':
    case 'NS':
      w.name(data.target, true);
      return;
    case 'SRV':
      w.u16(u16In(data.priority, 'SRV priority'));
      w.u16(u16In(data.weight, 'SRV weight'));
      w.u16(u16In(data.port, 'SRV port'));
      // RFC 2782: the target is not compressed.
      w.name(data.target, false);
      return;
    case 'SOA':
      w.name(data.mname, true);
      w.name(data.rname, true);
      for (const v of [data.serial, data.refresh, data.retry, data.expire, data.minimum]) w.u32(v);
      return;
    case 'TXT':
      for (const text of data.texts) {
        const bytes = Buffer.from(text, 'latin1');
        if (bytes.length > 255) throw new DnsEncodeError('TXT string longer than 255 bytes');
        w.u8(bytes.length);
        w.bytes(bytes);
      }
      return;
    case 'raw':
      w.bytes(data.data);
      return;
    default: {
      const never: never = data;
      throw new DnsEncodeError(`unknown record data ${JSON.stringify(never)}`);
    }
  }
}

function writeRecord(w: Writer, rr: ResourceRecord): void {
  w.name(rr.name, true);
  w.u16(recordType(rr.data));
  w.u16(rr.class);
  w.u32(rr.ttl);
  const lengthAt = w.length;
  w.u16(0);
  writeData(w, rr.data);
  w.patchU16(lengthAt, w.length - lengthAt - 2);
}

/** Writes a message. Throws DnsEncodeError when it cannot be written (e.g. beyond 65,535 bytes). */
export function encodeMessage(msg: DnsMessage): Buffer {
  if (msg.rcode > 15 && msg.edns === undefined) throw new DnsEncodeError(`rcode ${msg.rcode} needs EDNS`);
  const w = new Writer();
  w.u16(u16In(msg.id, 'id'));
  const flags =
    (msg.qr ? 0x8000 : 0) |
    ((msg.opcode & 0xf) << 11) |
    (msg.aa ? 0x0400 : 0) |
    (msg.tc ? 0x0200 : 0) |
    (msg.rd ? 0x0100 : 0) |
    (msg.ra ? 0x0080 : 0) |
    (msg.ad ? 0x0020 : 0) |
    (msg.cd ? 0x0010 : 0) |
    (msg.rcode & 0xf);
  w.u16(flags);
  w.u16(msg.questions.length);
  w.u16(msg.answers.length);
  w.u16(msg.authorities.length);
  w.u16(msg.additionals.length + (msg.edns === undefined ? 0 : 1));
  for (const q of msg.questions) {
    w.name(q.name, true);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rr of msg.answers) writeRecord(w, rr);
  for (const rr of msg.authorities) writeRecord(w, rr);
  for (const rr of msg.additionals) writeRecord(w, rr);
  if (msg.edns !== undefined) {
    w.u8(0);
    w.u16(RRType.OPT);
    w.u16(msg.edns.udpPayloadBytes);
    w.u32(((msg.rcode >>> 4) << 24) | ((msg.edns.version & 0xff) << 16) | (msg.edns.dnssecOk ? 0x8000 : 0));
    w.u16(msg.edns.options.length);
    w.bytes(msg.edns.options);
  }
  return w.result();
}

/**
 * Writes a response that must fit in `maxBytes` (a UDP client's limit). When the whole
 * message does not fit, the records are dropped and TC is set, telling the client to ask
 * again over TCP (RFC 1035 §4.2.1, RFC 2181 §9).
 */
export function encodeWithin(msg: DnsMessage, maxBytes: number): Buffer {
  const full = encodeMessage(msg);
  if (full.length <= maxBytes) return full;
  return encodeMessage({ ...msg, tc: true, answers: [], authorities: [], additionals: [] });
}

/** A question's name in the form used for lookups: lower case, no final dot. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') && !lower.endsWith('\\.') ? lower.slice(0, -1) : lower;
}
