import { assertNever, FlotillaError } from '@flotilla/actor';
import type { ConfState, Entry, EntryType, HardState, SnapshotMeta } from '../core/types.ts';

/**
 * Binary payloads of WAL records and of the snapshot file's metadata block. Integers are
 * unsigned little-endian; u64 values hold JavaScript safe integers (below 2^53). Strings are
 * UTF-8 with a u16 byte length.
 */

/** What a WAL record says; `type` numbers are the on-disk record types. */
export type WalRecord =
  /** First record of every segment: where the log stood when the segment was created. */
  | {
      readonly kind: 'segment';
      readonly seq: number;
      readonly prevIndex: number;
      readonly prevTerm: number;
      /** Records in the segment's head, this one included (header, hard state, snapshot marker). */
      readonly headRecords: number;
    }
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  /**
   * A snapshot marker. `retainLog` records the decision taken when it was written (with the
   * whole log at hand): keep the entries after it, or discard the whole log (Raft §7).
   */
  | { readonly kind: 'snapshot'; readonly meta: SnapshotMeta; readonly retainLog: boolean };

export const RECORD_TYPE = { segment: 1, entry: 2, hardState: 3, snapshot: 4 } as const;

export const SEGMENT_MAGIC = 0x4c415746; // "FWAL" read as u32 LE
export const SEGMENT_FORMAT_VERSION = 1;
/** Strings (node ids) are stored with a u16 length. */
export const MAX_STRING_BYTES = 0xfffe;
const NULL_STRING = 0xffff;
const MAX_LIST_LENGTH = 0xffff;

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'conf'];

/** A payload that passed its checksum but does not decode: written by something else. */
export class MalformedPayloadError extends FlotillaError {
  constructor(message: string) {
    super('MalformedPayload', message);
  }
}

export function recordType(record: WalRecord): number {
  return RECORD_TYPE[record.kind];
}

export function stringBytes(s: string): number {
  return 2 + Buffer.byteLength(s, 'utf8');
}

function optionalStringBytes(s: string | null): number {
  return s === null ? 2 : stringBytes(s);
}

export function confBytes(conf: ConfState): number {
  let n = 4;
  for (const id of conf.voters) n += stringBytes(id);
  for (const id of conf.learners) n += stringBytes(id);
  return n;
}

export function metaBytes(meta: SnapshotMeta): number {
  return 16 + confBytes(meta.conf);
}

export function payloadBytes(record: WalRecord): number {
  switch (record.kind) {
    case 'segment':
      return 4 + 1 + 8 + 8 + 8 + 1;
    case 'entry':
      return ENTRY_FIXED_BYTES + record.entry.data.length;
    case 'hardState':
      return 8 + 8 + optionalStringBytes(record.hardState.vote);
    case 'snapshot':
      return metaBytes(record.meta) + 1;
    default:
      return assertNever(record, 'WAL record');
  }
}

export function writeU64(buf: Buffer, at: number, n: number): number {
  buf.writeUInt32LE(n % 0x1_0000_0000, at);
  buf.writeUInt32LE(Math.floor(n / 0x1_0000_0000), at + 4);
  return at + 8;
}

function writeString(buf: Buffer, at: number, s: string | null): number {
  if (s === null) {
    buf.writeUInt16LE(NULL_STRING, at);
    return at + 2;
  }
  const written = buf.write(s, at + 2, 'utf8');
  buf.writeUInt16LE(written, at);
  return at + 2 + written;
}

function writeList(buf: Buffer, at: number, ids: readonly string[]): number {
  let pos = buf.writeUInt16LE(ids.length, at);
  for (const id of ids) pos = writeString(buf, pos, id);
  return pos;
}

export function writeMeta(buf: Buffer, at: number, meta: SnapshotMeta): number {
  let pos = writeU64(buf, at, meta.index);
  pos = writeU64(buf, pos, meta.term);
  pos = writeList(buf, pos, meta.conf.voters);
  return writeList(buf, pos, meta.conf.learners);
}

/** Bytes of an entry record's payload besides its data: index, term, type. */
export const ENTRY_FIXED_BYTES = 17;

export function writeEntryPayload(buf: Buffer, at: number, e: Entry): number {
  let pos = writeU64(buf, at, e.index);
  pos = writeU64(buf, pos, e.term);
  pos = buf.writeUInt8(e.type === 'conf' ? 1 : 0, pos);
  buf.set(e.data, pos);
  return pos + e.data.length;
}

/** Write `record`'s payload at `at`; returns the offset after it. */
export function writePayload(buf: Buffer, at: number, record: WalRecord): number {
  switch (record.kind) {
    case 'segment': {
      let pos = buf.writeUInt32LE(SEGMENT_MAGIC, at);
      pos = buf.writeUInt8(SEGMENT_FORMAT_VERSION, pos);
      pos = writeU64(buf, pos, record.seq);
      pos = writeU64(buf, pos, record.prevIndex);
      pos = writeU64(buf, pos, record.prevTerm);
      return buf.writeUInt8(record.headRecords, pos);
    }
    case 'entry':
      return writeEntryPayload(buf, at, record.entry);
    case 'hardState': {
      const hs = record.hardState;
      let pos = writeU64(buf, at, hs.term);
      pos = writeU64(buf, pos, hs.commit);
      return writeString(buf, pos, hs.vote);
    }
    case 'snapshot': {
      const pos = writeMeta(buf, at, record.meta);
      return buf.writeUInt8(record.retainLog ? 1 : 0, pos);
    }
    default:
      return assertNever(record, 'WAL record');
  }
}

