export { Election, Mutex, NotElectedError } from './client/concurrency.ts';
export type { KeyLike, StoreClientOptions } from './client/store-client.ts';
export { bytesToString, KeepAlive, StoreClient, StoreWatch, toBytes } from './client/store-client.ts';
export type { LeaseSource, LessorOptions } from './lease/lessor.ts';
export { defaultLessorOptions, Lessor } from './lease/lessor.ts';
export {
  decodeCommand,
  decodeResult,
  encodeCommand,
  encodeResult,
  validateRangeRequest,
} from './mvcc/commands.ts';
export { autoCompactionRevision } from './mvcc/compaction.ts';
export type { WatchCancelReason } from './mvcc/errors.ts';
export {
  CompactedError,
  DuplicateKeyError,
  errorOf,
  FutureRevisionError,
  InvalidRequestError,
  KeyNotFoundError,
  KeyTooLargeError,
  LeaseExistsError,
  LeaseNotFoundError,
  LessorNotPrimaryError,
  RequestIdReusedError,
  RequestTooLargeError,
  ResultNotKeptError,
  resultOrThrow,
  SnapshotInvalidError,
  StoreError,
  StoreUnavailableError,
  TooManyTxnOpsError,
  ValueTooLargeError,
  WatchCancelledError,
} from './mvcc/errors.ts';
export { inKeyRange, keyRange, prefixEnd, rangeEndAll } from './mvcc/keys.ts';
export type { StoreLimits } from './mvcc/limits.ts';
export { storeLimits } from './mvcc/limits.ts';
export type { StateMachineOptions } from './mvcc/state-machine.ts';
export {
  defaultCompactionRecordsPerStep,
  defaultDedupWindowEntries,
  StateMachine,
} from './mvcc/state-machine.ts';
export type {
  ApplyResult,
  Bytes,
  Command,
  CommandKind,
  CommandResult,
  CommitNotice,
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  ErrorResult,
  HashResult,
  KeyValue,
  KvEvent,
  LeaseChange,
  LeaseCheckpoint,
  LeaseRecord,
  LogEntry,
  PutRequest,
  RangeRequest,
  RangeResult,
  RequestOp,
  ResponseOp,
  RevisionEvents,
  RevisionPointer,
  SnapshotInfo,
  SortOrder,
  SortTarget,
  StoreStatus,
  TxnRequest,
} from './mvcc/types.ts';
export type { LeaseTimeToLive, MemberStatus, ResponseHeader, StoreProtocol } from './server/protocol.ts';
export { storeActorName } from './server/protocol.ts';
export { RaftStoreMachine } from './server/raft-machine.ts';
export { restoreMemberFromSnapshot } from './server/restore.ts';
export type { StoreMemberOptions } from './server/store-member.ts';
export { StoreMember } from './server/store-member.ts';
export type { WatchEvent, WatchRequest, WatchResponse, WatchSource } from './watch/types.ts';
export type { WatchHubOptions } from './watch/watch-hub.ts';
export { defaultWatchHubOptions, WatchHub } from './watch/watch-hub.ts';
export { Watcher } from './watch/watcher.ts';
