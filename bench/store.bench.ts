// bench:store — Flotilla's store and etcd (Debian's etcd-server 3.4, 3 members on
// loopback, fsync on) in the same run, with the same workload and 256-byte values:
// sequential put, put at 16 and 64 in flight, linearizable and serializable get at 64 in
// flight, watch event latency, and RSS per member idle and after 100,000 keys.
import { setTimeout as delay } from 'node:timers/promises';
import { cleanupAll, StoreCluster } from '@flotilla/testkit';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { rssMiB, startEtcd } from './lib/etcd.ts';
import { drive, fmt, type LatencySummary, printTable, summarize } from './lib/stats.ts';

const valueBytes = 256;
const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (x: number) => Math.max(10, Math.round(x * scale));
const fillKeys = Number(process.env.BENCH_FILL_KEYS ?? 100_000);
const value = 'v'.repeat(valueBytes);

interface Target {
  readonly name: string;
  put(key: string): Promise<unknown>;
  get(key: string, serializable: boolean): Promise<unknown>;
  /** Resolves with the latency of one put as seen by a watcher. */
  watchLatency(samples: number): Promise<number[]>;
  rss(): number[];
  stop(): Promise<void>;
}

async function flotilla(): Promise<Target> {
  const cluster = await StoreCluster.start({ logLevel: 'warn', snapshotEveryEntries: 50_000 });
  await cluster.waitForLeader();
  const client = await cluster.client({ timeoutMs: 30_000 });
  return {
    name: 'flotilla',
    put: (key) => client.put(key, value),
    get: (key, serializable) => client.get(key, { serializable }),
    async watchLatency(samples) {
      const w = client.watchPrefix('/watch/');
      const sent = new Map<string, number>();
      const lat: number[] = [];
      const reader = (async () => {
        for await (const r of w) {
          if (r.kind !== 'events') continue;
          for (const e of r.events) {
            const t = sent.get(new TextDecoder().decode(e.kv.value));
            if (t !== undefined) lat.push(performance.now() - t);
          }
          if (lat.length >= samples) break;
        }
      })();
      await delay(300);
      for (let i = 0; i < samples; i++) {
        const v = `w${i}`;
        sent.set(v, performance.now());
        await client.put('/watch/k', v);
        await delay(2);
      }
      await Promise.race([reader, delay(10_000)]);
      w.cancel();
      return lat;
    },
    rss: () => [...cluster.members.values()].map((m) => rssMiB(m.process.pid)),
    stop: () => cluster.stop(),
  };
}

async function etcd(): Promise<Target> {
  const cluster = await startEtcd();
  const client = new Etcd3({
    hosts: [...cluster.clientUrls],
    // cockatiel's real noop: the default breaker would block a member for 5 s after 3 failures.
    faultHandling: { host: () => noop, global: noop },
  });
  return {
    name: 'etcd',
    put: (key) => client.put(key).value(value).exec(),
    get: (key, serializable) => client.get(key).serializable(serializable).string(),
    async watchLatency(samples) {
      const sent = new Map<string, number>();
      const lat: number[] = [];
      const watcher = await client.watch().prefix('/watch/').create();
      watcher.on('put', (kv) => {
        const t = sent.get(kv.value.toString());
        if (t !== undefined) lat.push(performance.now() - t);
      });
      await delay(300);
      for (let i = 0; i < samples; i++) {
        const v = `w${i}`;
        sent.set(v, performance.now());
        await client.put('/watch/k').value(v).exec();
        await delay(2);
      }
      const until = Date.now() + 10_000;
      while (lat.length < samples && Date.now() < until) await delay(20);
      await watcher.cancel();
      return lat;
    },
    rss: () => cluster.processes.map((p) => rssMiB(p.pid)),
    stop: async () => {
      client.close();
      await cluster.stop();
    },
  };
}

const results = new Map<string, Map<string, number>>();
const record = (target: string, label: string, v: number) => {
  if (!results.has(label)) results.set(label, new Map());
  results.get(label)!.set(target, v);
};

async function measure(t: Target): Promise<void> {
  let seq = 0;
  const key = () => `/bench/k${(seq++ % 10_000).toString().padStart(5, '0')}`;
  await drive(n(500), 16, () => t.put(key())); // warm-up
  const runs: Array<[string, number, number, () => Promise<unknown>]> = [
    ['put, 1 in flight', n(1_000), 1, () => t.put(key())],
    ['put, 16 in flight', n(8_000), 16, () => t.put(key())],
    ['put, 64 in flight', n(16_000), 64, () => t.put(key())],
    ['linearizable get, 64 in flight', n(16_000), 64, () => t.get(key(), false)],
    ['serializable get, 64 in flight', n(16_000), 64, () => t.get(key(), true)],
  ];
  for (const [label, ops, inflight, op] of runs) {
    const { latencies, elapsedMs } = await drive(ops, inflight, op);
    const s: LatencySummary = summarize(latencies, elapsedMs);
    record(t.name, `${label}: ops/s`, s.perSecond);
    record(t.name, `${label}: p50 ms`, s.p50);
    record(t.name, `${label}: p99 ms`, s.p99);
  }
  const w = summarize(await t.watchLatency(n(300)), 1);
  record(t.name, 'watch event latency: p50 ms', w.p50);
  record(t.name, 'watch event latency: p99 ms', w.p99);
}

async function memory(t: Target): Promise<void> {
  const idle = t.rss();
  record(t.name, 'RSS per member, idle: MiB', idle.reduce((a, b) => a + b, 0) / idle.length);
  let i = 0;
  await drive(fillKeys, 64, () => t.put(`/fill/${(i++).toString().padStart(7, '0')}`));
  await delay(2_000);
  const full = t.rss();
  record(
    t.name,
    `RSS per member, ${fillKeys.toLocaleString('en-US')} keys: MiB`,
    full.reduce((a, b) => a + b, 0) / full.length,
  );
}

for (const make of [flotilla, etcd]) {
  const t = await make();
  try {
    await measure(t);
    await memory(t);
  } finally {
    await t.stop();
  }
}

console.log(`bench:store — 3 members on loopback each, ${valueBytes}-byte values, client in this process`);
const rows: string[][] = [['measure', 'flotilla', 'etcd', 'flotilla / etcd']];
for (const [label, byTarget] of results) {
  const f = byTarget.get('flotilla') ?? Number.NaN;
  const e = byTarget.get('etcd') ?? Number.NaN;
  rows.push([label, fmt(f), fmt(e), Number.isFinite(f / e) ? `${(f / e).toFixed(2)}x` : '-']);
}
printTable(rows);
console.log('aim: match etcd throughput at 64 in flight with p99 no worse than 1.5x etcd');
await cleanupAll();
