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
 * Forget the request applied at index `appliedIndex - windowEntries`, if any. Every index
 * is applied exactly once and at most one request is remembered per index, so evicting
 * that one index per applied entry keeps the table at `windowEntries` entries at most.
 */
export function evictRequests(b: Backend, appliedIndex: number, windowEntries: number): void {
  const expired = appliedIndex - windowEntries;
  if (expired < 1) return;
  const key = uint64Key(expired);
  const requestId = b.dedupByIndex.getBinary(key);
  if (requestId === undefined) return;
  b.dedup.removeSync(requestId.toString('utf8'));
  b.dedupByIndex.removeSync(key);
}
