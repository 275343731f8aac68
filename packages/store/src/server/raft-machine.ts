import type { Command, StateMachine as RaftStateMachine, SnapshotMeta } from '@flotilla/raft';
import type { StateMachine } from '../mvcc/state-machine.ts';
import type { ApplyResult, LogEntry } from '../mvcc/types.ts';

const noop = new Uint8Array(0);

/**
 * The store's MVCC state machine as Raft sees it. Raft hands over the proposals of a
 * batch and the batch's last index; the MVCC machine wants every index in order (it
 * records the applied index with each write), so the no-ops and membership entries
 * between proposals become empty entries of the same batch: one LMDB transaction.
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
    const entries: LogEntry[] = [];
    let next = this.mvcc.appliedIndex + 1;
    for (const c of commands) {
      for (; next < c.index; next++) entries.push({ index: next, data: noop });
      entries.push({ index: c.index, data: c.payload });
      next = c.index + 1;
    }
    for (; next <= lastIndex; next++) entries.push({ index: next, data: noop });
    if (entries.length === 0) return [];
    const results = this.mvcc.applyBatch(entries);
    // One result per proposal, in order: pick them out of the batch by index.
    const first = entries[0]!.index;
    return commands.map((c) => results[c.index - first]!);
  }

  async snapshot(path: string): Promise<{ index: number }> {
    const info = await this.mvcc.snapshot(path);
    return { index: info.appliedIndex };
  }

  async restore(path: string, _meta: SnapshotMeta): Promise<void> {
    await this.mvcc.restore(path);
  }
}
