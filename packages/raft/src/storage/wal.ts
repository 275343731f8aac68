import type { FileHandle } from 'node:fs/promises';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assert,
  assertNever,
  failpoint,
  failpointsArmed,
  type Logger,
  type Registry,
  silentLogger,
} from '@flotilla/actor';
import { type Entry, emptyHardState, type HardState, type SnapshotMeta } from '../core/types.ts';
import { type FramedBatch, frameBatch } from './batch.ts';
import { checkMeta, isIndex, MAX_STRING_BYTES, payloadBytes, type WalRecord } from './codec.ts';
import { ensureDir, fsyncDir, writeFully, writeFullySync } from './durable-fs.ts';
import { WalBufferFullError, WalClosedError, WalFailedError, WalInputError } from './errors.ts';
import { MAX_FRAME_PAYLOAD_BYTES } from './frame.ts';
import { LogTerms } from './log-terms.ts';
import { type WalMetrics, walMetrics } from './metrics.ts';
import { createSegment, segmentName } from './segment-files.ts';
import { readSegments, type TornTail } from './wal-recovery.ts';

export type WalOptions = {
  /**
   * A segment is closed before a record that would take it past this size (unless the
   * segment holds nothing but its head: an entry larger than a segment gets one of its own).
   */
  readonly segmentBytes?: number;
  /** Bound on bytes appended but not yet written; `append` throws `WalBufferFullError` beyond it. */
  readonly maxPendingBytes?: number;
  /** Largest `entry.data` accepted. */
  readonly maxEntryBytes?: number;
  readonly log?: Logger;
  /** Where `flotilla_raft_wal_fsync_seconds` and `flotilla_raft_wal_bytes_written_total` go. */
  readonly registry?: Registry;
};

export const defaultWalOptions = {
  segmentBytes: 64 * 1024 * 1024,
  maxPendingBytes: 64 * 1024 * 1024,
  maxEntryBytes: 16 * 1024 * 1024,
} as const;

/**
 * Chunks up to this size are written with a blocking `writev`: copying them into the page
 * cache takes microseconds, less than the thread-pool round trip an async write costs
 * (~20 µs per sync, measured in wal.bench.ts on tmpfs). Larger ones go through the thread
 * pool so that the event loop is never held long. The fdatasync is always async.
 */
const maxBlockingWriteBytes = 256 * 1024;

/** Smallest `segmentBytes` accepted: room for a head and a few records. */
export const MIN_SEGMENT_BYTES = 1024;

/** What `Wal.open` found on disk. */
export type WalRecovered = {
  /** The last hard state written (`emptyHardState` in a new WAL). */
  readonly hardState: HardState;
  /** The latest snapshot marker, or null. */
  readonly snapshot: SnapshotMeta | null;
  /** The entries after the snapshot (or from index 1), contiguous. */
  readonly entries: readonly Entry[];
  /** The incomplete write cut from the end of the last segment, if there was one. */
  readonly tornTail: TornTail | null;
};

type Segment = {
  readonly seq: number;
  readonly name: string;
  readonly headBytes: number;
  /** Highest entry index written to it; segments below a snapshot are released by this. */
  maxEntryIndex: number;
  bytes: number;
};

/** The log as far as the records handed to the OS go: what the head of a new segment restates. */
type WrittenState = {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  lastIndex: number;
  lastTerm: number;
};

type Waiter = {
  readonly target: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
};

/**
 * The Raft write-ahead log: entries, hard state and snapshot markers as checksummed records
 * in size-bounded segment files (format in README.md).
 *
 * `append` and `recordSnapshot` validate and buffer; `sync` writes everything buffered with
 * one `writev` and makes it durable with one `fdatasync`. Callers of `sync` that arrive while
 * a sync runs share the next one (group commit), and each resolves only after a sync that
 * covers everything appended before its call has returned — the point from which Raft may
 * count those entries as persisted (§5.1: state is stable before answering RPCs).
 */
