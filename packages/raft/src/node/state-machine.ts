import type { SnapshotMeta } from '../core/types.ts';

/** One committed proposal, handed to the application in log order. */
export interface Command {
  readonly index: number;
  readonly term: number;
  /** The proposal id the driver put in the entry (for the application's own dedup). */
  readonly id: string;
  readonly payload: Uint8Array;
}

/**
 * The application replicated by a Raft node. The driver calls it from one loop, never
 * concurrently, in log order.
 */
export interface StateMachine {
  /**
   * The last index the state machine applied durably. It must survive restarts: the driver
   * does not re-apply entries at or below it (no replay of the whole log on start).
   */
  appliedIndex(): number;
  /**
   * Apply committed entries. `commands` holds the proposals; `lastIndex` is the index of
   * the last entry of the batch (no-ops and membership changes included), which the state
   * machine records as applied in the same durable step. Returns one result per command,
   * in order; results go back to the member that proposed. The promise is the driver's
   * back-pressure: it applies nothing more until it resolves.
   */
  apply(commands: readonly Command[], lastIndex: number): Promise<readonly unknown[]> | readonly unknown[];
  /**
   * Write a consistent copy of the state into `path` and say which applied index it holds.
   * Applies may continue while it is written (the driver does not wait for it), so the
   * copy may be of any index the state machine had applied since the call.
   */
  snapshot(path: string): Promise<{ readonly index: number }>;
  /** Replace the whole state with the snapshot at `path` (taken at `meta.index`). */
  restore(path: string, meta: SnapshotMeta): Promise<void>;
}
