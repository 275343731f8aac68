import {
  type ChainSet,
  type JumpRule,
  type ProxyRules,
  proxyTables,
  renderRule,
  type TableName,
} from './rules.ts';

export type ChainRef = { readonly table: TableName; readonly chain: string };

/** The chains of ours that exist in the kernel, per table (read from iptables-save). */
export type InstalledChains = { readonly [T in TableName]: ReadonlySet<string> };

/**
 * What of ours the kernel has: our chains, and which built-in chains jump into which of
 * ours (`<table> <built-in chain> <our chain>`), read from iptables-save.
 */
export type InstalledState = { readonly chains: InstalledChains; readonly jumps: ReadonlySet<string> };

export function jumpKey(table: TableName, chain: string, target: string): string {
  return `${table} ${chain} ${target}`;
}

/** What one iptables-restore --noflush run changes. */
export type RestorePlan = {
  /** Input for `iptables-restore --noflush`; empty when nothing changes. */
  readonly script: string;
  /** Chains declared (which flushes them) and filled with their desired rules. */
  readonly written: readonly ChainRef[];
  /** Chains flushed and deleted. */
  readonly deleted: readonly ChainRef[];
};

function sameRules(
  a: readonly (readonly string[])[] | undefined,
  b: readonly (readonly string[])[],
): boolean {
  // Unchanged Services keep their rule arrays (rules.ts memoizes them): no need to look inside.
  if (a === b) return true;
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}

/**
 * The restore input that turns the kernel's chains into `desired`, touching only what
 * differs from `applied` (what the last successful sync wrote). With `applied` unknown
 * (first sync, or after a failure) every desired chain is written. Chains of ours that
 * exist but are no longer desired are flushed and deleted.
 *
 * Under --noflush a `:CHAIN` line flushes that one chain (creating it when missing) and
 * leaves every other chain — ours or not — as it is; `-X` lines come after every chain
 * that may still jump to the deleted ones has been rewritten, in the same transaction.
 * `missingJumps` are inserted at the head of their built-in chains in that transaction too.
 */
export function planRestore(
  desired: ProxyRules,
  applied: ProxyRules | undefined,
  installed: InstalledChains,
  missingJumps: readonly JumpRule[] = [],
): RestorePlan {
  const written: ChainRef[] = [];
  const deleted: ChainRef[] = [];
  const sections: string[] = [];
  for (const table of proxyTables) {
    const want: ChainSet = desired[table];
    const had: ChainSet | undefined = applied?.[table];
    const write = [...want.keys()].filter(
      (chain) =>
        had === undefined || !installed[table].has(chain) || !sameRules(had.get(chain), want.get(chain)!),
    );
    const stale = new Set<string>(installed[table]);
    for (const chain of had?.keys() ?? []) stale.add(chain);
    const drop = [...stale].filter((chain) => !want.has(chain)).sort();
    write.sort();
    const jumps = missingJumps.filter((j) => j.table === table);
    if (write.length === 0 && drop.length === 0 && jumps.length === 0) continue;
    const lines = [`*${table}`];
    for (const chain of [...write, ...drop]) lines.push(`:${chain} - [0:0]`);
    for (const chain of write) for (const rule of want.get(chain)!) lines.push(renderRule(chain, rule));
    // At the head of the built-in chain, after the chain it jumps to exists.
    for (const j of jumps) lines.push(renderRule(j.chain, j.rule, 1));
    for (const chain of drop) lines.push(`-X ${chain}`);
    lines.push('COMMIT');
    sections.push(lines.join('\n'));
    written.push(...write.map((chain) => ({ table, chain })));
    deleted.push(...drop.map((chain) => ({ table, chain })));
  }
  return { script: sections.length === 0 ? '' : `${sections.join('\n')}\n`, written, deleted };
}
