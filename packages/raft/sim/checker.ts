/**
 * The safety properties of Raft (§5.2–§5.4, Figure 3), plus linearizable reads, checked
 * incrementally after every simulated event. Each check is cheap enough to run on every
 * step: it looks only at what changed since the last one.
 */
import type { Entry, NodeId, ReadState } from '../src/core/index.ts';
import { chainHash, entryKey, type NodeObserver, type SimNode, type StoredSnapshot } from './node.ts';

export interface Violation {
  readonly property: string;
  readonly detail: string;
}

interface LeaderTenure {
  readonly term: number;
  /** Committed indices up to here were checked against this leader's log. */
  cursor: number;
  lastIndex: number;
  lastTerm: number | undefined;
  /** The last index of the entries this leader's previous Ready persisted. */
  readyLast: number;
}

interface NodeRecord {
  lastCommit: number;
  tenure: LeaderTenure | null;
}

export class Checker implements NodeObserver {
  readonly violations: Violation[] = [];
  /** Largest commit index any member has reported. */
  maxCommit = 0;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Per index: the term of the entry committed there, and the term of whoever first saw it committed. */
  private readonly committedTerm: number[] = [];
  private readonly committedInTerm: number[] = [];
  /** The one history every state machine must follow: per index, the applied entry's key and the state hash after it. */
  private readonly historyKey: number[] = [];
  private readonly historyHash: number[] = [0];
  /** Log Matching: (index, term) → what it must hold (its key mixed with the previous entry's term). */
  private readonly logRegistry = new Map<number, number>();
  private readonly nodes = new Map<NodeId, NodeRecord>();
  /** Reads in flight: context → the commit index any member had reached when the read began. */
  private readonly readFloor = new Map<string, number>();
  readonly onViolation: ((v: Violation) => void) | null;
  /** Counters for the summary. */
  elections = 0;
  readsChecked = 0;
  snapshotsInstalled = 0;

  constructor(onViolation: ((v: Violation) => void) | null = null) {
    this.onViolation = onViolation;
  }

  private fail(property: string, detail: string): void {
    const v = { property, detail };
    this.violations.push(v);
    this.onViolation?.(v);
  }

  private record(id: NodeId): NodeRecord {
    let r = this.nodes.get(id);
    if (r === undefined) {
      r = { lastCommit: 0, tenure: null };
      this.nodes.set(id, r);
    }
    return r;
  }

  /** A member (re)started: its commit index restarts from what it had persisted. */
  started(node: SimNode): void {
    const r = this.record(node.id);
    r.lastCommit = node.raft!.commitIndex;
    r.tenure = null;
  }

  /** After every event, for every member that is up. */
  afterEvent(node: SimNode): void {
    const raft = node.raft;
    if (raft === null) return;
    const r = this.record(node.id);
    const term = raft.term;

    // Election Safety (§5.2): at most one leader per term.
    if (raft.role === 'leader') {
      const leader = this.leaderOfTerm.get(term);
      if (leader === undefined) {
        this.leaderOfTerm.set(term, node.id);
        this.elections++;
      } else if (leader !== node.id) {
        this.fail('election safety', `${node.id} and ${leader} are both leaders of term ${term}`);
      }
    }

    // The commit index never goes back, and every member commits the same entry at an index.
    const commit = raft.commitIndex;
    if (commit < r.lastCommit) {
      this.fail('commit monotonic', `${node.id} commit index went back from ${r.lastCommit} to ${commit}`);
    }
    for (let i = r.lastCommit + 1; i <= commit; i++) {
      const t = raft.termAt(i);
      if (t === undefined) continue;
      const known = this.committedTerm[i];
      if (known === undefined) {
        this.committedTerm[i] = t;
        this.committedInTerm[i] = term;
      } else if (known !== t) {
        this.fail(
          'state machine safety',
          `${node.id} committed term ${t} at ${i}, where term ${known} was committed`,
        );
      }
    }
    if (commit > r.lastCommit) r.lastCommit = commit;
    if (commit > this.maxCommit) this.maxCommit = commit;

    if (raft.role !== 'leader') {
      r.tenure = null;
      return;
    }
    if (r.tenure === null || r.tenure.term !== term) {
      const last = raft.lastIndex;
      r.tenure = {
        term,
        cursor: raft.firstIndex - 1,
        lastIndex: last,
        lastTerm: raft.termAt(last),
        readyLast: 0,
      };
    }
    const tenure = r.tenure;
    // Leader Completeness (§5.4): a leader holds every entry committed in an earlier term.
    for (let i = Math.max(tenure.cursor, raft.firstIndex - 1) + 1; i <= this.maxCommit; i++) {
      const inTerm = this.committedInTerm[i];
      if (inTerm === undefined || inTerm >= term) continue;
      const t = raft.termAt(i);
      if (t !== this.committedTerm[i]) {
        this.fail(
          'leader completeness',
          `${node.id}, leader of term ${term}, has term ${String(t)} at ${i}, where term ${this.committedTerm[i]} was committed in term ${inTerm}`,
        );
      }
    }
    tenure.cursor = Math.max(tenure.cursor, this.maxCommit);
    // Leader Append-Only (§5.3): a leader never removes or rewrites its entries.
    if (raft.lastIndex < tenure.lastIndex || raft.termAt(tenure.lastIndex) !== tenure.lastTerm) {
      this.fail(
        'leader append-only',
        `${node.id}, leader of term ${term}, rewrote its log at or before ${tenure.lastIndex}`,
      );
    }
    tenure.lastIndex = raft.lastIndex;
    tenure.lastTerm = raft.termAt(raft.lastIndex);
  }

