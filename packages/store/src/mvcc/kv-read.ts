import { createHash } from 'node:crypto';
import { assert, assertNever } from '@flotilla/actor';
import type { Backend } from './backend.ts';
import { CompactedError, FutureRevisionError } from './errors.ts';
import {
  compareBytes,
  escapedPart,
  type KeyRange,
  keyRange,
  keyRevisionKey,
  keyRevisionStart,
  readRevision,
  revisionKey,
  revisionKeyBytes,
  unescapeKey,
} from './keys.ts';
import {
  decodeHistoryRecord,
  decodeKeyState,
  type HistoryRecord,
  type KeyState,
  prevPointer,
  recordKeyValue,
} from './records.ts';
import type { Bytes, KeyValue, KvEvent, RangeRequest, RevisionEvents, RevisionPointer } from './types.ts';

const emptyBytes: Bytes = new Uint8Array(0);

export function readKeyState(b: Backend, key: Bytes): KeyState | undefined {
  const bytes = b.keys.getBinary(key);
  return bytes === undefined ? undefined : decodeKeyState(bytes);
}

export function readRecord(b: Backend, main: number, sub: number): HistoryRecord {
  const bytes = b.history.getBinary(revisionKey(main, sub));
  assert(bytes !== undefined, `history holds revision ${main}.${sub}`);
  return decodeHistoryRecord(bytes);
}

/** The live version a pointer names (prevKv), with its value. */
export function kvAt(b: Backend, at: RevisionPointer): KeyValue {
  const r = readRecord(b, at.main, at.sub);
  assert(r.type === 'put', `revision ${at.main}.${at.sub} is a put`);
  return recordKeyValue(r, at.main, true);
}

/** The current version of a live key, with or without its value. */
export function currentKv(b: Backend, key: Bytes, s: KeyState, withValue: boolean): KeyValue {
  const value = withValue ? readRecord(b, s.modRevision, s.modSub).value : emptyBytes;
  return {
    key,
    value,
    createRevision: s.createRevision,
    modRevision: s.modRevision,
    version: s.version,
    lease: s.lease,
  };
}

function isEmptySpan(range: KeyRange): boolean {
  return range.kind === 'span' && range.end !== undefined && compareBytes(range.end, range.start) <= 0;
}

/** Live keys now, in key order (or reversed), with their current state. */
export function* liveKeysNow(
  b: Backend,
  range: KeyRange,
  reverse = false,
): Generator<{ readonly key: Bytes; readonly state: KeyState }> {
  switch (range.kind) {
    case 'single': {
      const state = readKeyState(b, range.key);
      if (state) yield { key: range.key, state };
      return;
    }
    case 'span': {
      if (isEmptySpan(range)) return;
      const entries = reverse
        ? b.keys.getRange({
            start: range.end,
            end: range.start,
            reverse,
            exclusiveStart: true,
            inclusiveEnd: true,
          })
        : b.keys.getRange({ start: range.start, end: range.end });
      for (const { key, value } of entries) yield { key: key as Bytes, state: decodeKeyState(value) };
      return;
    }
    default:
      assertNever(range, 'key range');
  }
}

function countNow(b: Backend, range: KeyRange): number {
  switch (range.kind) {
    case 'single':
      return b.keys.doesExist(range.key) ? 1 : 0;
    case 'span':
      return isEmptySpan(range) ? 0 : b.keys.getCount({ start: range.start, end: range.end });
    default:
      return assertNever(range, 'key range');
  }
}

/**
 * Keys live at a past `revision`, in key order, each with where its version at that
 * revision lives. Scans the history index: each key's entries are in revision order, so
 * the last one at or below `revision` is the key's version then (a delete: not live).
 */
