import { runNet } from '../net/command.ts';
import { NetCommandError } from '../net/errors.ts';
import { chainPrefix } from './chain-names.ts';
import { type InstalledState, jumpKey } from './restore-plan.ts';
import { type JumpRule, jumpTarget, proxyTables, type TableName } from './rules.ts';

/** Bound on removing duplicated jump rules at teardown (one is normal; more means a crash mid-start). */
const maxJumpCopies = 16;

const builtinJump = new RegExp(
  `^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j (${chainPrefix}[A-Z0-9-]+)$`,
);

/** Our chains in the namespace, and the jumps from built-in chains into them. */
export async function readInstalled(netns: string | undefined): Promise<InstalledState> {
  const chains: Record<TableName, Set<string>> = { nat: new Set(), filter: new Set() };
  const jumps = new Set<string>();
  for (const table of proxyTables) {
    const saved = await runNet('iptables-save', ['-t', table], { netns });
    for (const line of saved.split('\n')) {
      if (line.startsWith(`:${chainPrefix}`)) chains[table].add(line.slice(1).split(' ')[0]!);
      const jump = builtinJump.exec(line);
      if (jump !== null) jumps.add(jumpKey(table, jump[1]!, jump[2]!));
    }
  }
  return { chains, jumps };
}

/** The jumps of `wanted` the kernel does not have. */
export function missingJumps(state: InstalledState, wanted: readonly JumpRule[]): readonly JumpRule[] {
  return wanted.filter((j) => !state.jumps.has(jumpKey(j.table, j.chain, jumpTarget(j.rule) ?? '')));
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
  const { chains } = await readInstalled(netns);
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
