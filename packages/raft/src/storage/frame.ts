import { crc32c } from './crc32c.ts';

/**
 * Record framing shared by every WAL segment:
 *
 *   0  u32 LE  CRC-32C of bytes 4..16 (the rest of this header)
 *   4  u32 LE  payload length
 *   8  u8      record type (never 0)
 *   9  u8[3]   zero
 *   12 u32 LE  CRC-32C of the payload
 *   16 payload
 *
 * The header has its own checksum so that a damaged length is recognised as damage instead
 * of being trusted (a trusted bad length would make a record in the middle look like a torn
 * tail). Zero-filled space never parses: type 0 is invalid.
 */
export const FRAME_HEADER_BYTES = 16;
/** The largest payload the u32 length field can describe. */
export const MAX_FRAME_PAYLOAD_BYTES = 0xffff_ffff;

export type FrameRead =
  | { readonly kind: 'frame'; readonly type: number; readonly payloadStart: number; readonly end: number }
  /** `end` is where the frame would end when its header verified, else null. */
  | { readonly kind: 'bad'; readonly reason: string; readonly end: number | null }
  | { readonly kind: 'end' };

/**
 * Write the header of a frame whose payload is already in `buf` at `start + 16`. Returns
 * the offset after the frame.
 */
export function sealFrame(buf: Buffer, start: number, type: number, payloadBytes: number): number {
  const payloadStart = start + FRAME_HEADER_BYTES;
  const end = payloadStart + payloadBytes;
  buf.writeUInt32LE(payloadBytes, start + 4);
  buf.writeUInt8(type, start + 8);
  buf.writeUInt8(0, start + 9);
  buf.writeUInt16LE(0, start + 10);
  buf.writeUInt32LE(crc32c(buf, payloadStart, end), start + 12);
  buf.writeUInt32LE(crc32c(buf, start + 4, payloadStart), start);
  return end;
}

/** Read the frame at `offset`; never throws. */
export function readFrame(buf: Buffer, offset: number): FrameRead {
  if (offset === buf.length) return { kind: 'end' };
  if (buf.length - offset < FRAME_HEADER_BYTES) {
    return { kind: 'bad', reason: `incomplete header (${buf.length - offset} bytes left)`, end: null };
  }
  const headerCrc = buf.readUInt32LE(offset);
  if (crc32c(buf, offset + 4, offset + FRAME_HEADER_BYTES) !== headerCrc) {
    return { kind: 'bad', reason: 'header checksum mismatch', end: null };
  }
  const length = buf.readUInt32LE(offset + 4);
  const type = buf.readUInt8(offset + 8);
  const payloadStart = offset + FRAME_HEADER_BYTES;
  const end = payloadStart + length;
  if (type === 0 || buf.readUInt8(offset + 9) !== 0 || buf.readUInt16LE(offset + 10) !== 0) {
    return { kind: 'bad', reason: 'malformed header', end: null };
  }
  if (end > buf.length) {
    return {
      kind: 'bad',
      reason: `incomplete record (${buf.length - payloadStart} of ${length} payload bytes)`,
      end,
    };
  }
  if (crc32c(buf, payloadStart, end) !== buf.readUInt32LE(offset + 12)) {
    return { kind: 'bad', reason: 'payload checksum mismatch', end };
  }
  return { kind: 'frame', type, payloadStart, end };
}

/**
 * The offset of the first frame at or after `from` whose header and payload both verify, or
 * -1. Used to tell a torn tail (nothing valid after the damage) from damage in the middle.
 * Looks at every byte offset; the cheap header checks reject almost all of them before any
 * checksum is computed.
 */
export function findValidFrame(buf: Buffer, from: number): number {
  for (let at = from; at + FRAME_HEADER_BYTES <= buf.length; at++) {
    if (buf[at + 8] === 0 || buf[at + 9] !== 0 || buf[at + 10] !== 0 || buf[at + 11] !== 0) continue;
    if (buf.readUInt32LE(at + 4) > buf.length - at - FRAME_HEADER_BYTES) continue;
    if (readFrame(buf, at).kind === 'frame') return at;
  }
  return -1;
}
