import { existsSync, readdirSync } from 'node:fs';
import { runNet } from '@flotilla/agent/net';
import { cidrContains, parseCIDR, parseIP } from '@flotilla/api';

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
 * (see `unrelatedTo`), which a test must not fail on.
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

/** What a test owns on the machine: namespace and interface name prefixes, address ranges. */
export type SnapshotScope = { readonly prefixes: readonly string[]; readonly ranges: readonly string[] };

/**
 * Whether a snapshot line has nothing to do with `scope`: it names none of its prefixes,
 * none of the project's chains (FLOTILLA-: none belongs in the root namespace), and no
 * address inside its ranges. (Route protocol 241 alone says nothing: other harnesses
 * guard their own ranges with it.) The machine is shared — other suites create namespaces, bridges and routes
 * while a test runs — so a before/after comparison looks only at lines a test could have
 * caused; any such line left behind, or removed, fails it.
 */
export function unrelatedTo(scope: SnapshotScope): (line: string) => boolean {
  const cidrs = scope.ranges.map((r) => parseCIDR(r)).filter((c) => c !== undefined);
  return (line) => {
    if (line.includes('FLOTILLA-')) return false;
    if (scope.prefixes.some((p) => line.includes(p))) return false;
    for (const m of line.matchAll(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g)) {
      const ip = parseIP(m[0]);
      if (ip !== undefined && cidrs.some((c) => cidrContains(c, ip))) return false;
    }
    return true;
  };
}
