import type { Command, StateMachine as RaftStateMachine, SnapshotMeta } from '@flotilla/raft';
import type { StateMachine } from '../mvcc/state-machine.ts';
import type { ApplyResult } from '../mvcc/types.ts';

/**
 * The store's MVCC state machine as Raft sees it: each batch of committed proposals is one
 * LMDB transaction that also records the batch's last index as applied.
 */
export class RaftStoreMachine implements RaftStateMachine {
  readonly mvcc: StateMachine;

  constructor(mvcc: StateMachine) {
    this.mvcc = mvcc;
  }

  appliedIndex(): number {
    return this.mvcc.appliedIndex;
  }

  apply(commands: readonly Command[], lastIndex: number): readonly ApplyResult[] {
    // The indexes between proposals (no-ops, membership changes) are recorded as applied
    // through `lastIndex` in the same transaction.
    return this.mvcc.applyBatch(
      commands.map((c) => ({ index: c.index, data: c.payload })),
      lastIndex,
    );
  }

  async snapshot(path: string): Promise<{ index: number }> {
    const info = await this.mvcc.snapshot(path);
    return { index: info.appliedIndex };
  }

  async restore(path: string, _meta: SnapshotMeta): Promise<void> {
    await this.mvcc.restore(path);
  }
}
