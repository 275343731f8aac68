// bench:actor — ask round trips through the actor layer next to raw @nats-io
// request/reply, in the same run, against the same nats-server and responder process.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ActorSystem, type Ask, silentLogger } from '@flotilla/actor';
import { cleanupAll, startNats } from '@flotilla/testkit';
import { drive, fmt, type LatencySummary, printTable, summarize } from './lib/stats.ts';

const payloadBytes = 256;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const sequentialOps = Number(process.env.BENCH_SEQ_OPS ?? 5_000);
const concurrentOps = Number(process.env.BENCH_CONC_OPS ?? 50_000);

const nats = await startNats();
const responder = spawn(
  process.execPath,
  [fileURLToPath(new URL('./fixtures/echo-responder.ts', import.meta.url)), nats.urls.join(','), 'bench'],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
await once(responder.stdout!, 'data');

const system = await ActorSystem.connect({ servers: nats.urls, log: silentLogger(), prefix: 'bench' });
const echo = system.ref<{ echo: Ask<Uint8Array, Uint8Array> }>('echo');
const payload = new Uint8Array(randomBytes(payloadBytes));

const raw = (_: number) => system.nc.request('bench.raw', payload, { timeout: 5000 });
const actor = (_: number) => echo.ask('echo', payload, { timeoutMs: 5000 });

// Warm both paths (JIT, connections) before measuring.
await drive(2_000, 16, raw);
await drive(2_000, 16, actor);

type Case = { inflight: number; ops: number };
const cases: Case[] = [
  { inflight: 1, ops: sequentialOps },
  { inflight: 64, ops: concurrentOps },
];
const best = new Map<string, LatencySummary>();
const keep = (key: string, s: LatencySummary) => {
  const prev = best.get(key);
  if (!prev || s.perSecond > prev.perSecond) best.set(key, s);
};
// Interleave raw and actor runs so drift on a shared machine hits both alike; keep each best.
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    for (const [name, op] of [
      ['raw', raw],
      ['actor', actor],
    ] as const) {
      const { latencies, elapsedMs } = await drive(c.ops, c.inflight, op);
      keep(`${name}@${c.inflight}`, summarize(latencies, elapsedMs));
    }
  }
}

console.log(
  `bench:actor — ${payloadBytes}-byte ask round trips, responder in another process, best of ${rounds}`,
);
const rows: string[][] = [
  ['in flight', 'path', 'ops/s', 'p50 ms', 'p99 ms', 'throughput vs raw', 'p50 vs raw'],
];
for (const c of cases) {
  const r = best.get(`raw@${c.inflight}`)!;
  const a = best.get(`actor@${c.inflight}`)!;
  rows.push([
    String(c.inflight),
    'raw @nats-io',
    fmt(r.perSecond),
    fmt(r.p50, 3),
    fmt(r.p99, 3),
    '1.00x',
    '1.00x',
  ]);
  rows.push([
    String(c.inflight),
    'flotilla ask',
    fmt(a.perSecond),
    fmt(a.p50, 3),
    fmt(a.p99, 3),
    `${(a.perSecond / r.perSecond).toFixed(2)}x`,
    `${(a.p50 / r.p50).toFixed(2)}x`,
  ]);
}
printTable(rows);
console.log('aim: the actor layer costs at most 10% over raw NATS (throughput ratio >= 0.90x)');

responder.kill('SIGKILL');
await system.shutdown({ timeoutMs: 1000 });
await cleanupAll();
