import type { Bytes, CommitNotice, KeyValue, RevisionEvents, RevisionPointer } from '../mvcc/types.ts';

/** What a watch observes: etcd's WatchCreateRequest, minus the parts the server owns. */
export type WatchRequest = {
  /** A single key, or with `rangeEnd` a range (etcd's conventions; [0] is every key from `key`). */
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
  /** First revision to deliver; 0 or absent: only what happens from now on. */
  readonly startRevision?: number;
  /** Attach each event's previous version of its key. */
  readonly prevKv?: boolean;
  /** Receive the hub's periodic progress notifications (see `WatchHub.notifyProgress`). */
  readonly progressNotify?: boolean;
  /** This watcher's backlog bounds, if tighter or looser than the hub's defaults. */
  readonly maxPendingEvents?: number;
  readonly maxPendingBytes?: number;
};

export type WatchEvent = {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
};

/**
 * What a watcher delivers, in revision order: all events of one revision together, or a
 * progress notification saying every event up to `revision` has been delivered.
 */
export type WatchResponse =
  | { readonly kind: 'events'; readonly revision: number; readonly events: readonly WatchEvent[] }
  | { readonly kind: 'progress'; readonly revision: number };

/** What the hub needs from the store (the StateMachine provides it). */
export interface WatchSource {
  /** False while the store is closed or restoring: history cannot be read then. */
  readonly available: boolean;
  readonly revision: number;
  readonly compactedRevision: number;
  readHistory(fromRevision: number, maxRecords: number): RevisionEvents[];
  kvAt(at: RevisionPointer): KeyValue;
  onCommit(listener: (notice: CommitNotice) => void): () => void;
}
