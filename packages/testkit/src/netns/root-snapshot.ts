import { existsSync, readdirSync } from 'node:fs';
import { runNet } from '@flotilla/agent/net';

/**
 * What the machine's root network namespace looks like: its routes (every table), policy
 * rules, iptables rules (without counters and timestamps), interface names, and named
 * namespaces. Taken before and after a test, the two must be equal: the test left
 * nothing behind and changed nothing it did not create.
 */
export type RootNetworkSnapshot = {
  readonly routes: readonly string[];
  readonly rules: readonly string[];
  readonly iptables: readonly string[];
  readonly links: readonly string[];
  readonly netns: readonly string[];
  readonly etcNetns: readonly string[];
};

const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');

function dir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

export async function rootNetworkSnapshot(): Promise<RootNetworkSnapshot> {
  const saved = await runNet('iptables-save', []);
  return {
    routes: lines(await runNet('ip', ['route', 'show', 'table', 'all'])).sort(),
    rules: lines(await runNet('ip', ['rule', 'show'])),
    // Counters and the save's own timestamps change by themselves.
    iptables: lines(saved)
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[]')),
    links: lines(await runNet('ip', ['-o', 'link', 'show']))
      .map((l) => l.split(':')[1]!.trim().split('@')[0]!)
      .sort(),
    netns: dir('/run/netns'),
    etcNetns: existsSync('/etc/netns') ? ['(directory exists)', ...dir('/etc/netns')] : [],
  };
}

export type SnapshotDiff = { readonly added: readonly string[]; readonly removed: readonly string[] };

/**
 * The lines that differ between two snapshots, each prefixed with its part. `ignore`
 * names lines that belong to something else running on the machine at the same time
 * (another suite's agent in the root namespace), which a test must not fail on.
 */
export function diffSnapshots(
  before: RootNetworkSnapshot,
  after: RootNetworkSnapshot,
  ignore: (line: string) => boolean = () => false,
): SnapshotDiff {
  const added: string[] = [];
  const removed: string[] = [];
  for (const part of Object.keys(before) as (keyof RootNetworkSnapshot)[]) {
    const a = new Set(before[part]);
    const b = new Set(after[part]);
    for (const l of b) if (!a.has(l) && !ignore(l)) added.push(`${part}: ${l}`);
    for (const l of a) if (!b.has(l) && !ignore(l)) removed.push(`${part}: ${l}`);
  }
  return { added, removed };
}

/**
 * What the agent suites create in the root namespace while they run (their CNI bridge
 * `flo<hash>`, its veths, its blackhole route at metric 4242, their containerd's
 * iptables-free setup): other engineers run them on this machine concurrently.
 */
export function isConcurrentAgentSuiteLine(line: string): boolean {
  return /\bflo[0-9a-f]{10}\b|\bveth[0-9a-f]{8}\b|\bmetric 4242\b/.test(line);
}
