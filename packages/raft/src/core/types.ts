/**
 * The data the Raft core shares with the outside: log entries, the hard state that must
 * be durable before a message that depends on it is sent, and snapshot metadata. Plain,
 * readonly data; the core never holds snapshot bytes (the driver streams those).
 */

/** A member's id: short, stable, unique in the cluster (e.g. "m1"). */
export type NodeId = string;

export type EntryType =
  /** An application command (or an empty no-op when `data` is empty). */
  | 'normal'
  /** A membership change; `data` is an encoded `ConfChange`. */
  | 'conf';

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Must be on stable storage before any message sent after it leaves the node (Raft §5.1, Fig. 2). */
export interface HardState {
  readonly term: number;
  /** Who this node voted for in `term`, or null. */
  readonly vote: NodeId | null;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** What a snapshot stands for; its bytes live with the driver's snapshot store. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export const emptyHardState: HardState = { term: 0, vote: null, commit: 0 };
