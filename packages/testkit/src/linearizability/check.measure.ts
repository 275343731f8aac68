/**
 * How long the checker takes on a history the size of a chaos run, and what its memo costs.
 *
 *   node packages/testkit/src/linearizability/check.measure.ts \
 *     [--operations 40000] [--keys 8] [--clients 16] [--unknown-rate 0.01] [--seed 1]
 *
 * The history is simulated (a correct map under 16 concurrent clients, 1% of outcomes lost,
 * half of those applied up to 200 ms later), then checked as is and with one read changed
 * to a value the key held earlier, which the checker must find illegal.
 */
import { parseArgs } from 'node:util';
import { check } from './check.ts';
import type { Operation } from './history.ts';
import { type KvInput, type KvOutput, kvModel } from './kv-model.ts';
import { defaultSimulation, kvWorkload, simulateHistory } from './simulate.ts';

const { values } = parseArgs({
  options: {
    operations: { type: 'string', default: '40000' },
    keys: { type: 'string', default: '8' },
    clients: { type: 'string', default: '16' },
    'unknown-rate': { type: 'string', default: '0.01' },
    seed: { type: 'string', default: '1' },
  },
});
const operations = Number(values.operations);
const keys = Number(values.keys);
const clients = Number(values.clients);
const unknownRate = Number(values['unknown-rate']);
const seed = Number(values.seed);

const print = (line: string) => process.stdout.write(`${line}\n`);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

const history = simulateHistory(kvWorkload(Array.from({ length: keys }, (_, i) => `key-${i}`)), {
  ...defaultSimulation,
  seed,
  clients,
  operations,
  unknownRate,
});
const unknown = history.filter((op) => op.kind === 'unknown').length;
print(
  `history: ${operations} operations, ${clients} clients, ${keys} keys, ${unknown} of unknown outcome ` +
    `(seed ${seed}; simulated time ${(history.at(-1)!.callMs / 1000).toFixed(1)} s)`,
);

measure('as recorded', history);
measure('one read made stale', staleRead(history));
measureMemo();

function measure(label: string, ops: readonly Operation<KvInput, KvOutput>[]): void {
  let peakHeap = process.memoryUsage().heapUsed;
  const baseHeap = peakHeap;
  // The budget clock is read every ~1,000 search steps: a cheap place to sample the heap.
  const now = () => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    return performance.now();
  };
  const cpuBefore = process.cpuUsage();
  const result = check(kvModel, ops, { now, timeoutMs: 120_000 });
  const cpu = process.cpuUsage(cpuBefore);
  const slowest = result.partitions.reduce((a, b) => (b.stats.elapsedMs > a.stats.elapsedMs ? b : a));
  const steps = result.partitions.reduce((sum, p) => sum + p.stats.steps, 0);
  print(
    `${label}: ${result.result} in ${result.elapsedMs.toFixed(0)} ms wall, ` +
      `${((cpu.user + cpu.system) / 1000).toFixed(0)} ms cpu; ${steps} model steps; slowest partition ` +
      `${slowest.label} ${slowest.stats.elapsedMs.toFixed(0)} ms, ${slowest.stats.cacheEntries} memo entries; ` +
      `heap peak +${mib(peakHeap - baseHeap)}`,
  );
}

/** The same history with the read at ~70% changed to a value its key held ~200 operations before. */
function staleRead(ops: readonly Operation<KvInput, KvOutput>[]): Operation<KvInput, KvOutput>[] {
  for (let i = Math.floor(ops.length * 0.7); i < ops.length; i++) {
    const op = ops[i]!;
    if (op.kind !== 'ok' || op.input.kind !== 'get') continue;
    const key = op.input.key;
    for (let j = i - 200; j >= 0; j--) {
      const earlier = ops[j]!;
      if (earlier.kind === 'ok' && earlier.input.kind === 'put' && earlier.input.key === key) {
        const changed = { ...op, output: { kind: 'get' as const, value: earlier.input.value } };
        return ops.map((o, k) => (k === i ? changed : o));
      }
    }
  }
  throw new Error('no read to change');
}

/** Fill the memo on a history with no linearization and a huge search space, and weigh it. */
function measureMemo(): void {
  const entries = 200_000;
  const hard: Operation<KvInput, KvOutput>[] = [
    ...Array.from(
      { length: 24 },
      (_, i): Operation<KvInput, KvOutput> => ({
        kind: 'ok',
        client: i,
        input: { kind: 'put', key: 'k', value: `v${i}` },
        output: { kind: 'put' },
        callMs: 0,
        returnMs: 100,
      }),
    ),
    {
      kind: 'ok',
      client: 99,
      input: { kind: 'get', key: 'k' },
      output: { kind: 'get', value: 'none' },
      callMs: 0,
      returnMs: 100,
    },
  ];
  let peakHeap = process.memoryUsage().heapUsed;
  const baseHeap = peakHeap;
  const now = () => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    return performance.now();
  };
  const result = check(kvModel, hard, { now, maxCacheEntries: entries, timeoutMs: 120_000 });
  print(
    `memo: ${result.result} after ${entries} entries in ${result.elapsedMs.toFixed(0)} ms; ` +
      `heap peak +${mib(peakHeap - baseHeap)}, about ${((peakHeap - baseHeap) / entries).toFixed(0)} bytes per entry`,
  );
}
