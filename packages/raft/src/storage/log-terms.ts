import { assert } from '@flotilla/actor';
import type { Entry, SnapshotMeta } from '../core/types.ts';

/**
 * The shape of the log the WAL has accepted so far, kept to validate new writes without
 * holding entries: the snapshot marker, the last index and the term of every index after the
 * snapshot, stored as runs (a new run starts where the term changes, so this stays small).
 */
export class LogTerms {
  private snapshotIndex: number;
  private snapshotTerm: number;
  private lastIdx: number;
  /** Ascending `first`; run k covers [runs[k].first, runs[k+1].first) and the last one up to lastIdx. */
  private runs: { readonly first: number; readonly term: number }[] = [];

  constructor(snapshot: SnapshotMeta | null, entries: readonly Entry[]) {
    this.snapshotIndex = snapshot?.index ?? 0;
    this.snapshotTerm = snapshot?.term ?? 0;
    this.lastIdx = this.snapshotIndex;
    this.append(entries);
  }

  get lastIndex(): number {
    return this.lastIdx;
  }

  /** The term of the entry at `index`, or undefined when the log does not hold it. */
  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIdx) return undefined;
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runs[mid]!.first <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.runs[lo]!.term;
  }

  /** Why `entries` cannot follow the log as it is, or null. Entries are already well-formed. */
  checkAppend(entries: readonly Entry[]): string | null {
    const first = entries[0];
    if (first === undefined) return null;
    if (first.index <= this.snapshotIndex) {
      return `entry ${first.index} is at or below the snapshot at ${this.snapshotIndex}`;
    }
    if (first.index > this.lastIdx + 1) {
      return `entry ${first.index} would leave a gap after the last index ${this.lastIdx}`;
    }
    const prevTerm = this.termAt(first.index - 1);
    assert(prevTerm !== undefined, 'the index before an appendable entry is in the log');
    let term = prevTerm;
    let index = first.index - 1;
    for (const e of entries) {
      if (e.index !== index + 1) return `entries are not contiguous: ${e.index} follows ${index}`;
      if (e.term < term) return `entry ${e.index} has term ${e.term}, below the term ${term} before it`;
      index = e.index;
      term = e.term;
    }
    return null;
  }

  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    while (this.runs.length > 0 && this.runs.at(-1)!.first >= first.index) this.runs.pop();
    for (const e of entries) {
      if (this.runs.length === 0 || this.runs.at(-1)!.term !== e.term) {
        this.runs.push({ first: e.index, term: e.term });
      }
    }
    this.lastIdx = entries.at(-1)!.index;
  }

  /**
   * Record a snapshot. Returns whether the entries after it are kept: only when the log holds
   * the snapshot's last entry with the same term (Raft §7); otherwise the whole log goes.
   */
  applySnapshot(meta: SnapshotMeta): boolean {
    const retain = this.termAt(meta.index) === meta.term;
    if (retain) {
      const kept: { readonly first: number; readonly term: number }[] = [];
      for (const [i, run] of this.runs.entries()) {
        const end = (this.runs[i + 1]?.first ?? this.lastIdx + 1) - 1;
        if (end > meta.index) kept.push({ first: Math.max(run.first, meta.index + 1), term: run.term });
      }
      this.runs = kept;
    } else {
      this.runs = [];
      this.lastIdx = meta.index;
    }
    this.snapshotIndex = meta.index;
    this.snapshotTerm = meta.term;
    return retain;
  }
}
