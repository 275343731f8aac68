import { runNet } from '../net/command.ts';
import { NetCommandError } from '../net/errors.ts';
import { chainPrefix } from './chain-names.ts';
import type { InstalledChains } from './restore-plan.ts';
import { type JumpRule, proxyTables, type TableName } from './rules.ts';

/** Bound on removing duplicated jump rules at teardown (one is normal; more means a crash mid-start). */
const maxJumpCopies = 16;

/** The chains of ours in the namespace, per table. */
export async function installedChains(netns: string | undefined): Promise<InstalledChains> {
  const chains: Record<TableName, Set<string>> = { nat: new Set(), filter: new Set() };
  for (const table of proxyTables) {
    const saved = await runNet('iptables-save', ['-t', table], { netns });
    for (const line of saved.split('\n')) {
      if (line.startsWith(`:${chainPrefix}`)) chains[table].add(line.slice(1).split(' ')[0]!);
    }
  }
  return chains;
}

/** Applies a restore script to our chains only (`--noflush`: everything not named in it stays). */
export async function restoreChains(netns: string | undefined, script: string): Promise<void> {
  if (script === '') return;
  await runNet('iptables-restore', ['--noflush', '-w', '5'], { netns, input: script });
}

async function jumpExists(netns: string | undefined, jump: JumpRule): Promise<boolean> {
  try {
    await runNet('iptables', ['-w', '5', '-t', jump.table, '-C', jump.chain, ...jump.rule], { netns });
    return true;
  } catch (err) {
    // Exit 1: the rule is not there. Anything else (a missing chain, no iptables) is a real error.
    if (err instanceof NetCommandError && err.exitCode === 1) return false;
    throw err;
  }
}

/** Puts each jump from a built-in chain into ours at the head of that chain, once. */
export async function ensureJumps(netns: string | undefined, jumps: readonly JumpRule[]): Promise<void> {
  for (const jump of jumps) {
    if (await jumpExists(netns, jump)) continue;
    await runNet('iptables', ['-w', '5', '-t', jump.table, '-I', jump.chain, '1', ...jump.rule], { netns });
  }
}

/** Removes our jumps from the built-in chains (every copy, up to a bound). */
export async function removeJumps(netns: string | undefined, jumps: readonly JumpRule[]): Promise<void> {
  for (const jump of jumps) {
    for (let i = 0; i < maxJumpCopies && (await jumpExists(netns, jump)); i++) {
      await runNet('iptables', ['-w', '5', '-t', jump.table, '-D', jump.chain, ...jump.rule], { netns });
    }
  }
}

/** Flushes and deletes every chain of ours, in one transaction per table. */
export async function removeAllChains(netns: string | undefined): Promise<void> {
  const chains = await installedChains(netns);
  const sections: string[] = [];
  for (const table of proxyTables) {
    const names = [...chains[table]].sort();
    if (names.length === 0) continue;
    sections.push(
      [`*${table}`, ...names.map((c) => `:${c} - [0:0]`), ...names.map((c) => `-X ${c}`), 'COMMIT'].join(
        '\n',
      ),
    );
  }
  if (sections.length > 0) await restoreChains(netns, `${sections.join('\n')}\n`);
}