export function* liveKeysAt(
  b: Backend,
  range: KeyRange,
  revision: number,
): Generator<{ readonly key: Bytes; readonly at: RevisionPointer }> {
  switch (range.kind) {
    case 'single': {
      const latest = b.index.getRange({
        start: keyRevisionKey(range.key, revision + 1, 0),
        end: keyRevisionStart(range.key),
        reverse: true,
        exclusiveStart: true,
        limit: 1,
      });
      for (const { key, value } of latest) {
        if (value[0] === 0) yield { key: range.key, at: readRevision(key, key.length - revisionKeyBytes) };
      }
      return;
    }
    case 'span': {
      if (isEmptySpan(range)) return;
      const entries = b.index.getRange({
        start: keyRevisionStart(range.start),
        end: range.end === undefined ? undefined : keyRevisionStart(range.end),
      });
      let group: Uint8Array | undefined;
      let candidate: { at: RevisionPointer; live: boolean } | undefined;
      for (const { key, value } of entries) {
        const k = key as Uint8Array;
        const escaped = escapedPart(k);
        if (group === undefined || compareBytes(escaped, group) !== 0) {
          if (group !== undefined && candidate?.live) yield { key: unescapeKey(group), at: candidate.at };
          group = escaped;
          candidate = undefined;
        }
        const at = readRevision(k, k.length - revisionKeyBytes);
        if (at.main <= revision) candidate = { at, live: value[0] === 0 };
      }
      if (group !== undefined && candidate?.live) yield { key: unescapeKey(group), at: candidate.at };
      return;
    }
    default:
      assertNever(range, 'key range');
  }
}

export type ReadView = {
  /** The revision a read without one is served at. */
  readonly revision: number;
  readonly compactedRevision: number;
};

function sortKey(kv: KeyValue, target: NonNullable<RangeRequest['sortTarget']>): number | Bytes {
  switch (target) {
    case 'key':
      return kv.key;
    case 'value':
      return kv.value;
    case 'version':
      return kv.version;
    case 'create':
      return kv.createRevision;
    case 'mod':
      return kv.modRevision;
    default:
      return assertNever(target, 'sort target');
  }
}

function byTarget(target: NonNullable<RangeRequest['sortTarget']>, descend: boolean) {
  const dir = descend ? -1 : 1;
  return (a: KeyValue, b: KeyValue): number => {
    const x = sortKey(a, target);
    const y = sortKey(b, target);
    const order = typeof x === 'number' ? x - (y as number) : compareBytes(x as Uint8Array, y as Uint8Array);
    return order * dir;
  };
}

/**
 * etcd's Range on the applied state (serializable: whatever this member has applied).
 * Throws CompactedError below the compacted revision, FutureRevisionError above `view`.
 */
export function readRange(
  b: Backend,
  req: RangeRequest,
  view: ReadView,
): { readonly kvs: KeyValue[]; readonly more: boolean; readonly count: number } {
  const revision = req.revision ?? 0;
  if (revision > view.revision) throw FutureRevisionError.of(revision, view.revision);
  if (revision > 0 && revision < view.compactedRevision) {
    throw CompactedError.of(revision, view.compactedRevision);
  }
  const atPast = revision > 0 && revision < view.revision;
  const range = keyRange(req.key, req.rangeEnd);
  const limit = req.limit ?? 0;
  const target = req.sortTarget ?? 'key';
  // etcd sorts ascending by default only when the target is not the key (keys come sorted).
  const order = req.sortOrder === undefined || req.sortOrder === 'none' ? 'ascend' : req.sortOrder;
  const descend = order === 'descend';
  const withValue = !req.keysOnly;

  if (!atPast) {
    if (req.countOnly) return { kvs: [], more: false, count: countNow(b, range) };
    if (target === 'key') {
      const kvs: KeyValue[] = [];
      for (const { key, state } of liveKeysNow(b, range, descend)) {
        if (limit > 0 && kvs.length === limit) return { kvs, more: true, count: countNow(b, range) };
        kvs.push(currentKv(b, key, state, withValue));
      }
      return { kvs, more: false, count: kvs.length };
    }
    const all: KeyValue[] = [];
    for (const { key, state } of liveKeysNow(b, range)) {
      all.push(currentKv(b, key, state, withValue || target === 'value'));
    }
    return sortAndLimit(all, target, descend, limit, withValue);
  }

  const live: { readonly key: Bytes; readonly at: RevisionPointer }[] = [...liveKeysAt(b, range, revision)];
  if (req.countOnly) return { kvs: [], more: false, count: live.length };
  const load = (at: RevisionPointer, value: boolean) =>
    recordKeyValue(readRecord(b, at.main, at.sub), at.main, value);
  if (target === 'key') {
    if (descend) live.reverse();
    const shown = limit > 0 ? live.slice(0, limit) : live;
    return {
      kvs: shown.map((o) => load(o.at, withValue)),
      more: shown.length < live.length,
      count: live.length,
    };
  }
  const all = live.map((o) => load(o.at, withValue || target === 'value'));
  return sortAndLimit(all, target, descend, limit, withValue);
}

