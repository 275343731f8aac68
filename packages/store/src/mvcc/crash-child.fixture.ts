/**
 * The crash test's workload and its child process. Run as a script it opens the state
 * machine in `dir` and applies the workload's entries after the stored applied index, in
 * batches of random size, until all are applied, printing "ready" when it starts (the
 * test SIGKILLs it at random moments). Imported, it gives the test the same entries.
 *
 *   node crash-child.fixture.ts <dir> <seed> <count>
 */
import { encodeCommand } from './commands.ts';
import { StateMachine } from './state-machine.ts';
import type { Command, LogEntry } from './types.ts';

/** A small seeded PRNG (mulberry32): the workload must be the same in every process. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` log entries (index 1..count): every command kind, no-ops, garbage and retries. */
export function crashWorkload(seed: number, count: number): LogEntry[] {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const key = () => Buffer.from(`/registry/k${int(60).toString().padStart(2, '0')}`);
  const value = () => Buffer.alloc(16 + int(300), 97 + int(26));
  const leases: number[] = [];
  const issued: Command[] = [];
  let nextLease = 1;
  let revisionGuess = 1;
  const entries: LogEntry[] = [];
  for (let index = 1; index <= count; index++) {
    const roll = int(100);
    let command: Command | 'noop' | 'garbage';
    if (roll < 40) command = { kind: 'put', key: key(), value: value(), prevKv: rand() < 0.3 };
    else if (roll < 48)
      command = { kind: 'deleteRange', key: key(), rangeEnd: rand() < 0.3 ? key() : undefined };
    else if (roll < 60) {
      const k = key();
      command = {
        kind: 'txn',
        compare: [{ key: k, target: 'version', version: int(3), result: rand() < 0.5 ? '=' : '>' }],
        success: [
          { op: 'put', key: k, value: value() },
          { op: 'range', key: Buffer.from('/registry/'), rangeEnd: Buffer.from('/registry0'), limit: 5 },
        ],
        failure: [{ op: 'deleteRange', key: k }],
      };
    } else if (roll < 65) {
      const id = nextLease++;
      leases.push(id);
      command = { kind: 'leaseGrant', id, ttlSeconds: 10 + int(100) };
    } else if (roll < 72 && leases.length > 0) {
      command = { kind: 'put', key: key(), value: value(), lease: leases[int(leases.length)]! };
    } else if (roll < 75 && leases.length > 0) {
      command = { kind: 'leaseRevoke', id: leases.splice(int(leases.length), 1)[0]! };
    } else if (roll < 77 && leases.length > 0) {
      command = { kind: 'leaseExpire', ids: leases.splice(0, 1 + int(2)) };
    } else if (roll < 79 && leases.length > 0) {
      command = {
        kind: 'leaseCheckpoint',
        checkpoints: [{ id: leases[int(leases.length)]!, remainingTtlSeconds: int(50) }],
      };
    } else if (roll < 81) {
      // Often refused (future or already compacted): refusals must be atomic too.
      command = { kind: 'compact', revision: Math.max(1, revisionGuess - int(200)) };
    } else if (roll < 86 && issued.length > 0) {
      command = issued[int(issued.length)]!; // a retry
    } else if (roll < 93) {
      command = 'noop';
    } else if (roll < 95) {
      command = 'garbage';
    } else {
      command = { kind: 'put', key: key(), value: value(), requestId: `req-${index}` };
      issued.push(command);
    }
    if (command !== 'noop' && command !== 'garbage' && command.kind !== 'compact') revisionGuess++;
    const data =
      command === 'noop'
        ? new Uint8Array(0)
        : command === 'garbage'
          ? Uint8Array.of(0xde, 0xad)
          : encodeCommand(command);
    entries.push({ index, data });
  }
  return entries;
}

async function main(): Promise<void> {
  const [dir, seedText, countText] = process.argv.slice(2);
  if (dir === undefined || seedText === undefined || countText === undefined) {
    throw new Error('usage: crash-child.fixture.ts <dir> <seed> <count>');
  }
  const entries = crashWorkload(Number(seedText), Number(countText));
  const sm = StateMachine.open({ dir, compactionRecordsPerStep: 50 });
  process.stdout.write(`ready ${sm.appliedIndex}\n`);
  while (sm.appliedIndex < entries.length) {
    const from = sm.appliedIndex;
    const size = 1 + Math.floor(Math.random() * 8);
    sm.applyBatch(entries.slice(from, from + size));
    // Let compaction steps interleave, as they do in a server.
    if (Math.random() < 0.2) await new Promise((resolve) => setImmediate(resolve));
  }
  await sm.compactionIdle();
  process.stdout.write(`done ${sm.appliedIndex}\n`);
  await sm.close();
}

if (import.meta.main) await main();
