export type {
  CheckOptions,
  CheckResult,
  PartitionResult,
  UndecidedReason,
  Verdict,
  Violation,
} from './check.ts';
export { check, defaultCheckTimeoutMs, defaultMaxCacheEntries } from './check.ts';
export {
  CallAlreadyEndedError,
  HistoryFullError,
  InvalidCheckOptionsError,
  InvalidHistoryError,
  InvalidModelError,
} from './errors.ts';
export type { ClientId, HistoryCounts, HistoryOptions, Operation } from './history.ts';
export { defaultMaxHistoryOperations, History, PendingCall } from './history.ts';
export type { KvInput, KvOutput, KvState } from './kv-model.ts';
export { kvModel } from './kv-model.ts';
export type { Model, Partition, StepResult, Unknown } from './model.ts';
export { hashString, ILLEGAL, mixHash, UNKNOWN } from './model.ts';
export type { RegisterInput, RegisterOutput } from './register-model.ts';
export { registerModel } from './register-model.ts';
export type { SearchStats } from './search.ts';