  /** A Ready was taken from `node`: a leader's Readies only ever add entries after the last ones. */
  readyTaken(node: SimNode, entries: readonly Entry[]): void {
    const tenure = this.nodes.get(node.id)?.tenure;
    if (tenure === null || tenure === undefined || entries.length === 0 || node.raft?.term !== tenure.term)
      return;
    const first = entries[0]!.index;
    if (first <= tenure.readyLast) {
      this.fail(
        'leader append-only',
        `${node.id}, leader of term ${tenure.term}, rewrites persisted entries from ${first}`,
      );
    }
    tenure.readyLast = entries[entries.length - 1]!.index;
  }

  // ---- NodeObserver -------------------------------------------------------------------------

  /** Log Matching (§5.3): two entries with the same index and term hold the same data and follow the same entry. */
  entriesPersisted(node: SimNode, entries: readonly Entry[], prevTerm: number): void {
    let prev = prevTerm;
    for (const e of entries) {
      const slot = e.index * 65536 + e.term;
      const identity = chainHash(prev, entryKey(e));
      const known = this.logRegistry.get(slot);
      if (known === undefined) this.logRegistry.set(slot, identity);
      else if (known !== identity) {
        this.fail(
          'log matching',
          `${node.id} persisted a different entry (or predecessor) at index ${e.index} term ${e.term}`,
        );
      }
      prev = e.term;
    }
  }

  /** State Machine Safety (§5.4.3): every member applies the same entry at each index. */
  entryApplied(node: SimNode, entry: Entry, key: number): void {
    const i = entry.index;
    const known = this.historyKey[i];
    if (known === undefined) {
      this.historyKey[i] = key;
      this.historyHash[i] = chainHash(this.historyHash[i - 1] ?? 0, key);
    } else if (known !== key) {
      this.fail('state machine safety', `${node.id} applied a different entry at ${i} (term ${entry.term})`);
    }
    if (this.historyHash[i] !== undefined && this.historyHash[i] !== node.disk.app.hash) {
      this.fail('state machine safety', `${node.id} state after applying ${i} differs from the history`);
    }
  }

  snapshotInstalled(node: SimNode, snapshot: StoredSnapshot): void {
    this.snapshotsInstalled++;
    const { index } = snapshot.meta;
    const expected = this.historyHash[index];
    if (expected !== undefined && expected !== snapshot.app.hash) {
      this.fail(
        'state machine safety',
        `${node.id} installed a snapshot at ${index} that is not the history's state`,
      );
    }
    if (snapshot.app.applied !== index) {
      this.fail(
        'state machine safety',
        `${node.id} installed a snapshot whose state is at ${snapshot.app.applied}, not ${index}`,
      );
    }
  }

  /** A client asks `node` for a linearizable read. */
  readStarted(context: string): void {
    this.readFloor.set(context, this.maxCommit);
  }

  /**
   * Linearizable reads (thesis §6.4): the read index is at least every commit index reached
   * before the read began, so the read sees every write acknowledged before it.
   */
  readAnswered(node: SimNode, read: ReadState): void {
    const floor = this.readFloor.get(read.context);
    if (floor === undefined) return;
    this.readsChecked++;
    if (read.index < floor) {
      this.fail(
        'linearizable read',
        `${node.id} answered read ${read.context} at ${read.index}, but ${floor} was committed before it began`,
      );
    }
  }
}
