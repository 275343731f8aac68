/**
 * Apply throughput and memory of the state machine alone (no Raft, no NATS):
 *
 *   node packages/store/src/mvcc/apply-throughput.measure.ts           # throughput
 *   node --expose-gc packages/store/src/mvcc/apply-throughput.measure.ts memory
 *
 * Puts of 256-byte values to distinct keys, one entry per LMDB transaction and batches of
 * entries per transaction (as the Raft driver hands over committed entries), each
 * transaction committed with fsync. Next to each figure, the anchor: raw lmdb-js doing the
 * writes the design needs per put (a get and three puts, plus the meta record per
 * transaction) with the same commit, so a ratio shows what the state machine adds. CPU
 * µs/put (user + system) is the figure that matters on a CPU-bound machine; puts/s also
 * depends on how busy the disk is. `memory` reports RSS idle and with 100,000 keys
 * (run it alone: RSS counts the pages LMDB maps).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { encodeCommand } from './commands.ts';
import { StateMachine } from './state-machine.ts';
import type { LogEntry } from './types.ts';

const valueBytes = 256;
const memoryKeys = 100_000;
const rounds = Number(process.env.MEASURE_ROUNDS ?? 3);

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function keyOf(i: number): Buffer {
  return Buffer.from(`/registry/pods/default/pod-${String(i).padStart(7, '0')}`);
}

function entries(count: number, withRequestId: boolean): LogEntry[] {
  const value = Buffer.alloc(valueBytes, 'v');
  return Array.from({ length: count }, (_, i) => ({
    index: i + 1,
    data: encodeCommand({
      kind: 'put',
      key: keyOf(i),
      value,
      ...(withRequestId && { requestId: `client-1:${i}` }),
    }),
  }));
}

type Figure = { readonly putsPerSecond: number; readonly cpuMicrosPerPut: number };

function timed(puts: number, body: () => void): Figure {
  const cpu = process.cpuUsage();
  const started = performance.now();
  body();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { putsPerSecond: puts / seconds, cpuMicrosPerPut: (used.user + used.system) / puts };
}

async function stateMachineRun(
  dir: string,
  puts: number,
  batch: number,
  withRequestId: boolean,
): Promise<Figure> {
  const sm = StateMachine.open({ dir });
  const all = entries(puts, withRequestId);
  const figure = timed(puts, () => {
    for (let i = 0; i < all.length; i += batch) sm.applyBatch(all.slice(i, i + batch));
  });
  await sm.close();
  return figure;
}

async function anchorRun(dir: string, puts: number, batch: number): Promise<Figure> {
  mkdirSync(dir, { recursive: true });
  const env = open<Buffer, string>({
    path: join(dir, 'raw.mdb'),
    noSubdir: true,
    maxDbs: 12,
    encoding: 'binary',
  });
  const binary = { encoding: 'binary', keyEncoding: 'binary' } as const;
  const keys = env.openDB<Buffer, Uint8Array>({ name: 'keys', ...binary });
  const history = env.openDB<Buffer, Uint8Array>({ name: 'history', ...binary });
  const index = env.openDB<Buffer, Uint8Array>({ name: 'index', ...binary });
  const meta = env.openDB<Buffer, string>({ name: 'meta', encoding: 'binary' });
  const value = Buffer.alloc(valueBytes + 40, 'v');
  const state = Buffer.alloc(16, 1);
  const figure = timed(puts, () => {
    for (let i = 0; i < puts; i += batch) {
      env.transactionSync(() => {
        for (let j = i; j < Math.min(puts, i + batch); j++) {
          const key = keyOf(j);
          keys.getBinary(key);
          const revision = Buffer.alloc(12);
          revision.writeUInt32BE(j + 2, 4);
          history.putSync(revision, value, { append: true });
          index.putSync(Buffer.concat([key, Buffer.of(0, 0), revision]), Buffer.of(0));
          keys.putSync(key, state);
        }
        meta.putSync('state', state);
      });
    }
  });
  await env.close();
  return figure;
}

async function throughput(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'flotilla-store-measure-'));
  const cases = [
    { label: 'one entry per transaction', puts: 2000, batch: 1, id: false },
    { label: 'one entry per transaction, with ids', puts: 2000, batch: 1, id: true },
    { label: 'batch of 16 per transaction', puts: 32_000, batch: 16, id: false },
    { label: 'batch of 64 per transaction', puts: 64_000, batch: 64, id: false },
    { label: 'batch of 64 per transaction, with ids', puts: 64_000, batch: 64, id: true },
    { label: 'batch of 256 per transaction', puts: 100_000, batch: 256, id: false },
  ];
  print(`apply throughput, ${valueBytes}-byte values, fsync per transaction, best of ${rounds} rounds`);
  print(`${'case'.padEnd(40)} ${'state machine'.padStart(26)}   ${'raw lmdb anchor'.padStart(26)}   ratio`);
  try {
    for (const c of cases) {
      let best: Figure | undefined;
      let anchor: Figure | undefined;
      for (let round = 0; round < rounds; round++) {
        const dir = join(root, `${c.batch}-${c.id}-${round}`);
        const s = await stateMachineRun(join(dir, 'sm'), c.puts, c.batch, c.id);
        const a = await anchorRun(join(dir, 'raw'), c.puts, c.batch);
        rmSync(dir, { recursive: true, force: true });
        if (best === undefined || s.putsPerSecond > best.putsPerSecond) best = s;
        if (anchor === undefined || a.putsPerSecond > anchor.putsPerSecond) anchor = a;
      }
      const show = (f: Figure) =>
        `${f.putsPerSecond.toFixed(0).padStart(7)} puts/s ${f.cpuMicrosPerPut.toFixed(1).padStart(6)} µs cpu`;
      print(
        `${c.label.padEnd(40)} ${show(best!)}   ${show(anchor!)}   ${(best!.putsPerSecond / anchor!.putsPerSecond).toFixed(2)}`,
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function memory(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc for the memory figures');
  const settle = () => {
    gc();
    gc();
  };
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-store-measure-'));
  try {
    const sm = StateMachine.open({ dir });
    settle();
    const idle = process.memoryUsage().rss;
    const value = Buffer.alloc(valueBytes, 'v');
    const batch = 100;
    for (let i = 0; i < memoryKeys; i += batch) {
      sm.applyBatch(
        Array.from({ length: batch }, (_, j) => ({
          index: i + j + 1,
          data: encodeCommand({ kind: 'put', key: keyOf(i + j), value, requestId: `client-1:${i + j}` }),
        })),
      );
    }
    const count = sm.range({
      key: Buffer.from('/registry/'),
      rangeEnd: Buffer.from('/registry0'),
      countOnly: true,
    }).count;
    settle();
    const loaded = process.memoryUsage();
    const status = sm.status();
    print(`memory: ${count} keys of ${valueBytes} bytes, every put with a request id (dedup table on)`);
    print(
      `  rss idle after open ${mib(idle)}, with the keys ${mib(loaded.rss)} (heap used ${mib(loaded.heapUsed)})`,
    );
    print(`  backend file ${mib(status.dbSizeBytes)}, ${mib(status.dbSizeInUseBytes)} in use`);
    await sm.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await (process.argv[2] === 'memory' ? memory() : throughput());
