export type { ConfChange, ConfChangeType, ConfEntryData } from './conf.ts';
export {
  applyConfChange,
  checkConfChange,
  confEquals,
  decodeConfEntry,
  encodeConfEntry,
  isMember,
} from './conf.ts';
export type { BrokenVariant, RaftConfig } from './config.ts';
export { brokenVariants } from './config.ts';
export {
  RaftConfigError,
  RaftError,
  RaftInvariantError,
  RaftRestoreError,
  RaftUsageError,
} from './errors.ts';
export type {
  Append,
  AppendResponse,
  ForwardedProposal,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  Message,
  MessageType,
  ReadIndexRequest,
  ReadIndexResponse,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from './messages.ts';
export { checkMessage, entrySizeBytes } from './messages.ts';
export type { ProgressState } from './progress.ts';
export type { DropReason, ProposeResult } from './raft.ts';
export { Raft } from './raft.ts';
export type { ReadState, Ready, Role, SoftState } from './ready.ts';
export type { RestoreState } from './restore.ts';
export type { PeerStatus, RaftCounters, Status } from './status.ts';
export type { ConfState, Entry, EntryType, HardState, NodeId, SnapshotMeta } from './types.ts';
export { emptyHardState } from './types.ts';
