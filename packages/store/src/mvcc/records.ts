import { assert } from '@flotilla/actor';
import { Packr } from 'msgpackr';
import type { Bytes, KeyValue, RevisionPointer } from './types.ts';

/**
 * Values the backend stores, as compact msgpack arrays. These bytes are what snapshots
 * carry between members, so their layout only changes with `backendFormatVersion`.
 */
export const backendFormatVersion = 1;

// Records off: every value is self-describing, nothing depends on shared structure state.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

const emptyBytes: Bytes = new Uint8Array(0);

/** One version of a key in the history, stored under its revision {main, sub}. */
export type HistoryRecord = {
  readonly type: 'put' | 'delete';
  readonly key: Bytes;
  readonly value: Bytes;
  readonly createRevision: number;
  readonly version: number;
  readonly lease: number;
  /** The key's previous live version (for prevKv); main 0 when there was none. */
  readonly prevMain: number;
  readonly prevSub: number;
};

export function encodeHistoryRecord(r: HistoryRecord): Buffer {
  return packr.pack([
    r.type === 'put' ? 0 : 1,
    r.key,
    r.value,
    r.createRevision,
    r.version,
    r.lease,
    r.prevMain,
    r.prevSub,
  ]);
}

export function decodeHistoryRecord(bytes: Uint8Array): HistoryRecord {
  const a = packr.unpack(bytes) as unknown[];
  assert(Array.isArray(a) && a.length === 8, 'history record is an 8-element array');
  return {
    type: a[0] === 0 ? 'put' : 'delete',
    key: a[1] as Bytes,
    value: (a[2] as Bytes | null) ?? emptyBytes,
    createRevision: a[3] as number,
    version: a[4] as number,
    lease: a[5] as number,
    prevMain: a[6] as number,
    prevSub: a[7] as number,
  };
}

export function recordKeyValue(r: HistoryRecord, modRevision: number, withValue: boolean): KeyValue {
  return {
    key: r.key,
    value: withValue ? r.value : emptyBytes,
    createRevision: r.createRevision,
    modRevision,
    version: r.version,
    lease: r.lease,
  };
}

export function prevPointer(r: HistoryRecord): RevisionPointer | undefined {
  return r.prevMain === 0 ? undefined : { main: r.prevMain, sub: r.prevSub };
}

/** The current version of a live key: where its latest record is, and its metadata. */
export type KeyState = {
  readonly createRevision: number;
  readonly modRevision: number;
  readonly modSub: number;
  readonly version: number;
  readonly lease: number;
};

export function encodeKeyState(s: KeyState): Buffer {
  return packr.pack([s.createRevision, s.modRevision, s.modSub, s.version, s.lease]);
}

export function decodeKeyState(bytes: Uint8Array): KeyState {
  const a = packr.unpack(bytes) as number[];
  assert(Array.isArray(a) && a.length === 5, 'key state is a 5-element array');
  return { createRevision: a[0]!, modRevision: a[1]!, modSub: a[2]!, version: a[3]!, lease: a[4]! };
}

/** The replicated counters, written with every applied batch. */
export type MetaState = {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactedRevision: number;
};

export function encodeMetaState(m: MetaState): Buffer {
  return packr.pack([m.appliedIndex, m.revision, m.compactedRevision]);
}

export function decodeMetaState(bytes: Uint8Array): MetaState {
  const a = packr.unpack(bytes) as number[];
  assert(Array.isArray(a) && a.length === 3, 'meta state is a 3-element array');
  return { appliedIndex: a[0]!, revision: a[1]!, compactedRevision: a[2]! };
}

/**
 * Physical compaction's progress: history records up to `throughRevision` that no read at
 * or above the compacted revision needs are removed, in revision order, from `cursor` on.
 */
export type CompactionProgress = {
  readonly throughRevision: number;
  readonly cursorMain: number;
  readonly cursorSub: number;
};

export function encodeCompactionProgress(p: CompactionProgress): Buffer {
  return packr.pack([p.throughRevision, p.cursorMain, p.cursorSub]);
}

export function decodeCompactionProgress(bytes: Uint8Array): CompactionProgress {
  const a = packr.unpack(bytes) as number[];
  assert(Array.isArray(a) && a.length === 3, 'compaction progress is a 3-element array');
  return { throughRevision: a[0]!, cursorMain: a[1]!, cursorSub: a[2]! };
}

/** Fixed at creation: what every member must agree on to apply the same log the same way. */
export type FormatRecord = { readonly version: number; readonly dedupWindowEntries: number };

export function encodeFormat(f: FormatRecord): Buffer {
  return packr.pack([f.version, f.dedupWindowEntries]);
}

export function decodeFormat(bytes: Uint8Array): FormatRecord {
  const a = packr.unpack(bytes) as number[];
  assert(Array.isArray(a) && a.length === 2, 'format record is a 2-element array');
  return { version: a[0]!, dedupWindowEntries: a[1]! };
}

export type LeaseValue = { readonly ttlSeconds: number; readonly remainingTtlSeconds: number };

export function encodeLeaseValue(v: LeaseValue): Buffer {
  return packr.pack([v.ttlSeconds, v.remainingTtlSeconds]);
}

export function decodeLeaseValue(bytes: Uint8Array): LeaseValue {
  const a = packr.unpack(bytes) as number[];
  assert(Array.isArray(a) && a.length === 2, 'lease value is a 2-element array');
  return { ttlSeconds: a[0]!, remainingTtlSeconds: a[1]! };
}

/** A request id's first outcome; `result` is absent when it was too large to keep. */
export type DedupRecord = {
  readonly appliedIndex: number;
  readonly digest: number;
  readonly revision: number;
  readonly result: Bytes | undefined;
};

export function encodeDedupRecord(r: DedupRecord): Buffer {
  return packr.pack([r.appliedIndex, r.digest, r.revision, r.result ?? null]);
}

export function decodeDedupRecord(bytes: Uint8Array): DedupRecord {
  const a = packr.unpack(bytes) as unknown[];
  assert(Array.isArray(a) && a.length === 4, 'dedup record is a 4-element array');
  return {
    appliedIndex: a[0] as number,
    digest: a[1] as number,
    revision: a[2] as number,
    result: (a[3] as Bytes | null) ?? undefined,
  };
}
