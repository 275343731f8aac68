// bench:raft — a 3-process Raft cluster on real disks and NATS: proposal throughput and
// latency at 1 and 64 in flight (256-byte entries), next to the disk's own fdatasync
// latency measured in the same run (the physical floor); then time from a leader's
// SIGKILL to a new leader and to the next committed proposal, over 20 kills.
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { cleanupAll, RaftCluster, tempDir } from '@flotilla/testkit';
import { drive, fmt, percentile, printTable, summarize } from './lib/stats.ts';

const entryBytes = 256;
const sequentialOps = Number(process.env.BENCH_SEQ_OPS ?? 2_000);
const concurrentOps = Number(process.env.BENCH_CONC_OPS ?? 20_000);
const kills = Number(process.env.BENCH_KILLS ?? 20);

function fdatasyncFloor(samples = 2_000): { p50: number; p99: number } {
  const file = join(tempDir('fsync'), 'probe');
  const fd = openSync(file, 'w');
  const buf = Buffer.alloc(entryBytes, 7);
  const lat: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    writeSync(fd, buf);
    fdatasyncSync(fd);
    lat.push(performance.now() - t);
  }
  closeSync(fd);
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

const floor = fdatasyncFloor();
const cluster = await RaftCluster.start({ logLevel: 'warn', snapshotEveryEntries: 20_000 });
await cluster.waitForLeader(15_000);
const pad = 'x'.repeat(entryBytes - 16);
let seq = 0;
const propose = () =>
  cluster.propose(`${(seq++).toString(36).padStart(12, '0')}${pad}`.slice(0, entryBytes), 10_000);

await drive(500, 8, propose); // warm-up
const one = await drive(sequentialOps, 1, propose);
const many = await drive(concurrentOps, 64, propose);
const s1 = summarize(one.latencies, one.elapsedMs);
const s64 = summarize(many.latencies, many.elapsedMs);

// Failover: a proposer keeps going while the leader is killed.
const toLeader: number[] = [];
const toCommit: number[] = [];
for (let k = 0; k < kills; k++) {
  const leader = await cluster.waitForLeader(15_000);
  await delay(300);
  const t0 = performance.now();
  await cluster.kill(leader);
  let newLeader: string | undefined;
  while (!newLeader) {
    const statuses = await cluster.statuses();
    newLeader = statuses.find((s) => s.role === 'leader' && s.id !== leader)?.id;
    if (!newLeader) await delay(10);
  }
  toLeader.push(performance.now() - t0);
  for (;;) {
    try {
      await cluster.propose(`after-kill-${k}`, 2_000);
      break;
    } catch {
      // still electing; try again
    }
  }
  toCommit.push(performance.now() - t0);
  await cluster.restart(leader);
  await delay(1_500);
}
toLeader.sort((a, b) => a - b);
toCommit.sort((a, b) => a - b);

console.log(`bench:raft — 3 member processes, ${entryBytes}-byte entries, client in a 4th process over NATS`);
printTable([
  ['measure', 'value', 'note'],
  ['fdatasync p50 (this disk)', `${fmt(floor.p50, 3)} ms`, `p99 ${fmt(floor.p99, 3)} ms: the floor`],
  ['1 in flight: proposals/s', fmt(s1.perSecond), ''],
  ['1 in flight: commit p50', `${fmt(s1.p50, 3)} ms`, `${(s1.p50 / floor.p50).toFixed(1)}x fdatasync`],
  ['1 in flight: commit p99', `${fmt(s1.p99, 3)} ms`, ''],
  ['64 in flight: proposals/s', fmt(s64.perSecond), ''],
  ['64 in flight: commit p50', `${fmt(s64.p50, 3)} ms`, ''],
  ['64 in flight: commit p99', `${fmt(s64.p99, 3)} ms`, ''],
  [
    `leader SIGKILL → new leader (${kills} kills)`,
    `median ${fmt(percentile(toLeader, 50), 0)} ms`,
    `max ${fmt(toLeader.at(-1)!, 0)} ms`,
  ],
  [
    'leader SIGKILL → next commit',
    `median ${fmt(percentile(toCommit, 50), 0)} ms`,
    `max ${fmt(toCommit.at(-1)!, 0)} ms`,
  ],
]);
console.log(
  'aims: commit p50 within 2x of one fdatasync plus loopback round trips; a new leader within 1.5 s of a kill',
);

await cluster.stop();
await cleanupAll();