export class Wal {
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly maxPendingBytes: number;
  private readonly maxEntryBytes: number;
  private readonly log: Logger;
  private readonly metrics: WalMetrics | null;
  private readonly segments: Segment[];
  /** The last segment, open for appends. */
  private file: FileHandle;
  /** The log as accepted by `append`/`recordSnapshot`, to validate the next call. */
  private readonly terms: LogTerms;
  private hardState: HardState;
  private snapshot: SnapshotMeta | null;
  private readonly written: WrittenState;

  private pending: FramedBatch[] = [];
  /** Record bytes appended / handed to the OS / covered by a returned fdatasync, since open. */
  private appendedBytes = 0;
  private writtenBytes = 0;
  private durableBytes = 0;
  private waiters: Waiter[] = [];
  private flushing = false;
  private flusherDone: Promise<void> = Promise.resolve();
  private releasing: Promise<unknown> = Promise.resolve();
  private failure: WalFailedError | null = null;
  private closed = false;

  private constructor(
    dir: string,
    options: Required<Pick<WalOptions, 'segmentBytes' | 'maxPendingBytes' | 'maxEntryBytes'>>,
    log: Logger,
    metrics: WalMetrics | null,
    segments: Segment[],
    file: FileHandle,
    recovered: { hardState: HardState; snapshot: SnapshotMeta | null; entries: readonly Entry[] },
    last: { index: number; term: number },
  ) {
    this.dir = dir;
    this.segmentBytes = options.segmentBytes;
    this.maxPendingBytes = options.maxPendingBytes;
    this.maxEntryBytes = options.maxEntryBytes;
    this.log = log;
    this.metrics = metrics;
    this.segments = segments;
    this.file = file;
    this.terms = new LogTerms(recovered.snapshot, recovered.entries);
    this.hardState = recovered.hardState;
    this.snapshot = recovered.snapshot;
    this.written = {
      hardState: recovered.hardState,
      snapshot: recovered.snapshot,
      lastIndex: last.index,
      lastTerm: last.term,
    };
    assert(this.terms.lastIndex === last.index, 'the recovered entries end where the log ends');
  }

  /**
   * Open (or create) the WAL in `dir` and recover what it holds. A torn tail is cut and
   * logged; any other damage throws `WalCorruptionError` naming the file and byte offset.
   */
  static async open(
    dir: string,
    options: WalOptions = {},
  ): Promise<{ readonly wal: Wal; readonly recovered: WalRecovered }> {
    const resolved = {
      segmentBytes: options.segmentBytes ?? defaultWalOptions.segmentBytes,
      maxPendingBytes: options.maxPendingBytes ?? defaultWalOptions.maxPendingBytes,
      maxEntryBytes: options.maxEntryBytes ?? defaultWalOptions.maxEntryBytes,
    };
    checkOptions(resolved);
    const log = (options.log ?? silentLogger()).child({ component: 'wal' });
    const metrics = options.registry ? walMetrics(options.registry) : null;
    await ensureDir(dir);
    const recovery = await readSegments(dir, log);

    if (recovery === null) {
      const head = encodeHead(0, { hardState: emptyHardState, snapshot: null, lastIndex: 0, lastTerm: 0 });
      const name = segmentName(0, 1);
      const file = await createSegment(dir, name, head);
      metrics?.bytesWritten.inc(head.length);
      log.info({ dir, segment: name }, 'created a new WAL');
      const segment = { seq: 0, name, headBytes: head.length, maxEntryIndex: 0, bytes: head.length };
      const recovered = { hardState: emptyHardState, snapshot: null, entries: [] };
      const wal = new Wal(dir, resolved, log, metrics, [segment], file, recovered, { index: 0, term: 0 });
      return { wal, recovered: { ...recovered, tornTail: null } };
    }

    const last = recovery.segments.at(-1)!;
    const file = await open(join(dir, last.name), 'r+');
    try {
      if (recovery.tornTail !== null) {
        await file.truncate(recovery.tornTail.offset);
        await file.datasync();
        log.warn(recovery.tornTail, 'cut a torn write from the end of the WAL');
      }
    } catch (err) {
      await file.close();
      throw err;
    }
    const { hardState, snapshot, entries } = recovery.log;
    log.info(
      {
        dir,
        segments: recovery.segments.length,
        entries: entries.length,
        lastIndex: recovery.lastIndex,
        snapshotIndex: snapshot?.index ?? 0,
        hardState,
      },
      'recovered the WAL',
    );
    const segments = recovery.segments.map((s) => ({ ...s }));
    const wal = new Wal(dir, resolved, log, metrics, segments, file, recovery.log, {
      index: recovery.lastIndex,
      term: recovery.lastTerm,
    });
    return { wal, recovered: { hardState, snapshot, entries, tornTail: recovery.tornTail } };
  }

