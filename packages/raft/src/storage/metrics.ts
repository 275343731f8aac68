import { Counter, Histogram, metricOnce, type Registry } from '@flotilla/actor';

export type WalMetrics = {
  readonly fsyncSeconds: Histogram;
  readonly bytesWritten: Counter;
};

/** Around the ~0.13 ms one fdatasync takes on our disks, up to the seconds of a stalled device. */
const FSYNC_BUCKETS_SECONDS = [
  0.000_05, 0.000_1, 0.000_2, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

export function walMetrics(registry: Registry): WalMetrics {
  const registers = [registry];
  return {
    fsyncSeconds: metricOnce(
      registry,
      'flotilla_raft_wal_fsync_seconds',
      () =>
        new Histogram({
          name: 'flotilla_raft_wal_fsync_seconds',
          help: 'Latency of the fdatasync calls that make WAL records durable',
          buckets: FSYNC_BUCKETS_SECONDS,
          registers,
        }),
    ),
    bytesWritten: metricOnce(
      registry,
      'flotilla_raft_wal_bytes_written_total',
      () =>
        new Counter({
          name: 'flotilla_raft_wal_bytes_written_total',
          help: 'Bytes written to WAL segment files (records and segment heads)',
          registers,
        }),
    ),
  };
}
