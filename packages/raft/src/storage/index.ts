export {
  SnapshotChunkOffsetError,
  SnapshotCorruptionError,
  SnapshotInputError,
  SnapshotNotFoundError,
  WalBufferFullError,
  WalClosedError,
  WalCorruptionError,
  WalFailedError,
  WalInputError,
} from './errors.ts';
export type { WalMetrics } from './metrics.ts';
export type { SnapshotStoreOptions, StoredSnapshot } from './snapshot-store.ts';
export {
  defaultKeepSnapshots,
  maxSnapshotReadBytes,
  openSnapshotStore,
  SnapshotReader,
  SnapshotReceiver,
  SnapshotStore,
} from './snapshot-store.ts';
export type { WalOptions, WalRecovered } from './wal.ts';
export { defaultWalOptions, MIN_SEGMENT_BYTES, openWal, Wal } from './wal.ts';
export type { TornTail } from './wal-recovery.ts';
