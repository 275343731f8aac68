/** A plain-data picture of one member, for operators, metrics and tests. */
import type { ProgressState } from './progress.ts';
import type { Role } from './ready.ts';
import type { ConfState, NodeId } from './types.ts';

/** What the leader knows about one follower (or itself). */
export interface PeerStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
  readonly learner: boolean;
  readonly inflightMessages: number;
}

/** Messages and requests the core ignored, by cause. */
export interface RaftCounters {
  /** Messages that failed validation (malformed, misaddressed). */
  readonly invalidMessages: number;
  /** Why the last invalid message was rejected. */
  readonly lastInvalidReason: string | null;
  /** Well-formed messages that no longer apply (an older term, a role we no longer hold). */
  readonly staleMessages: number;
  /** Vote requests ignored because a leader was heard from within the election timeout. */
  readonly votesIgnoredInLease: number;
  /** Proposals and reads forwarded by followers that this leader had to drop. */
  readonly droppedForwarded: number;
  /** Pre-vote rounds this member started. */
  readonly preCampaigns: number;
  /** Elections this member started (real votes, after a won pre-vote or without PreVote). */
  readonly campaigns: number;
}

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly snapshotIndex: number;
  readonly conf: ConfState;
  /** The member a leadership transfer is handing over to, if one is under way. */
  readonly transferee: NodeId | null;
  /** On the leader, every member's progress (its own included); empty elsewhere. */
  readonly progress: Readonly<Record<NodeId, PeerStatus>>;
  readonly counters: RaftCounters;
}
