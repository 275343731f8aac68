import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FlotillaError, sleep } from '@flotilla/actor';
import { registerCleanup } from '../cleanup.ts';

/** Where the locks live: tmpfs, so a reboot clears them. */
export const netnsLockDir = '/run/flotilla-netns-locks';
/** How often a waiting run looks again. */
const lockPollMs = 250;

export class NetnsScopeBusyError extends FlotillaError {
  constructor(name: string, holder: number, waitedMs: number) {
    super(
      'NetnsScopeBusy',
      `network scope ${name} is held by pid ${holder} after ${waitedMs} ms of waiting`,
      {
        name,
        holder,
      },
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Serializes, across processes, the runs that use one set of namespace names and address
 * ranges (one test file run twice at once — say by two people running the whole e2e
 * project — would otherwise sweep away each other's namespaces and guard routes). Held
 * until the test file ends or the process exits; a lock whose holder died is taken over.
 * Take it before the root-namespace snapshot, so the snapshot sees no other run's objects.
 */
export async function lockNetnsScope(name: string, maxWaitMs: number): Promise<void> {
  mkdirSync(netnsLockDir, { recursive: true });
  const file = join(netnsLockDir, `${name}.lock`);
  const started = Date.now();
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = () => {
        try {
          if (readFileSync(file, 'utf8') === String(process.pid)) rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
      registerCleanup({ name: `netns scope lock ${name}`, run: release, onExit: release });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(file, 'utf8').trim() || 'NaN');
    if (!Number.isInteger(holder) || !isAlive(holder)) {
      // The holder died without releasing (or is mid-write: then a retry sees its pid).
      if (Number.isInteger(holder)) rmSync(file, { force: true });
      else await sleep(lockPollMs);
      continue;
    }
    if (Date.now() - started > maxWaitMs) throw new NetnsScopeBusyError(name, holder, Date.now() - started);
    await sleep(lockPollMs);
  }
}