  /** Index of the last entry accepted (or of the snapshot, when the log after it is empty). */
  get lastIndex(): number {
    return this.terms.lastIndex;
  }

  /** Segment file names, oldest first. */
  get segmentFiles(): readonly string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Buffer `entries` (contiguous; the first at most one past the last index, so an entry at
   * an existing index replaces it and everything after) and then `hardState`, in that order,
   * as Raft's Ready asks. Durable only after a later `sync()` resolves. Throws
   * `WalInputError` or `WalBufferFullError` and changes nothing when it cannot accept them.
   */
  append(entries: readonly Entry[], hardState?: HardState): void {
    this.checkOpen();
    for (const e of entries) this.checkEntry(e);
    const problem = this.terms.checkAppend(entries);
    if (problem !== null) throw new WalInputError(`cannot append: ${problem}`);
    const writeHardState = hardState !== undefined && !sameHardState(hardState, this.hardState);
    if (writeHardState) this.checkHardState(hardState, entries.at(-1)?.index ?? this.terms.lastIndex);

    if (entries.length === 0 && !writeHardState) return;
    const batch = frameBatch(entries, writeHardState ? [{ kind: 'hardState', hardState }] : []);
    this.checkRoom(batch.buf.length);
    this.terms.append(entries);
    if (writeHardState) this.hardState = hardState;
    this.enqueue(batch);
  }

  /**
   * Buffer a snapshot marker: entries up to `meta.index` are covered by a snapshot that is
   * already durable in the snapshot store (write it there first). When the log holds
   * `meta.index` with `meta.term` the entries after it stay; otherwise the whole log is
   * discarded and the next entry must be `meta.index + 1` (Raft §7).
   */
  recordSnapshot(meta: SnapshotMeta): void {
    this.checkOpen();
    const problem = checkMeta(meta);
    if (problem !== null) throw new WalInputError(`cannot record snapshot: ${problem}`);
    const current = this.snapshot;
    if (current !== null && meta.index < current.index) {
      throw new WalInputError(
        `cannot record a snapshot at ${meta.index}: the WAL already has one at ${current.index}`,
      );
    }
    if (current !== null && meta.index === current.index && meta.term !== current.term) {
      throw new WalInputError(
        `snapshot at ${meta.index} has term ${meta.term}, the recorded one there has term ${current.term}`,
      );
    }
    // The marker's size does not depend on retainLog, so room is checked before deciding it.
    this.checkRoom(frameBatch([], [{ kind: 'snapshot', meta, retainLog: true }]).buf.length);
    const lastIndex = this.terms.lastIndex;
    const retainLog = this.terms.applySnapshot(meta);
    this.snapshot = meta;
    if (!retainLog && lastIndex > (current?.index ?? 0)) {
      this.log.info(
        { index: meta.index, term: meta.term, lastIndex },
        'snapshot marker discards the log: it does not hold the snapshot entry with that term',
      );
    }
    this.enqueue(frameBatch([], [{ kind: 'snapshot', meta, retainLog }]));
  }

