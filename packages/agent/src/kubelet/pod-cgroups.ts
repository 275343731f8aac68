import { readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where a node's pods live in the cgroup tree. Every sandbox gets `<root>/pod<uid>` as
 * its cgroup parent (containerd puts each of the pod's containers below it), so a node's
 * containers never mix with anything else's and its whole subtree can be removed when
 * the node goes away. Like kubelet's pod cgroups, without QoS tiers or pod-level limits.
 */
export interface PodCgroups {
  /** The cgroup parent of the pod's sandbox ('' lets the runtime choose). */
  parentOf(uid: string): string;
  /** Removes the pod's (empty) cgroups once its containers are gone. */
  removePod(uid: string): Promise<void>;
}

/** Mount points of the cgroup hierarchies (every v1 controller, or the v2 unified tree). */
export async function cgroupMounts(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    // Fields after the " - " separator: filesystem type, source, options.
    const [left, right] = line.split(' - ');
    const fstype = right?.split(' ')[0];
    const mountPoint = left?.split(' ')[4];
    if ((fstype === 'cgroup' || fstype === 'cgroup2') && mountPoint !== undefined) out.push(mountPoint);
  }
  return out;
}

/**
 * Removes `path` (relative to each hierarchy's root) and everything below it, deepest
 * first; cgroups still in use stay. With `onlyIfEmpty`, only `path` itself is tried.
 */
export async function removeCgroupTree(
  path: string,
  options: { readonly onlyIfEmpty?: boolean } = {},
): Promise<void> {
  for (const mount of await cgroupMounts()) {
    const dir = join(mount, path);
    if (options.onlyIfEmpty === true) await rmdir(dir).catch(() => undefined);
    else await removeDirTree(dir);
  }
}

async function removeDirTree(dir: string): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeDirTree(join(dir, e.name));
  // A cgroup directory is removed with rmdir even though it lists control files.
  await rmdir(dir).catch(() => undefined);
}

/** Pods under `/flotilla/<node>/pod<uid>` in every hierarchy. */
export class HostPodCgroups implements PodCgroups {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  parentOf(uid: string): string {
    return join(this.root, `pod${uid}`);
  }

  async removePod(uid: string): Promise<void> {
    await removeCgroupTree(this.parentOf(uid));
  }
}

/** The runtime's default placement, nothing to remove (simulated nodes). */
export class NoPodCgroups implements PodCgroups {
  parentOf(): string {
    return '';
  }
  async removePod(): Promise<void> {}
}

/** The cgroup root of a node's pods. */
export function nodeCgroupRoot(nodeName: string): string {
  return `/flotilla/${nodeName}`;
}
