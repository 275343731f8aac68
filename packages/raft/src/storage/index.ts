export {
  SnapshotChunkOffsetError,
  SnapshotCorruptionError,
  SnapshotInputError,
  WalBufferFullError,
  WalClosedError,
  WalCorruptionError,
  WalFailedError,
  WalInputError,
} from './errors.ts';
export type { WalMetrics } from './metrics.ts';
export type { WalOptions, WalRecovered } from './wal.ts';
export { defaultWalOptions, MIN_SEGMENT_BYTES, Wal } from './wal.ts';
export type { TornTail } from './wal-recovery.ts';
