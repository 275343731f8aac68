/**
 * One member's view of the replicated log: the latest snapshot, the entries it still holds,
 * how far they are committed, applied and on stable storage, and the configuration they
 * define. After a compaction the log may keep a tail of entries the snapshot already covers,
 * so that a follower only slightly behind still gets entries rather than a whole snapshot:
 *
 *   offset.index  <=  snapshot.index  <=  applied  <=  committed  <=  lastIndex
 *   [ dropped ... ][ entries: offset.index+1 ... lastIndex ]
 *                          stable: entries up to here are on the driver's disk
 */
import { assert } from './assert.ts';
import { decodeConfEntry } from './conf.ts';
import { entrySizeBytes } from './messages.ts';
import type { ConfState, Entry, SnapshotMeta } from './types.ts';

/** Where a conf entry sits and the configuration it makes. */
interface ConfMark {
  readonly index: number;
  readonly conf: ConfState;
}

export interface IndexTerm {
  readonly index: number;
  readonly term: number;
}

export class RaftLog {
  /** The latest snapshot: what a follower whose entries are gone is sent. */
  private snap: SnapshotMeta;
  /** The last entry dropped from memory: `entries` continue right after it. */
  private offset: IndexTerm;
  private entries: Entry[];
  /** The configuration in force as of `offset.index`. */
  private baseConf: ConfState;
  /** The conf entries among `entries`, in log order: the last one is the configuration in force. */
  private confs: ConfMark[] = [];
  private committedIndex: number;
  private appliedIndex: number;
  private stableIndex: number;
  private pending: SnapshotMeta | null = null;

  /** `entries` follow `snapshot` and are all on stable storage; the caller has validated them. */
  constructor(snapshot: SnapshotMeta, entries: readonly Entry[], committed: number, applied: number) {
    this.snap = snapshot;
    this.offset = { index: snapshot.index, term: snapshot.term };
    this.baseConf = snapshot.conf;
    this.entries = [];
    this.committedIndex = snapshot.index;
    this.appliedIndex = snapshot.index;
    this.stableIndex = snapshot.index;
    if (entries.length > 0) this.append(entries);
    this.stableIndex = this.lastIndex();
    this.commitTo(committed);
    this.appliedTo(applied);
  }

  // ---- reading ------------------------------------------------------------------------------

  get snapshot(): SnapshotMeta {
    return this.snap;
  }
  get committed(): number {
    return this.committedIndex;
  }
  get applied(): number {
    return this.appliedIndex;
  }
  /** The last index on the driver's stable storage (the snapshot's index when no entry is). */
  get stable(): number {
    return this.stableIndex;
  }
  /** A snapshot received from the leader that the driver has not yet installed. */
  get pendingSnapshot(): SnapshotMeta | null {
    return this.pending;
  }

  /** The first entry still held. */
  firstIndex(): number {
    return this.offset.index + 1;
  }

  lastIndex(): number {
    return this.offset.index + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.offset.term : this.entries[this.entries.length - 1]!.term;
  }

  /** The term of the entry at `index`; undefined when it is dropped or not there yet. */
  term(index: number): number | undefined {
    if (index === this.offset.index) return this.offset.term;
    return this.entries[index - this.offset.index - 1]?.term;
  }

  entry(index: number): Entry | undefined {
    return this.entries[index - this.offset.index - 1];
  }