// Sorting by anything but the key needs every kv of the range first (etcd does the same);
// a keys-only read sorted by value reads the values to sort, then drops them.
function sortAndLimit(
  all: KeyValue[],
  target: NonNullable<RangeRequest['sortTarget']>,
  descend: boolean,
  limit: number,
  withValue: boolean,
): { readonly kvs: KeyValue[]; readonly more: boolean; readonly count: number } {
  all.sort(byTarget(target, descend));
  const shown = limit > 0 ? all.slice(0, limit) : all;
  const kvs = withValue ? shown : shown.map((kv) => ({ ...kv, value: emptyBytes }));
  return { kvs, more: shown.length < all.length, count: all.length };
}

/** An event as the history holds it. */
export function eventOf(r: HistoryRecord, main: number): KvEvent {
  if (r.type === 'put') return { type: 'put', kv: recordKeyValue(r, main, true), prev: prevPointer(r) };
  return {
    type: 'delete',
    kv: { key: r.key, value: emptyBytes, createRevision: 0, modRevision: main, version: 0, lease: 0 },
    prev: prevPointer(r),
  };
}

/**
 * Events from `fromRevision` on, whole revisions only, stopping after the revision in
 * which `maxRecords` is reached (one revision is never split, however large).
 */
export function readHistory(b: Backend, fromRevision: number, maxRecords: number): RevisionEvents[] {
  const out: { revision: number; events: KvEvent[] }[] = [];
  let records = 0;
  for (const { key, value } of b.history.getRange({ start: revisionKey(fromRevision, 0) })) {
    const { main } = readRevision(key as Uint8Array, 0);
    const last = out[out.length - 1];
    if (last === undefined || last.revision !== main) {
      if (records >= maxRecords) break;
      out.push({ revision: main, events: [] });
    }
    out[out.length - 1]!.events.push(eventOf(decodeHistoryRecord(value), main));
    records++;
  }
  return out;
}

/** SHA-256 over every live key at `revision` (key order; key, value and metadata). */
export function hashKeySpace(b: Backend, revision: number, atPast: boolean): { hash: string; keys: number } {
  const h = createHash('sha256');
  const numbers = Buffer.alloc(8 * 4 + 8);
  let keys = 0;
  const add = (kv: KeyValue) => {
    numbers.writeDoubleBE(kv.createRevision, 0);
    numbers.writeDoubleBE(kv.modRevision, 8);
    numbers.writeDoubleBE(kv.version, 16);
    numbers.writeDoubleBE(kv.lease, 24);
    numbers.writeUInt32BE(kv.key.length, 32);
    numbers.writeUInt32BE(kv.value.length, 36);
    h.update(numbers);
    h.update(kv.key);
    h.update(kv.value);
    keys++;
  };
  const all = keyRange(Uint8Array.of(0), Uint8Array.of(0));
  if (atPast) {
    for (const { at } of liveKeysAt(b, all, revision)) {
      add(recordKeyValue(readRecord(b, at.main, at.sub), at.main, true));
    }
  } else {
    for (const { key, state } of liveKeysNow(b, all)) add(currentKv(b, key, state, true));
  }
  return { hash: h.digest('hex'), keys };
}
