import { join } from 'node:path';
import type { Logger } from '@flotilla/actor';
import { emptyHardState, type NodeId, openSnapshotStore, openWal } from '@flotilla/raft';
import { StateMachine } from '../mvcc/state-machine.ts';

/**
 * Disaster recovery: turn a snapshot file (from `StoreClient.snapshot`) into the data
 * directory of one member of a brand-new cluster whose voters are `members`. Every member
 * of the new cluster is prepared from the same file with the same member list; started,
 * they hold the snapshot's key space and elect a leader (etcd's `snapshot restore`).
 *
 * The state machine is restored from the file; a Raft snapshot at its applied index, with
 * the new configuration, is written beside an empty log, so the node starts as if it had
 * just installed that snapshot.
 */
export async function restoreMemberFromSnapshot(options: {
  readonly dir: string;
  readonly snapshotFile: string;
  readonly members: readonly NodeId[];
  readonly log?: Logger;
}): Promise<{ appliedIndex: number; revision: number }> {
  const mvcc = StateMachine.open({ dir: join(options.dir, 'state'), log: options.log });
  try {
    if (mvcc.appliedIndex > 0)
      throw new Error(`${options.dir} already holds a store (applied index ${mvcc.appliedIndex})`);
    await mvcc.restore(options.snapshotFile);
    const index = Math.max(1, mvcc.appliedIndex);
    const meta = { index, term: 1, conf: { voters: [...options.members].sort(), learners: [] } };
    const snapshots = await openSnapshotStore(join(options.dir, 'raft', 'snap'), { log: options.log });
    await snapshots.save(meta, async (path) => {
      await mvcc.snapshot(path);
    });
    await snapshots.close();
    const { wal } = await openWal(join(options.dir, 'raft', 'wal'), { log: options.log });
    wal.recordSnapshot(meta);
    wal.append([], { ...emptyHardState, term: 1, commit: index });
    await wal.close();
    return { appliedIndex: mvcc.appliedIndex, revision: mvcc.revision };
  } finally {
    await mvcc.close();
  }
}
