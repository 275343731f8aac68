/** The state a driver recovered from disk, and the checks that it is one a correct driver could have written. */
import { decodeConfEntry, isConfState, isNodeId } from './conf.ts';
import { checkEntryList, checkSnapshotMeta } from './messages.ts';
import type { ConfState, Entry, HardState, SnapshotMeta } from './types.ts';

/** What the driver recovered from disk at start. */
export interface RestoreState {
  readonly hardState: HardState;
  /** The latest snapshot; the log continues after its index. */
  readonly snapshot?: SnapshotMeta;
  /** Contiguous entries after the snapshot (from index 1 when there is none). */
  readonly entries: readonly Entry[];
  /** Already applied by the state machine: not handed out again as committed. Default: the snapshot's index. */
  readonly applied?: number;
  /**
   * A brand-new cluster's initial configuration (no snapshot, empty log, zero hard state).
   * Every founding member must be given the same one: it becomes their identical first entry.
   */
  readonly bootstrap?: ConfState;
}

/** Why `restore` is not a state a correct driver could have persisted, or null. */
export function checkRestore(restore: RestoreState): string | null {
  if (typeof restore !== 'object' || restore === null) return 'restore state is not an object';
  const hs = restore.hardState;
  if (typeof hs !== 'object' || hs === null) return 'hardState is missing';
  if (!Number.isSafeInteger(hs.term) || hs.term < 0) return 'hardState.term is not a non-negative integer';
  if (hs.vote !== null && !isNodeId(hs.vote)) return 'hardState.vote is neither null nor a member id';
  if (!Number.isSafeInteger(hs.commit) || hs.commit < 0)
    return 'hardState.commit is not a non-negative integer';
  if (restore.snapshot !== undefined) {
    const problem = checkSnapshotMeta(restore.snapshot);
    if (problem !== null) return problem;
  }
  const snapIndex = restore.snapshot?.index ?? 0;
  const snapTerm = restore.snapshot?.term ?? 0;
  const entryProblem = checkEntryList(restore.entries, snapIndex, snapTerm, hs.term);
  if (entryProblem !== null) return entryProblem;
  const lastIndex = snapIndex + restore.entries.length;
  if (hs.commit > lastIndex) return `hardState.commit ${hs.commit} is past the last index ${lastIndex}`;
  const commit = Math.max(hs.commit, snapIndex);
  const applied = restore.applied ?? snapIndex;
  if (!Number.isSafeInteger(applied) || applied < snapIndex || applied > commit)
    return `applied ${String(restore.applied)} is outside [${snapIndex}, ${commit}]`;
  for (const e of restore.entries) {
    if (e.type === 'conf' && decodeConfEntry(e.data) === null)
      return `entry ${e.index} is not a configuration`;
  }
  if (restore.bootstrap !== undefined) {
    if (restore.snapshot !== undefined || restore.entries.length > 0 || hs.term !== 0 || hs.vote !== null)
      return 'bootstrap is only for a brand-new member: no snapshot, no entries, zero hard state';
    if (!isConfState(restore.bootstrap) || restore.bootstrap.voters.length === 0)
      return 'bootstrap must name at least one voter, each member once';
  }
  return null;
}
