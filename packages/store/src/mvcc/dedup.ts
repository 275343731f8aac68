import type { Backend } from './backend.ts';
import { uint64Key } from './keys.ts';
import { type DedupRecord, decodeDedupRecord, encodeDedupRecord } from './records.ts';

/**
 * The dedup table: a request id's first outcome, so a retried write returns it instead of
 * applying twice. Entries are evicted by applied index, never by time: the entry written at
 * index i goes when index i + window is applied, on every member alike, so every member
 * answers a retry the same way. A retry later than `window` entries applies again.
 */

export function lookupRequest(b: Backend, requestId: string): DedupRecord | undefined {
  const bytes = b.dedup.getBinary(requestId);
  return bytes === undefined ? undefined : decodeDedupRecord(bytes);
}

export function rememberRequest(b: Backend, requestId: string, record: DedupRecord): void {
  b.dedup.putSync(requestId, encodeDedupRecord(record));
  b.dedupByIndex.putSync(uint64Key(record.appliedIndex), Buffer.from(requestId, 'utf8'));
}

/**
 * The applied index moves from `fromIndex` to `toIndex`: forget the requests applied at
 * indexes (fromIndex - window, toIndex - window]. At most one request is remembered per
 * index, so the table never holds more than `windowEntries` of them. The usual step of one
 * index is one exact lookup; a jump (no-ops the driver skipped) scans the expired span.
 */
export function evictRequests(b: Backend, fromIndex: number, toIndex: number, windowEntries: number): void {
  const last = toIndex - windowEntries;
  if (last < 1) return;
  const first = Math.max(1, fromIndex - windowEntries + 1);
  if (first === last) {
    const key = uint64Key(last);
    const requestId = b.dedupByIndex.getBinary(key);
    if (requestId === undefined) return;
    b.dedup.removeSync(requestId.toString('utf8'));
    b.dedupByIndex.removeSync(key);
    return;
  }
  const expired = [...b.dedupByIndex.getRange({ start: uint64Key(first), end: uint64Key(last + 1) })];
  for (const { key, value } of expired) {
    b.dedup.removeSync(value.toString('utf8'));
    b.dedupByIndex.removeSync(key as Uint8Array);
  }
}