  /** Raft §5.4.1: a log is at least as up-to-date as ours if its last term is higher, or equal with an index as high. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries from `from` through `to`, stopping once `maxBytes` is reached (at least one entry
   * always comes, so a big entry cannot wedge replication). `from` must not be compacted.
   */
  slice(from: number, to: number, maxBytes: number): Entry[] {
    assert(
      from > this.offset.index,
      `slice from ${from} is compacted (first index ${this.offset.index + 1})`,
    );
    assert(to <= this.lastIndex(), `slice to ${to} is past the last index ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = from; i <= to; i++) {
      const e = this.entries[i - this.offset.index - 1]!;
      bytes += entrySizeBytes(e);
      if (bytes > maxBytes && out.length > 0) break;
      out.push(e);
    }
    return out;
  }

  /** Entry bytes in (from, to], for the leader's bound on uncommitted proposals. */
  bytesAfter(from: number, to: number): number {
    let bytes = 0;
    for (let i = Math.max(from, this.offset.index) + 1; i <= to; i++)
      bytes += this.entries[i - this.offset.index - 1]!.data.byteLength;
    return bytes;
  }

  /**
   * The last index at or below `index` whose term is at most `term`: everything after it up
   * to `index` has a newer term and so cannot match a log whose entry at `index` has `term`.
   * Used on both sides of a rejected append to skip whole terms (the fast back-off of Raft §5.3).
   */
  findConflictByTerm(index: number, term: number): IndexTerm {
    for (let i = Math.min(index, this.lastIndex()); i >= this.offset.index; i--) {
      const t = this.term(i)!;
      if (t <= term) return { index: i, term: t };
    }
    // Every entry we still hold is newer: the match point is among the entries we dropped.
    return { index: Math.max(0, this.offset.index - 1), term: 0 };
  }

  // ---- configuration ------------------------------------------------------------------------

  /** The configuration in force: the last conf entry in the log, committed or not (thesis §4.1). */
  conf(): ConfState {
    return this.confs.length === 0 ? this.baseConf : this.confs[this.confs.length - 1]!.conf;
  }

  /** The configuration as of `index` (which must not be dropped). */
  confAt(index: number): ConfState {
    assert(
      index >= this.offset.index,
      `conf at ${index} is compacted (first index ${this.offset.index + 1})`,
    );
    for (let i = this.confs.length - 1; i >= 0; i--)
      if (this.confs[i]!.index <= index) return this.confs[i]!.conf;
    return this.baseConf;
  }

  /** Where the configuration in force was written (at or before the first entry when it is older). */
  lastConfIndex(): number {
    return this.confs.length === 0 ? this.offset.index : this.confs[this.confs.length - 1]!.index;
  }

  // ---- changing -----------------------------------------------------------------------------

  /** The leader appends its own new entries at the end. */
  append(entries: readonly Entry[]): void {
    assert(
      entries[0]!.index === this.lastIndex() + 1,
      `append at ${entries[0]!.index} leaves a gap after ${this.lastIndex()}`,
    );
    for (const e of entries) this.push(e);
  }

  /**
   * A follower takes entries from the leader (Raft §5.3): if our entry at `prevIndex` has
   * `prevTerm`, drop any conflicting suffix, append what is new, and advance the commit index
   * as far as the leader's but no further than what this append proves we hold. Returns the
   * last index now known to match the leader's log, or null when the consistency check fails.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): number | null {
    if (this.term(prevIndex) !== prevTerm) return null;
    const lastNew = prevIndex + entries.length;
    // The first entry that differs from ours; anything before it we already hold (a duplicate
    // or reordered append must never truncate entries that a later append gave us).
    let k = 0;
    while (k < entries.length && this.term(entries[k]!.index) === entries[k]!.term) k++;
    if (k < entries.length) {
      const first = entries[k]!.index;
      assert(
        first > this.committedIndex,
        `an append conflicts at ${first}, at or below the commit index ${this.committedIndex}`,
      );
      this.truncateAndAppend(entries.slice(k));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  private truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    assert(
      first > this.offset.index && first <= this.lastIndex() + 1,
      `entries at ${first} do not fit the log`,
    );
    if (first <= this.lastIndex()) {
      this.entries.length = first - this.offset.index - 1;
      while (this.confs.length > 0 && this.confs[this.confs.length - 1]!.index >= first) this.confs.pop();
      if (this.stableIndex >= first) this.stableIndex = first - 1;
    }
    for (const e of entries) this.push(e);
  }

  private push(e: Entry): void {
    this.entries.push(e);
    if (e.type === 'conf') {
      const decoded = decodeConfEntry(e.data);
      assert(decoded !== null, `entry ${e.index} is not a configuration`);
      this.confs.push({ index: e.index, conf: decoded.conf });
    }
  }

  commitTo(index: number): boolean {
    if (index <= this.committedIndex) return false;
    assert(index <= this.lastIndex(), `commit ${index} is past the last index ${this.lastIndex()}`);
    this.committedIndex = index;
    return true;
  }

  appliedTo(index: number): void {
    assert(index <= this.committedIndex, `applied ${index} is past the commit index ${this.committedIndex}`);
    if (index > this.appliedIndex) this.appliedIndex = index;
  }

  /** The driver persisted entries through `index`; ignored if that entry was replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (index > this.stableIndex && this.term(index) === term) this.stableIndex = index;
  }

  hasUnstable(): boolean {
    return this.lastIndex() > this.stableIndex;
  }

  unstableEntries(): Entry[] {
    return this.entries.slice(this.stableIndex - this.offset.index);
  }

  /** Committed entries not yet handed out for applying, at most `maxBytes` of them (at least one). */
  nextCommitted(maxBytes: number): Entry[] {
    const from = Math.max(this.appliedIndex, this.offset.index) + 1;
    if (from > this.committedIndex) return [];
    return this.slice(from, this.committedIndex, maxBytes);
  }

  hasNextCommitted(): boolean {
    return this.committedIndex > Math.max(this.appliedIndex, this.offset.index);
  }

  /**
   * Replace everything with a snapshot from the leader (Raft §7): the whole log is discarded
   * and the snapshot waits, pending, until the driver installs it.
   */
  restore(meta: SnapshotMeta): void {
    this.snap = meta;
    this.offset = { index: meta.index, term: meta.term };
    this.baseConf = meta.conf;
    this.entries = [];
    this.confs = [];
    this.committedIndex = meta.index;
    this.stableIndex = meta.index;
    this.pending = meta;
  }

  /** The driver installed `meta` (and persisted it): the state machine is now at its index. */
  snapshotInstalled(meta: SnapshotMeta): void {
    if (meta.index > this.appliedIndex) this.appliedIndex = meta.index;
    if (this.pending !== null && this.pending.index <= meta.index) this.pending = null;
  }

  /**
   * The application took a snapshot at `meta.index`: forget the entries it covers, except
   * those from `keepFrom` on (a tail for followers that are only a little behind).
   */
  compact(meta: SnapshotMeta, keepFrom: number): void {
    assert(
      meta.index > this.snap.index && meta.index <= this.appliedIndex,
      `cannot compact to ${meta.index}`,
    );
    assert(
      this.term(meta.index) === meta.term,
      `snapshot term ${meta.term} differs from the log's at ${meta.index}`,
    );
    const cut = Math.min(meta.index, Math.max(keepFrom - 1, this.offset.index));
    if (cut > this.offset.index) {
      const cutTerm = this.term(cut)!;
      this.baseConf = this.confAt(cut);
      this.entries = this.entries.slice(cut - this.offset.index);
      this.confs = this.confs.filter((c) => c.index > cut);
      this.offset = { index: cut, term: cutTerm };
    }
    this.snap = meta;
  }
}