/** A read position in a buffer; every read checks it stays below `end`. */
export type Cursor = { readonly buf: Buffer; pos: number; readonly end: number };

function need(c: Cursor, bytes: number, what: string): void {
  if (c.pos + bytes > c.end) {
    throw new MalformedPayloadError(`${what} runs past the end of the payload`);
  }
}

export function readU8(c: Cursor, what: string): number {
  need(c, 1, what);
  return c.buf.readUInt8(c.pos++);
}

export function readU64(c: Cursor, what: string): number {
  need(c, 8, what);
  const lo = c.buf.readUInt32LE(c.pos);
  const hi = c.buf.readUInt32LE(c.pos + 4);
  c.pos += 8;
  if (hi > 0x1f_ffff) throw new MalformedPayloadError(`${what} is beyond 2^53`);
  return hi * 0x1_0000_0000 + lo;
}

function readString(c: Cursor, what: string): string | null {
  need(c, 2, what);
  const length = c.buf.readUInt16LE(c.pos);
  c.pos += 2;
  if (length === NULL_STRING) return null;
  need(c, length, what);
  const s = c.buf.toString('utf8', c.pos, c.pos + length);
  c.pos += length;
  return s;
}

function readList(c: Cursor, what: string): string[] {
  need(c, 2, what);
  const count = c.buf.readUInt16LE(c.pos);
  c.pos += 2;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = readString(c, what);
    if (id === null) throw new MalformedPayloadError(`${what} holds a null id`);
    ids.push(id);
  }
  return ids;
}

export function readMeta(c: Cursor): SnapshotMeta {
  const index = readU64(c, 'snapshot index');
  const term = readU64(c, 'snapshot term');
  const voters = readList(c, 'voters');
  const learners = readList(c, 'learners');
  return { index, term, conf: { voters, learners } };
}

function expectEnd(c: Cursor, what: string): void {
  if (c.pos !== c.end) throw new MalformedPayloadError(`${c.end - c.pos} stray bytes after ${what}`);
}

/** Decode the payload `buf[start, end)` of a record of `type`; throws `MalformedPayloadError`. */
export function decodePayload(type: number, buf: Buffer, start: number, end: number): WalRecord {
  const c: Cursor = { buf, pos: start, end };
  switch (type) {
    case RECORD_TYPE.segment: {
      need(c, 5, 'segment header');
      if (buf.readUInt32LE(start) !== SEGMENT_MAGIC)
        throw new MalformedPayloadError('not a WAL segment header');
      const version = buf.readUInt8(start + 4);
      if (version !== SEGMENT_FORMAT_VERSION) {
        throw new MalformedPayloadError(
          `segment format version ${version}, this build reads ${SEGMENT_FORMAT_VERSION}`,
        );
      }
      c.pos += 5;
      const seq = readU64(c, 'segment seq');
      const prevIndex = readU64(c, 'segment prevIndex');
      const prevTerm = readU64(c, 'segment prevTerm');
      const headRecords = readU8(c, 'segment head size');
      expectEnd(c, 'segment header');
      return { kind: 'segment', seq, prevIndex, prevTerm, headRecords };
    }
    case RECORD_TYPE.entry: {
      const index = readU64(c, 'entry index');
      const term = readU64(c, 'entry term');
      const entryType = ENTRY_TYPES[readU8(c, 'entry type')];
      if (entryType === undefined) throw new MalformedPayloadError('unknown entry type');
      // A copy, so that a recovered entry does not keep the whole segment buffer alive.
      const data = new Uint8Array(buf.subarray(c.pos, end));
      return { kind: 'entry', entry: { index, term, type: entryType, data } };
    }
    case RECORD_TYPE.hardState: {
      const term = readU64(c, 'hard state term');
      const commit = readU64(c, 'hard state commit');
      const vote = readString(c, 'vote');
      expectEnd(c, 'hard state');
      return { kind: 'hardState', hardState: { term, vote, commit } };
    }
    case RECORD_TYPE.snapshot: {
      const meta = readMeta(c);
      const flags = readU8(c, 'snapshot flags');
      if (flags > 1) throw new MalformedPayloadError(`unknown snapshot flags ${flags}`);
      expectEnd(c, 'snapshot marker');
      return { kind: 'snapshot', meta, retainLog: flags === 1 };
    }
    default:
      throw new MalformedPayloadError(`unknown record type ${type}`);
  }
}

/** Why `meta` cannot be stored, or null. */
export function checkMeta(meta: SnapshotMeta): string | null {
  if (!isIndex(meta.index) || !isIndex(meta.term))
    return 'snapshot index and term must be safe integers >= 0';
  for (const list of [meta.conf.voters, meta.conf.learners]) {
    if (list.length > MAX_LIST_LENGTH) return `a conf list holds more than ${MAX_LIST_LENGTH} ids`;
    for (const id of list) {
      if (typeof id !== 'string' || Buffer.byteLength(id, 'utf8') > MAX_STRING_BYTES) {
        return `node id ${JSON.stringify(id)} is not a string of at most ${MAX_STRING_BYTES} bytes`;
      }
    }
  }
  return null;
}

export function isIndex(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export function sameMeta(a: SnapshotMeta, b: SnapshotMeta): boolean {
  const sameList = (x: readonly string[], y: readonly string[]) =>
    x.length === y.length && x.every((id, i) => id === y[i]);
  return (
    a.index === b.index &&
    a.term === b.term &&
    sameList(a.conf.voters, b.conf.voters) &&
    sameList(a.conf.learners, b.conf.learners)
  );
}
