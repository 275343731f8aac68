import { Counter, Gauge, Histogram, metricOnce, type Registry } from '@flotilla/actor';

/** What the state machine reports; every metric carries the `member` label. */
export type StoreMetrics = {
  readonly appliedIndex: Gauge<'member'>;
  readonly revision: Gauge<'member'>;
  readonly compactedRevision: Gauge<'member'>;
  readonly appliedEntries: Counter<'member'>;
  readonly applyBatchSeconds: Histogram<'member'>;
  readonly dedupHits: Counter<'member'>;
};

type SizeProbe = () => { readonly fileBytes: number; readonly inUseBytes: number };

// The db size is read when the registry is scraped, from every open store of that registry.
const sizeProbes = new WeakMap<Registry, Map<string, SizeProbe>>();

export function storeMetrics(registry: Registry, member: string, sizeProbe: SizeProbe): StoreMetrics {
  const registers = [registry];
  let probes = sizeProbes.get(registry);
  if (probes === undefined) {
    probes = new Map();
    sizeProbes.set(registry, probes);
  }
  probes.set(member, sizeProbe);
  const sizes = probes;
  metricOnce(
    registry,
    'flotilla_store_db_size_bytes',
    () =>
      new Gauge({
        name: 'flotilla_store_db_size_bytes',
        help: 'Size of the backend file on disk',
        labelNames: ['member'],
        registers,
        collect() {
          for (const [m, probe] of sizes) this.set({ member: m }, probe().fileBytes);
        },
      }),
  );
  metricOnce(
    registry,
    'flotilla_store_db_size_in_use_bytes',
    () =>
      new Gauge({
        name: 'flotilla_store_db_size_in_use_bytes',
        help: 'Bytes of the backend file that live pages use',
        labelNames: ['member'],
        registers,
        collect() {
          for (const [m, probe] of sizes) this.set({ member: m }, probe().inUseBytes);
        },
      }),
  );
  return {
    appliedIndex: metricOnce(
      registry,
      'flotilla_store_applied_index',
      () =>
        new Gauge({
          name: 'flotilla_store_applied_index',
          help: 'Index of the last Raft entry applied to the store',
          labelNames: ['member'],
          registers,
        }),
    ),
    revision: metricOnce(
      registry,
      'flotilla_store_revision',
      () =>
        new Gauge({
          name: 'flotilla_store_revision',
          help: 'Current revision of the key space',
          labelNames: ['member'],
          registers,
        }),
    ),
    compactedRevision: metricOnce(
      registry,
      'flotilla_store_compacted_revision',
      () =>
        new Gauge({
          name: 'flotilla_store_compacted_revision',
          help: 'Revision below which history has been compacted',
          labelNames: ['member'],
          registers,
        }),
    ),
    appliedEntries: metricOnce(
      registry,
      'flotilla_store_applied_entries_total',
      () =>
        new Counter({
          name: 'flotilla_store_applied_entries_total',
          help: 'Raft entries applied to the store',
          labelNames: ['member'],
          registers,
        }),
    ),
    applyBatchSeconds: metricOnce(
      registry,
      'flotilla_store_apply_batch_duration_seconds',
      () =>
        new Histogram({
          name: 'flotilla_store_apply_batch_duration_seconds',
          help: 'Time to apply and commit one batch of entries (one LMDB transaction)',
          labelNames: ['member'],
          buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
          registers,
        }),
    ),
    dedupHits: metricOnce(
      registry,
      'flotilla_store_dedup_hits_total',
      () =>
        new Counter({
          name: 'flotilla_store_dedup_hits_total',
          help: 'Retried requests answered from the dedup table instead of applied again',
          labelNames: ['member'],
          registers,
        }),
    ),
  };
}

export function releaseStoreMetrics(registry: Registry, member: string): void {
  sizeProbes.get(registry)?.delete(member);
}
