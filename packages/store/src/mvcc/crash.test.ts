import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, tempDir } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';
import { crashWorkload, prng } from './crash-child.fixture.ts';
import { StateMachine } from './state-machine.ts';

/**
 * Crash consistency: a child process applies a workload and is SIGKILLed at random
 * moments; after each kill the backend must equal, exactly, a fresh state machine that
 * applied the entries up to the stored applied index, and the child resumes from there.
 */

const entryCount = 2500;
const kills = 5;
// The moment of each kill, after the child says it is applying: up to this many ms.
const maxKillDelayMs = 150;
const readyTimeoutMs = 15_000;
const referenceBatchEntries = 200;

const fixture = new URL('./crash-child.fixture.ts', import.meta.url).pathname;

function readLog(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

async function waitForLine(
  logFile: string,
  pattern: RegExp,
  occurrence: number,
  child: ManagedProcess,
): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  const seen = () => (readLog(logFile).match(pattern) ?? []).length >= occurrence;
  for (;;) {
    if (seen()) return;
    if (!child.running) {
      // It may have printed the line just before exiting (a child with little left to do).
      if (seen()) return;
      const exit = await child.waitExit();
      throw new Error(`child exited early (code ${exit.code}, signal ${exit.signal}):\n${readLog(logFile)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`child did not print ${pattern} within ${readyTimeoutMs} ms:\n${readLog(logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function fingerprint(sm: StateMachine) {
  const { appliedIndex, revision, compactedRevision } = sm.status();
  const revisions = [0, Math.max(1, compactedRevision), Math.max(1, compactedRevision, revision - 7)];
  return {
    appliedIndex,
    revision,
    compactedRevision,
    hashes: revisions.map((r) => sm.hash(r)),
    leases: sm
      .leases()
      .map((l) => ({ ...l, keys: sm.lease(l.id)?.keys.map((k) => Buffer.from(k).toString()) })),
  };
}

describe('crash consistency', () => {
  it('after SIGKILL at random moments, the state is exactly the stored applied prefix', async () => {
    const seed = Number(process.env.STORE_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stdout.write(`crash test seed ${seed} (STORE_CRASH_SEED=${seed} replays the workload)\n`);
    const rand = prng(seed);
    const entries = crashWorkload(seed, entryCount);
    const dir = tempDir('store-crash');
    const logFile = join(dir, 'child.log');
    const child = new ManagedProcess({
      name: 'store-crash-child',
      command: process.execPath,
      args: [fixture, join(dir, 'member'), String(seed), String(entryCount)],
      logFile,
    });
    const reference = StateMachine.open({ dir: join(dir, 'reference') });
    try {
      let lastApplied = 0;
      const catchUpReference = (to: number) => {
        while (reference.appliedIndex < to) {
          const from = reference.appliedIndex;
          reference.applyBatch(entries.slice(from, Math.min(to, from + referenceBatchEntries)));
        }
      };
      for (let round = 1; round <= kills + 1; round++) {
        child.start();
        await waitForLine(logFile, /^ready /gm, round, child);
        if (round <= kills) {
          await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * maxKillDelayMs)));
          await child.kill();
        } else {
          const exit = await child.waitExit();
          expect(exit.code, readFileSync(logFile, 'utf8')).toBe(0);
        }
        const member = StateMachine.open({ dir: join(dir, 'member') });
        try {
          const applied = member.appliedIndex;
          // Committed transactions survive a process crash: nothing applied is ever lost.
          expect(applied).toBeGreaterThanOrEqual(lastApplied);
          lastApplied = applied;
          catchUpReference(applied);
          expect(fingerprint(member), `round ${round}, applied index ${applied}`).toEqual(
            fingerprint(reference),
          );
        } finally {
          await member.close();
        }
      }
      expect(lastApplied).toBe(entryCount);
    } finally {
      await child.dispose();
      await reference.close();
    }
  }, 120_000);
});
