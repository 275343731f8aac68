import { assertNever } from '@flotilla/actor';
import { type Entry, emptyHardState, type HardState, type SnapshotMeta } from '../core/types.ts';
import type { WalRecord } from './codec.ts';

/** What the log holds after replaying every record of the WAL. */
export type ReplayedLog = {
  readonly hardState: HardState;
  /** The latest snapshot marker, or null when none was ever recorded. */
  readonly snapshot: SnapshotMeta | null;
  /** Contiguous, from `snapshot.index + 1` (or 1). */
  readonly entries: readonly Entry[];
};

/**
 * Replays WAL records in order into the log they describe. Pure: no I/O. Every method
 * returns null, or why the records are inconsistent (the caller adds file and offset).
 *
 * Rules: a later entry at index i replaces everything from i on (Raft's truncation of a
 * conflicting suffix, §5.3); a snapshot marker drops the entries it covers, or the whole
 * log when it was recorded with `retainLog: false` (§7). Replay may start at a segment
 * whose predecessors were released, so the entries before the first one seen are unknown;
 * `finish` checks that none of them is still needed.
 */
export class LogReplay {
  private hardState: HardState = emptyHardState;
  private snapshot: SnapshotMeta | null = null;
  private entries: Entry[] = [];
  /** Index of `entries[0]` when there are entries. */
  private firstIndex = 1;
  private lastIndex = 0;
  private lastTerm = 0;
  private started = false;

  /** The first segment replayed says where the log stood when it was created. */
  begin(prevIndex: number, prevTerm: number): void {
    this.started = true;
    this.lastIndex = prevIndex;
    this.lastTerm = prevTerm;
    this.firstIndex = prevIndex + 1;
  }

  /** Each later segment must start exactly where the previous one ended. */
  checkContinues(prevIndex: number, prevTerm: number): string | null {
    if (prevIndex === this.lastIndex && prevTerm === this.lastTerm) return null;
    return (
      `segment starts after index ${prevIndex} (term ${prevTerm}) but the segments before it end ` +
      `at index ${this.lastIndex} (term ${this.lastTerm})`
    );
  }

  get last(): { readonly index: number; readonly term: number } {
    return { index: this.lastIndex, term: this.lastTerm };
  }

  apply(record: WalRecord): string | null {
    switch (record.kind) {
      case 'segment':
        return 'a segment header in the middle of a segment';
      case 'hardState':
        this.hardState = record.hardState;
        return null;
      case 'entry':
        return this.applyEntry(record.entry);
      case 'snapshot':
        return this.applySnapshot(record.meta, record.retainLog);
      default:
        return assertNever(record, 'WAL record');
    }
  }

  private applyEntry(e: Entry): string | null {
    if (!this.started) return 'an entry before the segment header';
    const snapshotIndex = this.snapshot?.index ?? 0;
    if (e.index <= snapshotIndex) return `entry ${e.index} is at or below the snapshot at ${snapshotIndex}`;
    if (e.index > this.lastIndex + 1) return `entry ${e.index} leaves a gap after index ${this.lastIndex}`;
    if (e.index <= this.lastIndex) {
      // Truncation: the entries from e.index on are superseded.
      if (e.index >= this.firstIndex) this.entries.length = e.index - this.firstIndex;
      else this.entries = [];
    }
    const prev = this.entries.at(-1);
    if (prev !== undefined && e.term < prev.term) {
      return `entry ${e.index} has term ${e.term}, below the term ${prev.term} of the entry before it`;
    }
    if (this.entries.length === 0) this.firstIndex = e.index;
    this.entries.push(e);
    this.lastIndex = e.index;
    this.lastTerm = e.term;
    return null;
  }

  private applySnapshot(meta: SnapshotMeta, retainLog: boolean): string | null {
    if (!this.started) return 'a snapshot marker before the segment header';
    if (this.snapshot !== null && meta.index < this.snapshot.index) {
      return `snapshot marker at ${meta.index} is older than the one at ${this.snapshot.index} before it`;
    }
    this.snapshot = meta;
    if (retainLog && meta.index <= this.lastIndex) {
      const covered = meta.index - this.firstIndex + 1;
      if (covered > 0) this.entries.splice(0, covered);
      this.firstIndex = Math.max(this.firstIndex, meta.index + 1);
    } else {
      this.entries = [];
      this.firstIndex = meta.index + 1;
      this.lastIndex = meta.index;
      this.lastTerm = meta.term;
    }
    return null;
  }

  /** The replayed log, or why entries it needs are missing. */
  finish(): ReplayedLog | string {
    const snapshotIndex = this.snapshot?.index ?? 0;
    const known = this.entries.length > 0 ? this.firstIndex : this.lastIndex + 1;
    if (known > snapshotIndex + 1) {
      return (
        `entries ${snapshotIndex + 1}..${known - 1} are missing: the oldest segment starts after ` +
        `them and no snapshot covers them`
      );
    }
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries };
  }
}
