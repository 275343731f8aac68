import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, tempDir } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';
import { Wal } from './wal.ts';
import { entryData } from './wal-test-helpers.ts';

const child = new URL('./wal-kill-child.ts', import.meta.url).pathname;

function ackedIn(logFile: string): number[] {
  return [...readFileSync(logFile, 'utf8').matchAll(/^acked (\d+)$/gm)].map((m) => Number(m[1]));
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('WAL killed with SIGKILL', () => {
  it('recovers every entry whose sync had resolved, intact, after each of three kills', async () => {
    const dir = tempDir('wal-kill');
    const logFile = join(dir, 'child.log');
    const proc = new ManagedProcess({
      name: 'wal-writer',
      command: process.execPath,
      args: [child, join(dir, 'wal'), '20000'],
      logFile,
    });
    let ackedBefore = 0;
    for (let round = 0; round < 3; round++) {
      proc.start();
      // Kill at a different depth each round, while syncs are in flight.
      const target = ackedIn(logFile).length + 20 + round * 37;
      await waitFor('acknowledgements', () => ackedIn(logFile).length >= target, 20_000);
      const exit = await proc.kill();
      expect(exit.signal).toBe('SIGKILL');
      const acked = Math.max(...ackedIn(logFile));
      expect(acked).toBeGreaterThan(ackedBefore);
      ackedBefore = acked;

      const { wal, recovered } = await Wal.open(join(dir, 'wal'));
      await wal.close();
      const { entries } = recovered;
      expect(entries.length).toBeGreaterThanOrEqual(acked);
      for (const [i, e] of entries.entries()) {
        expect(e.index).toBe(i + 1);
        if (i > 0) expect(e.term).toBeGreaterThanOrEqual(entries[i - 1]!.term);
        expect(Buffer.from(e.data).equals(Buffer.from(entryData(e.index, e.term, 256)))).toBe(true);
      }
      expect(recovered.hardState.commit).toBeLessThanOrEqual(entries.length);
    }
  });
});
