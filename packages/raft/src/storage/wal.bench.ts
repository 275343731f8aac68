/**
 * WAL append+sync latency against the disk's own floor, measured in one process:
 *
 *   node packages/raft/src/storage/wal.bench.ts [iterations] [parent dir]
 *
 * The parent directory defaults to the system's temporary directory (the disk); on a tmpfs
 * such as /dev/shm fdatasync costs nothing, which isolates the WAL's own CPU overhead.
 *
 * For batches of 1, 16 and 256 entries of 256 bytes it times (a) a raw loop of one write of
 * the same bytes plus fdatasync, with blocking calls and with the async FileHandle calls the
 * WAL uses, and (b) `wal.append(batch, hardState)` + `await wal.sync()`, in short alternating
 * rounds so that all three see the same load from whatever else the machine runs. Then 8
 * concurrent writers of one entry each, to show group commit sharing fdatasyncs. Bounded: a
 * fixed number of iterations per case, in a temporary directory removed at the end.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '@flotilla/actor';
import type { Entry } from '../core/types.ts';
import { Wal } from './wal.ts';

const iterations = Number(process.argv[2] ?? 1000);
const entryBytes = 256;
/** Framing of one entry record: 16-byte header + index, term, type. */
const framedEntryBytes = entryBytes + 16 + 17;

type Stats = { readonly p50: number; readonly p99: number; readonly mean: number };

function stats(samplesMs: number[]): Stats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

function row(name: string, s: Stats, entriesPerOp: number): string {
  const perSecond = Math.round((entriesPerOp * 1000) / s.mean);
  return `${name.padEnd(34)} p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  mean ${s.mean.toFixed(3)} ms  ${String(perSecond).padStart(8)} entries/s\n`;
}

/** One timed operation of a case, run in rounds interleaved with the other cases. */
type Runner = { readonly name: string; step(): Promise<void> | void; close(): Promise<void> | void };

function rawSync(dir: string, bytes: number): Runner {
  const fd = openSync(join(dir, `raw-sync-${bytes}`), 'w');
  const buf = Buffer.alloc(bytes, 7);
  return {
    name: 'raw writeSync+fdatasyncSync',
    step: () => {
      writeSync(fd, buf);
      fdatasyncSync(fd);
    },
    close: () => closeSync(fd),
  };
}

async function rawAsync(dir: string, bytes: number): Promise<Runner> {
  const handle = await open(join(dir, `raw-async-${bytes}`), 'w');
  const buf = Buffer.alloc(bytes, 7);
  let position = 0;
  return {
    name: 'raw FileHandle write+datasync',
    step: async () => {
      await handle.write(buf, 0, buf.length, position);
      position += buf.length;
      await handle.datasync();
    },
    close: () => handle.close(),
  };
}

function batchOf(first: number, count: number, data: Uint8Array): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    index: first + i,
    term: 1,
    type: 'normal' as const,
    data,
  }));
}

async function walAppendSync(dir: string, count: number): Promise<Runner> {
  const { wal } = await Wal.open(join(dir, `wal-${count}`), { registry: createRegistry() });
  const data = new Uint8Array(entryBytes).fill(9);
  let next = 1;
  return {
    name: 'wal append+sync',
    step: async () => {
      wal.append(batchOf(next, count, data), { term: 1, vote: 'm1', commit: next - 1 });
      next += count;
      await wal.sync();
    },
    close: () => wal.close(),
  };
}

/** Time `n` steps of each runner, in rounds of `roundSize` that alternate between them. */
async function interleaved(runners: readonly Runner[], n: number, roundSize = 25): Promise<Stats[]> {
  const samples: number[][] = runners.map(() => []);
  for (const r of runners) for (let i = 0; i < 20; i++) await r.step(); // warm-up
  for (let done = 0; done < n; done += roundSize) {
    for (const [k, r] of runners.entries()) {
      for (let i = 0; i < Math.min(roundSize, n - done); i++) {
        const t0 = performance.now();
        await r.step();
        samples[k]!.push(performance.now() - t0);
      }
    }
  }
  for (const r of runners) await r.close();
  return samples.map(stats);
}

/** `writers` loops each appending one entry and awaiting its sync; returns per-op latency and fsyncs used. */
async function concurrentWal(
  dir: string,
  writers: number,
  n: number,
): Promise<{ stats: Stats; fsyncs: number }> {
  const registry = createRegistry();
  const { wal } = await Wal.open(join(dir, 'wal-concurrent'), { registry });
  const data = new Uint8Array(entryBytes).fill(9);
  const samples: number[] = [];
  let next = 1;
  const writer = async () => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      wal.append(batchOf(next++, 1, data));
      await wal.sync();
      samples.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  await wal.close();
  const text = await registry.getSingleMetricAsString('flotilla_raft_wal_fsync_seconds');
  const fsyncs = Number(/flotilla_raft_wal_fsync_seconds_count (\d+)/.exec(text)?.[1]);
  return { stats: stats(samples), fsyncs };
}

const dir = mkdtempSync(join(process.argv[3] ?? tmpdir(), 'flotilla-wal-bench-'));
const out = (s: string) => process.stdout.write(s);
try {
  out(`WAL bench: ${iterations} iterations per case, ${entryBytes}-byte entries, dir ${dir}\n`);
  for (const count of [1, 16, 256]) {
    const n = count === 256 ? Math.ceil(iterations / 4) : iterations;
    const bytes = count * framedEntryBytes;
    out(`\n${count} entr${count === 1 ? 'y' : 'ies'} per sync (${bytes} bytes):\n`);
    const runners = [rawSync(dir, bytes), await rawAsync(dir, bytes), await walAppendSync(dir, count)];
    const results = await interleaved(runners, n);
    for (const [k, r] of runners.entries()) out(row(`  ${r.name}`, results[k]!, count));
    out(`  wal / raw blocking, p50: ${(results[2]!.p50 / results[0]!.p50).toFixed(2)}x; `);
    out(`wal / raw async, p50: ${(results[2]!.p50 / results[1]!.p50).toFixed(2)}x\n`);
  }
  const writers = 8;
  const { stats: concurrent, fsyncs } = await concurrentWal(dir, writers, Math.ceil(iterations / 2));
  const ops = writers * Math.ceil(iterations / 2);
  out(`\n${writers} concurrent writers, 1 entry each per sync (${ops} syncs):\n`);
  out(row('  wal append+sync', concurrent, 1).replace(/\d+ entries\/s/, ''));
  out(`  ${fsyncs} fdatasyncs for ${ops} syncs: ${(ops / fsyncs).toFixed(1)} callers per fdatasync\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
