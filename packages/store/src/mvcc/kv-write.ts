import { assert } from '@flotilla/actor';
import { attachKey, detachKey } from '../lease/lease-table.ts';
import type { Backend } from './backend.ts';
import { type KeyRange, keyRevisionKey, revisionKey } from './keys.ts';
import { currentKv, liveKeysNow, readKeyState, readRecord } from './kv-read.ts';
import { encodeHistoryRecord, encodeKeyState, type KeyState } from './records.ts';
import type { Bytes, KeyValue, KvEvent, PutRequest } from './types.ts';

const putMark = Buffer.of(0);
const deleteMark = Buffer.of(1);
const emptyBytes: Bytes = new Uint8Array(0);
// etcd numbers the changes within one revision from 0; 4 bytes of the history key hold it.
const maxSubRevisions = 2 ** 32;

/**
 * The changes of one entry, all at one revision: each put or delete is a version numbered
 * {revision, sub}. Runs inside apply's transaction and only after the entry was validated,
 * so nothing here fails for a reason the caller should hear about.
 */
export class RevisionWriter {
  readonly revision: number;
  private readonly b: Backend;
  private sub = 0;
  readonly events: KvEvent[] = [];

  constructor(b: Backend, revision: number) {
    this.b = b;
    this.revision = revision;
  }

  /** Whether anything was written: the entry then takes `revision`. */
  get wrote(): boolean {
    return this.sub > 0;
  }

  private nextSub(): number {
    assert(this.sub < maxSubRevisions, 'sub revisions of one revision fit in 32 bits');
    return this.sub++;
  }

  /** Preconditions (checked by the caller): a leased put names a live lease; ignore* keys exist. */
  put(req: PutRequest): { readonly prevKv: KeyValue | undefined } {
    const b = this.b;
    const prev = readKeyState(b, req.key);
    assert(prev !== undefined || !(req.ignoreValue || req.ignoreLease), 'ignore* puts name a live key');
    const value = req.ignoreValue && prev ? readRecord(b, prev.modRevision, prev.modSub).value : req.value;
    const lease = req.ignoreLease && prev ? prev.lease : (req.lease ?? 0);
    const sub = this.nextSub();
    const createRevision = prev?.createRevision ?? this.revision;
    const version = (prev?.version ?? 0) + 1;
    b.history.putSync(
      revisionKey(this.revision, sub),
      encodeHistoryRecord({
        type: 'put',
        key: req.key,
        value,
        createRevision,
        version,
        lease,
        prevMain: prev?.modRevision ?? 0,
        prevSub: prev?.modSub ?? 0,
      }),
      { append: true },
    );
    b.index.putSync(keyRevisionKey(req.key, this.revision, sub), putMark);
    const state: KeyState = { createRevision, modRevision: this.revision, modSub: sub, version, lease };
    b.keys.putSync(req.key, encodeKeyState(state));
    if (prev !== undefined && prev.lease !== 0 && prev.lease !== lease) detachKey(b, prev.lease, req.key);
    if (lease !== 0 && prev?.lease !== lease) attachKey(b, lease, req.key);
    this.events.push({
      type: 'put',
      kv: { key: req.key, value, createRevision, modRevision: this.revision, version, lease },
      prev: prev && { main: prev.modRevision, sub: prev.modSub },
    });
    return { prevKv: req.prevKv && prev ? currentKv(b, req.key, prev, true) : undefined };
  }

  /** Deletes every live key in the range; a range with no live key changes nothing. */
  deleteRange(
    range: KeyRange,
    wantPrev: boolean,
  ): { readonly deleted: number; readonly prevKvs: KeyValue[] } {
    const victims = [...liveKeysNow(this.b, range)];
    const prevKvs: KeyValue[] = [];
    for (const { key, state } of victims) {
      if (wantPrev) prevKvs.push(currentKv(this.b, key, state, true));
      this.deleteKey(key, state);
    }
    return { deleted: victims.length, prevKvs };
  }

  /** Writes a tombstone for a live key and detaches it from its lease. */
  deleteKey(key: Bytes, state: KeyState): void {
    const b = this.b;
    const sub = this.nextSub();
    b.history.putSync(
      revisionKey(this.revision, sub),
      encodeHistoryRecord({
        type: 'delete',
        key,
        value: emptyBytes,
        createRevision: 0,
        version: 0,
        lease: 0,
        prevMain: state.modRevision,
        prevSub: state.modSub,
      }),
      { append: true },
    );
    b.index.putSync(keyRevisionKey(key, this.revision, sub), deleteMark);
    b.keys.removeSync(key);
    if (state.lease !== 0) detachKey(b, state.lease, key);
    this.events.push({
      type: 'delete',
      kv: { key, value: emptyBytes, createRevision: 0, modRevision: this.revision, version: 0, lease: 0 },
      prev: { main: state.modRevision, sub: state.modSub },
    });
  }
}
