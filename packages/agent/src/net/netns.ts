import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '@flotilla/actor';
import { removeIgnoringMissing, runNet } from './command.ts';
import { InvalidNetworkSpecError } from './errors.ts';

/** Where `ip netns` keeps its named namespaces. */
export const netnsRunDir = '/run/netns';
/** Files `ip netns exec` bind-mounts over /etc inside a namespace (resolv.conf, hosts). */
export const netnsEtcDir = '/etc/netns';
/** How long deleting a namespace waits for the processes in it to die after SIGKILL. */
const netnsProcessExitWaitMs = 5_000;
const netnsProcessPollMs = 20;

/** Names stay short and plain: they become file names and parts of interface names. */
export function checkNetnsName(name: string): void {
  if (!/^[a-z0-9][a-z0-9-]{0,47}$/.test(name)) {
    throw new InvalidNetworkSpecError(
      `network namespace name ${JSON.stringify(name)} is not [a-z0-9-]{1,48}`,
    );
  }
}

export function netnsExists(name: string): boolean {
  return existsSync(join(netnsRunDir, name));
}

/** The named namespaces on the machine. */
export function listNetns(): readonly string[] {
  try {
    return readdirSync(netnsRunDir).sort();
  } catch {
    return [];
  }
}

/** Creates a named namespace with its loopback up. */
export async function createNetns(name: string): Promise<void> {
  checkNetnsName(name);
  await runNet('ip', ['netns', 'add', name]);
  await runNet('ip', ['link', 'set', 'lo', 'up'], { netns: name });
}

/** The processes whose network namespace is `name`. */
export async function netnsPids(name: string): Promise<readonly number[]> {
  const out = await runNet('ip', ['netns', 'pids', name]);
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

/**
 * Deletes a namespace and everything in it. Processes still inside would keep it (and
 * its interfaces, routes and rules) alive after the name is gone, so they are killed
 * first; the interfaces go with the namespace, and a veth's peer with them.
 */
export async function deleteNetns(name: string): Promise<void> {
  checkNetnsName(name);
  if (netnsExists(name)) {
    const pids = await netnsPids(name).catch(() => []);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + netnsProcessExitWaitMs;
    while (pids.some(isAlive) && Date.now() < deadline) await sleep(netnsProcessPollMs);
    await removeIgnoringMissing(runNet('ip', ['netns', 'delete', name]));
  }
  rmSync(join(netnsEtcDir, name), { recursive: true, force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
