import type { Backend } from './backend.ts';
import { uint64Key } from './keys.ts';
import { type DedupRecord, decodeDedupRecord, encodeDedupRecord } from './records.ts';

/**
 * The dedup table: a request id's first outcome, so a retried write returns it instead of
 * applying twice. Entries are evicted by applied index, never by time: the entry written at
 * index i goes when index i + window is applied, on every member alike, so every member
 * answers a retry the same way. A retry later than `window` entries applies again.
 */

// At most one entry is written per applied index, so evicting one per index keeps up;
// the bound only caps the work of one entry if the table ever holds a backlog.
const maxEvictionsPerEntry = 16;

export function lookupRequest(b: Backend, requestId: string): DedupRecord | undefined {
  const bytes = b.dedup.getBinary(requestId);
  return bytes === undefined ? undefined : decodeDedupRecord(bytes);
}

export function rememberRequest(b: Backend, requestId: string, record: DedupRecord): void {
  b.dedup.putSync(requestId, encodeDedupRecord(record));
  b.dedupByIndex.putSync(uint64Key(record.appliedIndex), Buffer.from(requestId, 'utf8'));
}

/** Forget the requests applied at or below `appliedIndex - windowEntries`. */
export function evictRequests(b: Backend, appliedIndex: number, windowEntries: number): void {
  const through = appliedIndex - windowEntries;
  if (through < 1) return;
  const expired = b.dedupByIndex.getRange({ end: uint64Key(through + 1), limit: maxEvictionsPerEntry });
  for (const { key, value } of [...expired]) {
    b.dedup.removeSync(value.toString('utf8'));
    b.dedupByIndex.removeSync(key as Uint8Array);
  }
}