  /** Resolves once everything appended before this call is on stable storage. */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const target = this.appendedBytes;
    if (target <= this.durableBytes) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.waiters.push({ target, resolve, reject });
    this.kick();
    return promise;
  }

  /**
   * Delete the oldest segments all of whose entries are below `index`, which must not be past
   * the latest snapshot (`index <= snapshot.index + 1`). The snapshot marker is synced first:
   * without it, the entries being deleted would still be needed. Returns how many went.
   */
  async releaseBefore(index: number): Promise<number> {
    this.checkOpen();
    const covered = this.snapshot?.index ?? 0;
    if (!isIndex(index) || index > covered + 1) {
      throw new WalInputError(
        `cannot release entries before ${index}: the latest snapshot covers entries up to ${covered}`,
      );
    }
    await this.sync();
    const run = this.releasing.then(() => this.removeSegmentsBelow(index));
    this.releasing = run.catch(() => {});
    return run;
  }

  /** Sync what is buffered and close the segment file. Appends after this throw `WalClosedError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.failure === null) await this.sync();
    } finally {
      await this.flusherDone;
      await this.releasing;
      await this.file.close();
    }
  }

  private checkOpen(): void {
    if (this.failure !== null) throw this.failure;
    if (this.closed) throw new WalClosedError();
  }

  private checkEntry(e: Entry): void {
    if (!isIndex(e.index) || e.index < 1 || !isIndex(e.term)) {
      throw new WalInputError(`entry index ${e.index} / term ${e.term}: must be safe integers, index >= 1`);
    }
    if (e.type !== 'normal' && e.type !== 'conf') {
      throw new WalInputError(`entry ${e.index} has unknown type ${JSON.stringify(e.type)}`);
    }
    if (!(e.data instanceof Uint8Array))
      throw new WalInputError(`entry ${e.index}: data is not a Uint8Array`);
    if (e.data.length > this.maxEntryBytes) {
      throw new WalInputError(
        `entry ${e.index} holds ${e.data.length} bytes, more than maxEntryBytes ${this.maxEntryBytes}`,
      );
    }
  }

  /**
   * Raft's durable state only moves forward (term up, one vote per term, commit up), and
   * nothing is committed that the log does not hold.
   */
  private checkHardState(hs: HardState, lastIndex: number): void {
    const prev = this.hardState;
    if (!isIndex(hs.term) || !isIndex(hs.commit)) {
      throw new WalInputError(`hard state term ${hs.term} / commit ${hs.commit}: must be safe integers >= 0`);
    }
    if (hs.vote !== null && (typeof hs.vote !== 'string' || Buffer.byteLength(hs.vote) > MAX_STRING_BYTES)) {
      throw new WalInputError(
        `hard state vote must be null or a node id of at most ${MAX_STRING_BYTES} bytes`,
      );
    }
    if (hs.term < prev.term) throw new WalInputError(`hard state term ${hs.term} is below ${prev.term}`);
    if (hs.term === prev.term && prev.vote !== null && hs.vote !== prev.vote) {
      throw new WalInputError(
        `hard state changes the vote in term ${hs.term} from ${prev.vote} to ${String(hs.vote)}`,
      );
    }
    if (hs.commit < prev.commit) {
      throw new WalInputError(`hard state commit ${hs.commit} is below ${prev.commit}`);
    }
    if (hs.commit > lastIndex) {
      throw new WalInputError(`hard state commit ${hs.commit} is past the last entry ${lastIndex}`);
    }
  }

  private checkRoom(bytes: number): void {
    const pending = this.appendedBytes - this.writtenBytes;
    if (pending + bytes > this.maxPendingBytes) {
      throw new WalBufferFullError(pending, bytes, this.maxPendingBytes);
    }
  }

  private enqueue(batch: FramedBatch): void {
    this.pending.push(batch);
    this.appendedBytes += batch.buf.length;
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = true;
    this.flusherDone = this.runFlusher();
  }

  /**
   * One flusher at a time: take everything buffered, write it, fdatasync, release the
   * waiters it covers, repeat while anyone waits. `flushing` drops in the same turn as the
   * last check of `waiters`, so a `sync()` never finds a flusher about to stop.
   */
  private async runFlusher(): Promise<void> {
    try {
      while (this.waiters.length > 0) {
        // Test runs only: a crash here loses what is buffered, as a power cut would.
        if (failpointsArmed) await failpoint('wal.beforeSync');
        const batches = this.pending;
        this.pending = [];
        const target = this.appendedBytes;
        await this.writeBatches(batches);
        await this.datasync(this.file);
        if (failpointsArmed) await failpoint('wal.afterSync');
        this.durableBytes = target;
        const covered = this.waiters.filter((w) => w.target <= target);
        this.waiters = this.waiters.filter((w) => w.target > target);
        for (const w of covered) w.resolve();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Write whole batches with one `writev` per segment; a batch is split only where it
   * crosses a segment boundary, and a record never is.
   */
  private async writeBatches(batches: readonly FramedBatch[]): Promise<void> {
    const chunk: Uint8Array[] = [];
    let chunkBytes = 0;
    for (const batch of batches) {
      const records = batch.ends.length;
      let start = 0;
      let next = 0;
      while (next < records) {
        const segment = this.segments.at(-1)!;
        const room = this.segmentBytes - segment.bytes - chunkBytes;
        let end = next;
        while (end < records && batch.ends[end]! - start <= room) end++;
        if (end === next) {
          if (segment.bytes + chunkBytes > segment.headBytes) {
            await this.writeChunk(chunk.splice(0), chunkBytes);
            chunkBytes = 0;
            await this.roll();
            continue;
          }
          end = next + 1; // larger than a whole segment: it gets a fresh one to itself
        }
        const stop = batch.ends[end - 1]!;
        chunk.push(batch.buf.subarray(start, stop));
        chunkBytes += stop - start;
        for (let i = next; i < end; i++) this.noteWritten(batch, i);
        start = stop;
        next = end;
      }
    }
    await this.writeChunk(chunk, chunkBytes);
  }

  private async writeChunk(chunk: readonly Uint8Array[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    const segment = this.segments.at(-1)!;
    if (bytes <= maxBlockingWriteBytes) writeFullySync(this.file.fd, chunk, segment.bytes);
    else await writeFully(this.file, chunk, segment.bytes);
    segment.bytes += bytes;
    this.writtenBytes += bytes;
    this.metrics?.bytesWritten.inc(bytes);
  }

  /** Track the log as written so far (record `i` of `batch`), for the head of the next segment. */
  private noteWritten(batch: FramedBatch, i: number): void {
    const entry = batch.entries[i];
    if (entry !== undefined) {
      const segment = this.segments.at(-1)!;
      segment.maxEntryIndex = Math.max(segment.maxEntryIndex, entry.index);
      this.written.lastIndex = entry.index;
      this.written.lastTerm = entry.term;
      return;
    }
    const record = batch.others[i - batch.entries.length]!;
    switch (record.kind) {
      case 'entry':
        return assert(false, 'entries of a batch come before its other records');
      case 'hardState':
        this.written.hardState = record.hardState;
        return;
      case 'snapshot':
        this.written.snapshot = record.meta;
        if (!record.retainLog) {
          this.written.lastIndex = record.meta.index;
          this.written.lastTerm = record.meta.term;
        }
        return;
      case 'segment':
        return assert(false, 'segment headers are written by roll(), never appended');
      default:
        return assertNever(record, 'WAL record');
    }
  }

  /**
   * Close the current segment and start the next. The old one is fdatasync'ed first, so that
   * once a later segment exists every earlier one is complete: only the last segment can end
   * in a torn write, which is what lets recovery treat damage anywhere else as corruption.
   */
  private async roll(): Promise<void> {
    const previous = this.segments.at(-1)!;
    await this.datasync(this.file);
    await this.file.close();
    const seq = previous.seq + 1;
    const head = encodeHead(seq, this.written);
    const name = segmentName(seq, this.written.lastIndex + 1);
    this.file = await createSegment(this.dir, name, head);
    this.metrics?.bytesWritten.inc(head.length);
    this.segments.push({ seq, name, headBytes: head.length, maxEntryIndex: 0, bytes: head.length });
    this.log.debug(
      { segment: name, previous: previous.name, previousBytes: previous.bytes },
      'started a WAL segment',
    );
  }

  private async datasync(file: FileHandle): Promise<void> {
    const started = performance.now();
    await file.datasync();
    this.metrics?.fsyncSeconds.observe((performance.now() - started) / 1000);
  }

  private async removeSegmentsBelow(index: number): Promise<number> {
    let removed = 0;
    // Oldest first, each removal made durable before the next: a crash leaves a contiguous
    // run of segments, never a gap that recovery would take for a missing one.
    while (this.segments.length > 1 && this.segments[0]!.maxEntryIndex < index) {
      const segment = this.segments[0]!;
      await unlink(join(this.dir, segment.name));
      this.segments.shift();
      await fsyncDir(this.dir);
      removed++;
      this.log.info(
        { segment: segment.name, maxEntryIndex: segment.maxEntryIndex, index },
        'released a WAL segment',
      );
    }
    return removed;
  }

  private fail(err: unknown): void {
    if (this.failure === null) {
      const message = err instanceof Error ? err.message : String(err);
      this.failure = new WalFailedError(`WAL write failed, no more writes accepted: ${message}`, err);
      this.log.error({ err }, 'WAL write failed; the process must restart and recover');
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(this.failure);
  }
}

function checkOptions(o: { segmentBytes: number; maxPendingBytes: number; maxEntryBytes: number }): void {
  if (!Number.isSafeInteger(o.segmentBytes) || o.segmentBytes < MIN_SEGMENT_BYTES) {
    throw new WalInputError(`segmentBytes must be an integer >= ${MIN_SEGMENT_BYTES}, got ${o.segmentBytes}`);
  }
  if (!Number.isSafeInteger(o.maxPendingBytes) || o.maxPendingBytes < 1) {
    throw new WalInputError(`maxPendingBytes must be a positive integer, got ${o.maxPendingBytes}`);
  }
  const largest = MAX_FRAME_PAYLOAD_BYTES - payloadBytes(entryRecord(0));
  if (!Number.isSafeInteger(o.maxEntryBytes) || o.maxEntryBytes < 0 || o.maxEntryBytes > largest) {
    throw new WalInputError(`maxEntryBytes must be an integer in 0..${largest}, got ${o.maxEntryBytes}`);
  }
}

function entryRecord(dataBytes: number): WalRecord {
  return { kind: 'entry', entry: { index: 0, term: 0, type: 'normal', data: new Uint8Array(dataBytes) } };
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** A segment's head: where the log stands, the hard state and the snapshot marker, so it can be read alone. */
function encodeHead(seq: number, state: WrittenState): Buffer {
  const records: WalRecord[] = [
    {
      kind: 'segment',
      seq,
      prevIndex: state.lastIndex,
      prevTerm: state.lastTerm,
      headRecords: state.snapshot === null ? 2 : 3,
    },
    { kind: 'hardState', hardState: state.hardState },
  ];
  if (state.snapshot !== null) records.push({ kind: 'snapshot', meta: state.snapshot, retainLog: true });
  return frameBatch([], records).buf;
}

/** `Wal.open`, as a function. */
export function openWal(
  dir: string,
  options: WalOptions = {},
): Promise<{ readonly wal: Wal; readonly recovered: WalRecovered }> {
  return Wal.open(dir, options);
}
