import { FlotillaError, registerRemoteError } from '@flotilla/actor';
import type { NodeId } from '../core/types.ts';

/** This member is not the leader; `leaderHint` names the one it believes leads, if any. */
export class NotLeaderError extends FlotillaError {
  readonly leaderHint: NodeId | null;
  constructor(message: string, data: { leader: NodeId | null }) {
    super('NotLeader', message, data);
    this.leaderHint = data.leader;
  }
  static of(self: NodeId, leader: NodeId | null): NotLeaderError {
    return new NotLeaderError(
      leader ? `${self} is not the leader; ${leader} is` : `${self} is not the leader and knows of none`,
      { leader },
    );
  }
}

/** The core refused the proposal at once (no leader, transfer in progress, too much uncommitted). */
export class ProposalDroppedError extends FlotillaError {
  readonly reason: string;
  constructor(message: string, data: { reason: string }) {
    super('ProposalDropped', message, data);
    this.reason = data.reason;
  }
  static of(reason: string): ProposalDroppedError {
    return new ProposalDroppedError(`proposal dropped: ${reason}`, { reason });
  }
}

/**
 * No answer in time, or the leader the proposal went to lost leadership first. The proposal
 * may still commit later: the caller must treat the outcome as unknown (and retry with the
 * same request id if the state machine dedupes).
 */
export class ProposalTimeoutError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('ProposalTimeout', message, data);
  }
}

export class RaftStoppedError extends FlotillaError {
  constructor(message = 'the raft node is stopped') {
    super('RaftStopped', message);
  }
}

registerRemoteError('NotLeader', (m, d) => new NotLeaderError(m, d as { leader: NodeId | null }));
registerRemoteError('ProposalDropped', (m, d) => new ProposalDroppedError(m, d as { reason: string }));
registerRemoteError('ProposalTimeout', (m, d) => new ProposalTimeoutError(m, d));
registerRemoteError('RaftStopped', (m) => new RaftStoppedError(m));
