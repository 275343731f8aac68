/** How a member is configured: timing in ticks, the features that are on, and every bound. */
import { isNodeId } from './conf.ts';
import { RaftConfigError } from './errors.ts';
import type { NodeId } from './types.ts';

/**
 * Deliberately broken variants of the protocol, for the simulator's teeth test only: each
 * one must make the simulator report a violation. Never set outside tests.
 */
export type BrokenVariant =
  /** Commit an entry of an older term by counting replicas (the Figure 8 hazard, Raft §5.4.2). */
  | 'commitOldTermByCounting'
  /** Grant a vote without checking that the candidate's log is at least as up-to-date (Raft §5.4.1). */
  | 'voteWithoutLogCheck'
  /** Let a granted vote leave the member without it being in the hard state the driver persists. */
  | 'voteBeforePersist'
  /** Install a snapshot even when it is older than what the member already has committed. */
  | 'applyOlderSnapshot';

export const brokenVariants: readonly BrokenVariant[] = [
  'commitOldTermByCounting',
  'voteWithoutLogCheck',
  'voteBeforePersist',
  'applyOlderSnapshot',
];

export interface RaftConfig {
  readonly id: NodeId;
  /** T: a follower that hears from no leader for a timeout drawn in [T, 2T) ticks starts an election. */
  readonly electionTicks: number;
  /** A leader sends heartbeats every this many ticks; must be less than `electionTicks`. */
  readonly heartbeatTicks: number;
  /** A seeded source of numbers in [0, 1): the core has no randomness of its own. */
  readonly random: () => number;
  /** Ask "would you vote for me?" before disrupting anyone's term (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /**
   * A leader that has not heard from a quorum within an election timeout steps down, and a
   * member that has heard from a leader within one ignores vote requests (thesis §6.2, §4.2.3).
   * Default true.
   */
  readonly checkQuorum?: boolean;
  /** Append messages in flight per follower while replicating. Default 256. */
  readonly maxInflightMessages?: number;
  /** Entry bytes in flight per follower while replicating; 0 for no byte bound. Default 16 MiB. */
  readonly maxInflightBytes?: number;
  /** Entry bytes per append message (at least one entry always goes). Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Proposals past this many uncommitted entry bytes on the leader are dropped. Default 64 MiB. */
  readonly maxUncommittedBytes?: number;
  /** Committed entry bytes handed out in one Ready (at least one entry always goes). Default 64 MiB. */
  readonly maxCommittedBytesPerReady?: number;
  /** ReadIndex requests a leader holds while it confirms its leadership. Default 4096. */
  readonly maxPendingReads?: number;
  /** Followers drop proposals instead of forwarding them to the leader. Default false. */
  readonly disableProposalForwarding?: boolean;
  /**
   * 'safe': a read index is released once a quorum answered a heartbeat sent after the read
   * arrived (thesis §6.4). 'lease': released at once while the leader's lease holds (thesis
   * §6.4.1); needs checkQuorum and bounded clock drift. Default 'safe'.
   */
  readonly readOnly?: 'safe' | 'lease';
  /** Test only: switch on one deliberately broken variant. */
  readonly testOnlyBrokenVariant?: BrokenVariant;
}

export type ResolvedConfig = Required<Omit<RaftConfig, 'testOnlyBrokenVariant'>> & {
  readonly testOnlyBrokenVariant: BrokenVariant | null;
};

const MiB = 1024 * 1024;

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RaftConfigError(`${name} must be a positive integer`, { [name]: value });
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RaftConfigError(`${name} must be a non-negative integer`, { [name]: value });
  return value;
}

/** The configuration with every default filled in, or a `RaftConfigError` naming the bad field. */
export function resolveConfig(config: RaftConfig): ResolvedConfig {
  if (!isNodeId(config.id))
    throw new RaftConfigError('id must be a non-empty string of at most 255 characters');
  if (typeof config.random !== 'function')
    throw new RaftConfigError('random must be a function returning numbers in [0, 1)');
  const electionTicks = positiveInteger('electionTicks', config.electionTicks);
  const heartbeatTicks = positiveInteger('heartbeatTicks', config.heartbeatTicks);
  if (heartbeatTicks >= electionTicks)
    throw new RaftConfigError('heartbeatTicks must be less than electionTicks', {
      heartbeatTicks,
      electionTicks,
    });
  const resolved: ResolvedConfig = {
    id: config.id,
    electionTicks,
    heartbeatTicks,
    random: config.random,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    maxInflightMessages: positiveInteger('maxInflightMessages', config.maxInflightMessages ?? 256),
    maxInflightBytes: nonNegativeInteger('maxInflightBytes', config.maxInflightBytes ?? 16 * MiB),
    maxMessageBytes: positiveInteger('maxMessageBytes', config.maxMessageBytes ?? MiB),
    maxUncommittedBytes: positiveInteger('maxUncommittedBytes', config.maxUncommittedBytes ?? 64 * MiB),
    maxCommittedBytesPerReady: positiveInteger(
      'maxCommittedBytesPerReady',
      config.maxCommittedBytesPerReady ?? 64 * MiB,
    ),
    maxPendingReads: positiveInteger('maxPendingReads', config.maxPendingReads ?? 4096),
    disableProposalForwarding: config.disableProposalForwarding ?? false,
    readOnly: config.readOnly ?? 'safe',
    testOnlyBrokenVariant: config.testOnlyBrokenVariant ?? null,
  };
  if (resolved.readOnly !== 'safe' && resolved.readOnly !== 'lease')
    throw new RaftConfigError("readOnly must be 'safe' or 'lease'", { readOnly: resolved.readOnly });
  if (resolved.testOnlyBrokenVariant !== null && !brokenVariants.includes(resolved.testOnlyBrokenVariant))
    throw new RaftConfigError('unknown testOnlyBrokenVariant', {
      testOnlyBrokenVariant: resolved.testOnlyBrokenVariant,
    });
  if (resolved.readOnly === 'lease' && !resolved.checkQuorum)
    throw new RaftConfigError("readOnly 'lease' needs checkQuorum: the lease is the leader's quorum contact");
  return resolved;
}
