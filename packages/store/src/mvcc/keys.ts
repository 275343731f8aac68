import { assertNever } from '@flotilla/actor';
import type { Bytes, RevisionPointer } from './types.ts';

/**
 * Byte layouts of the backend's keys. LMDB compares keys with memcmp, so every layout here
 * is chosen to sort the way the store iterates: revisions numerically, user keys
 * byte-wise as etcd orders them.
 */

/** Main revision (8 bytes, big-endian) then sub revision (4 bytes): etcd's revision {main, sub}. */
export const revisionKeyBytes = 12;
const twoTo32 = 2 ** 32;

export function writeRevision(target: Buffer, offset: number, main: number, sub: number): void {
  target.writeUInt32BE(Math.floor(main / twoTo32), offset);
  target.writeUInt32BE(main >>> 0, offset + 4);
  target.writeUInt32BE(sub, offset + 8);
}

export function revisionKey(main: number, sub: number): Buffer {
  const key = Buffer.allocUnsafe(revisionKeyBytes);
  writeRevision(key, 0, main, sub);
  return key;
}

function asBuffer(source: Uint8Array): Buffer {
  return Buffer.isBuffer(source) ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
}

export function readRevision(source: Uint8Array, offset: number): RevisionPointer {
  const view = asBuffer(source);
  return {
    main: view.readUInt32BE(offset) * twoTo32 + view.readUInt32BE(offset + 4),
    sub: view.readUInt32BE(offset + 8),
  };
}

/** 8-byte big-endian id: lease ids and applied indexes, numerically ordered. */
export function uint64Key(n: number): Buffer {
  const key = Buffer.allocUnsafe(8);
  key.writeUInt32BE(Math.floor(n / twoTo32), 0);
  key.writeUInt32BE(n >>> 0, 4);
  return key;
}

export function readUint64(source: Uint8Array, offset: number): number {
  const view = asBuffer(source);
  return view.readUInt32BE(offset) * twoTo32 + view.readUInt32BE(offset + 4);
}

/**
 * A user key made safe to follow with more bytes without breaking its order: 0x00 becomes
 * 0x00 0xFF and the key ends with 0x00 0x00. Because escaped data never holds 0x00 0x00,
 * (key, suffix) pairs sort by key first, then by suffix, and a key sorts before every
 * longer key it prefixes.
 */
export function escapedKey(key: Bytes, extraBytes = 0): { readonly bytes: Buffer; readonly end: number } {
  let zeros = 0;
  for (let i = 0; i < key.length; i++) if (key[i] === 0) zeros++;
  const end = key.length + zeros + 2;
  const out = Buffer.allocUnsafe(end + extraBytes);
  if (zeros === 0) {
    out.set(key, 0);
  } else {
    let j = 0;
    for (let i = 0; i < key.length; i++) {
      const b = key[i]!;
      out[j++] = b;
      if (b === 0) out[j++] = 0xff;
    }
  }
  out[end - 2] = 0;
  out[end - 1] = 0;
  return { bytes: out, end };
}

/** Key of the history index: escaped user key, then the revision of one of its versions. */
export function keyRevisionKey(key: Bytes, main: number, sub: number): Buffer {
  const { bytes, end } = escapedKey(key, revisionKeyBytes);
  writeRevision(bytes, end, main, sub);
  return bytes;
}

/** The lower bound of a user key's entries in the history index. */
export function keyRevisionStart(key: Bytes): Buffer {
  return escapedKey(key).bytes;
}

/** The escaped part of a history index key (everything before the revision). */
export function escapedPart(indexKey: Uint8Array): Uint8Array {
  return indexKey.subarray(0, indexKey.length - revisionKeyBytes);
}

export function unescapeKey(escaped: Uint8Array): Buffer {
  const body = escaped.subarray(0, escaped.length - 2);
  const out = Buffer.allocUnsafe(body.length);
  let j = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    out[j++] = b;
    if (b === 0) i++; // skip the 0xFF that follows an escaped 0x00
  }
  return out.subarray(0, j);
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** etcd's "from this key on": a range end of a single 0x00 byte. */
export const rangeEndAll: Bytes = Uint8Array.of(0);

export function isRangeEndAll(rangeEnd: Bytes | undefined): boolean {
  return rangeEnd !== undefined && rangeEnd.length === 1 && rangeEnd[0] === 0;
}

/**
 * The range end that makes [prefix, end) cover every key starting with `prefix`
 * (etcd's GetPrefixRangeEnd): the prefix with its last byte below 0xFF incremented.
 * A prefix of only 0xFF bytes (or an empty one) has no such end: every key from it on.
 */
export function prefixEnd(prefix: Bytes): Bytes {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]! += 1;
      return end;
    }
  }
  return rangeEndAll;
}

/**
 * The keys an etcd (key, rangeEnd) pair names: no range end is the single key; [0] is
 * every key from `key` on; otherwise [key, rangeEnd), empty when rangeEnd <= key.
 */
export type KeyRange =
  | { readonly kind: 'single'; readonly key: Bytes }
  | { readonly kind: 'span'; readonly start: Bytes; readonly end: Bytes | undefined };

export function keyRange(key: Bytes, rangeEnd: Bytes | undefined): KeyRange {
  if (rangeEnd === undefined || rangeEnd.length === 0) return { kind: 'single', key };
  return { kind: 'span', start: key, end: isRangeEndAll(rangeEnd) ? undefined : rangeEnd };
}

export function inKeyRange(key: Bytes, range: KeyRange): boolean {
  switch (range.kind) {
    case 'single':
      return bytesEqual(key, range.key);
    case 'span':
      return (
        compareBytes(key, range.start) >= 0 && (range.end === undefined || compareBytes(key, range.end) < 0)
      );
    default:
      return assertNever(range, 'key range');
  }
}

/** Latin-1 maps bytes to chars one to one: a cheap exact Map key for a byte string. */
export function mapKey(key: Bytes): string {
  return asBuffer(key).toString('latin1');
}
