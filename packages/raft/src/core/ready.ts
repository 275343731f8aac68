/** What the core hands the driver after it changed: the `Ready` record and the small types in it. */
import type { Message } from './messages.ts';
import type { ConfState, Entry, HardState, NodeId, SnapshotMeta } from './types.ts';

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth telling the driver about; never persisted. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/** A ReadIndex answer: once the state machine has applied `index`, the read `context` may be served. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/**
 * Everything the driver must do, in this order:
 *
 *  1. persist `hardState`, `snapshot` and `entries` (replacing any stored entries from
 *     `entries[0].index` on) and make them durable;
 *  2. send `messages` — only now, because they may promise what step 1 made durable;
 *  3. install `snapshot` in the state machine, then apply `committed` in order;
 *  4. release `readStates` once the state machine has applied their index;
 *  5. call `advance(ready)`.
 */
export interface Ready {
  /** Present when the role or the known leader changed. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed: persist it. */
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader (its bytes are already on disk): install it before applying more. */
  readonly snapshot?: SnapshotMeta;
  readonly messages: readonly Message[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** Present when the configuration in force changed (a conf entry appended or truncated, or a snapshot). */
  readonly conf?: ConfState;
}
