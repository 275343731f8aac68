import { assert } from '@flotilla/actor';
import type { Entry } from '../core/types.ts';
import {
  ENTRY_FIXED_BYTES,
  payloadBytes,
  RECORD_TYPE,
  recordType,
  type WalRecord,
  writeEntryPayload,
  writePayload,
} from './codec.ts';
import { FRAME_HEADER_BYTES, sealFrame } from './frame.ts';

/**
 * Records framed into one buffer: one allocation and one iovec per `append`, however many
 * entries it carries. Record i is `entries[i]`, then `others[i - entries.length]`.
 */
export type FramedBatch = {
  readonly buf: Buffer;
  /** Where each record ends in `buf`. */
  readonly ends: readonly number[];
  readonly entries: readonly Entry[];
  readonly others: readonly WalRecord[];
};

export function frameBatch(entries: readonly Entry[], others: readonly WalRecord[]): FramedBatch {
  let total = 0;
  for (let i = 0; i < entries.length; i++)
    total += FRAME_HEADER_BYTES + ENTRY_FIXED_BYTES + entries[i]!.data.length;
  const otherPayloads = others.map(payloadBytes);
  for (const bytes of otherPayloads) total += FRAME_HEADER_BYTES + bytes;
  const buf = Buffer.allocUnsafe(total);
  const ends: number[] = [];
  let pos = 0;
  for (let i = 0; i < entries.length; i++) {
    const end = writeEntryPayload(buf, pos + FRAME_HEADER_BYTES, entries[i]!);
    pos = sealFrame(buf, pos, RECORD_TYPE.entry, end - pos - FRAME_HEADER_BYTES);
    ends.push(pos);
  }
  for (const [i, record] of others.entries()) {
    const end = writePayload(buf, pos + FRAME_HEADER_BYTES, record);
    assert(
      end === pos + FRAME_HEADER_BYTES + otherPayloads[i]!,
      'a payload fills exactly the bytes it announced',
    );
    pos = sealFrame(buf, pos, recordType(record), otherPayloads[i]!);
    ends.push(pos);
  }
  assert(pos === total, 'a batch fills exactly the bytes it announced');
  return { buf, ends, entries, others };
}
