export * from './core/index.ts';
export { unwrapProposal, wrapProposal } from './node/envelope.ts';
export {
  NotLeaderError,
  ProposalDroppedError,
  ProposalTimeoutError,
  RaftStoppedError,
} from './node/errors.ts';
export type { NodeStatus, ProposalOutcome, RaftNodeOptions } from './node/raft-node.ts';
export { RaftNode } from './node/raft-node.ts';
export { seededRandom } from './node/random.ts';
export type { Command, StateMachine } from './node/state-machine.ts';
export { raftActorName, Transport } from './node/transport.ts';
export * from './storage/index.ts';
