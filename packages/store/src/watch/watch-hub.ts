import {
  assert,
  assertNever,
  Counter,
  Gauge,
  type Logger,
  metricOnce,
  type Registry,
  silentLogger,
} from '@flotilla/actor';
import { CompactedError, InvalidRequestError } from '../mvcc/errors.ts';
import { inKeyRange, keyRange, mapKey } from '../mvcc/keys.ts';
import { storeLimits } from '../mvcc/limits.ts';
import type { CommitNotice, KeyValue, KvEvent, RevisionEvents } from '../mvcc/types.ts';
import type { WatchEvent, WatchRequest, WatchResponse, WatchSource } from './types.ts';
import { Watcher, type WatcherHost } from './watcher.ts';

export type WatchHubOptions = {
  /** Default backlog bounds of a watcher: past them a synced watcher is cancelled as slow. */
  readonly maxPendingEvents?: number;
  readonly maxPendingBytes?: number;
  /** History records one catch-up step reads (whole revisions, so possibly more). */
  readonly catchUpRecordsPerStep?: number;
  readonly log?: Logger;
  readonly registry?: Registry;
  readonly member?: string;
};

export const defaultWatchHubOptions = {
  maxPendingEvents: 10_000,
  maxPendingBytes: 16 * 1024 * 1024,
  catchUpRecordsPerStep: 1000,
} as const;

// Bytes a queued event counts for beyond its keys and values (revisions, object overhead).
const eventOverheadBytes = 64;
const progressBytes = 16;

function kvBytes(kv: KeyValue | undefined): number {
  return kv === undefined ? 0 : kv.key.length + kv.value.length;
}

/**
 * Watchers of one store. It listens to the store's commits and pushes each revision's
 * matching events to synced watchers; unsynced ones (started at a past revision, or reset
 * by a restore) read the history at their consumer's pace until they catch up. Serving
 * from history up to the published revision and live events after it leaves neither a gap
 * nor a duplicate, because both happen on the one thread that applies entries.
 */
export class WatchHub implements WatcherHost {
  private readonly source: WatchSource;
  private readonly maxPendingEvents: number;
  private readonly maxPendingBytes: number;
  private readonly catchUpRecordsPerStep: number;
  private readonly log: Logger;
  private readonly unsubscribe: () => void;
  private readonly watchers = new Map<number, Watcher>();
  /** Synced watchers of a single key, by the key. */
  private readonly byKey = new Map<string, Set<Watcher>>();
  /** Synced watchers of a range. */
  private readonly spans = new Set<Watcher>();
  private nextId = 1;
  private published: number;
  private closed = false;
  private readonly gauge: Gauge<'member'> | undefined;
  private readonly cancelled: Counter<'member' | 'reason'> | undefined;
  private readonly member: string;

  constructor(source: WatchSource, options: WatchHubOptions = {}) {
    this.source = source;
    this.maxPendingEvents = options.maxPendingEvents ?? defaultWatchHubOptions.maxPendingEvents;
    this.maxPendingBytes = options.maxPendingBytes ?? defaultWatchHubOptions.maxPendingBytes;
    this.catchUpRecordsPerStep =
      options.catchUpRecordsPerStep ?? defaultWatchHubOptions.catchUpRecordsPerStep;
    assert(this.catchUpRecordsPerStep >= 1, 'a catch-up step reads at least one record');
    this.log = (options.log ?? silentLogger()).child({ component: 'store-watch-hub' });
    this.member = options.member ?? '';
    this.published = source.revision;
    const registry = options.registry;
    if (registry) {
      this.gauge = metricOnce(
        registry,
        'flotilla_store_watchers',
        () =>
          new Gauge({
            name: 'flotilla_store_watchers',
            help: 'Open watchers',
            labelNames: ['member'],
            registers: [registry],
          }),
      );
      this.cancelled = metricOnce(
        registry,
        'flotilla_store_watchers_cancelled_total',
        () =>
          new Counter({
            name: 'flotilla_store_watchers_cancelled_total',
            help: 'Watchers the store cancelled, by reason',
            labelNames: ['member', 'reason'],
            registers: [registry],
          }),
      );
    }
    this.unsubscribe = source.onCommit((notice) => this.onCommit(notice));
  }

  /** The last revision whose events the hub has published. */
  get revision(): number {
    return this.published;
  }

  get size(): number {
    return this.watchers.size;
  }

  get readable(): boolean {
    return this.source.available;
  }

  /**
   * Start a watch. Throws CompactedError if `startRevision` is below the compacted
   * revision, InvalidRequestError for a malformed request.
   */
  watch(req: WatchRequest): Watcher {
    assert(!this.closed, 'watch on a closed hub');
    if (!(req.key instanceof Uint8Array) || req.key.length === 0) {
      throw InvalidRequestError.of('watch.key', 'must be non-empty bytes');
    }
    if (req.key.length > storeLimits.maxKeyBytes || (req.rangeEnd?.length ?? 0) > storeLimits.maxKeyBytes) {
      throw InvalidRequestError.of('watch.key', `must be at most ${storeLimits.maxKeyBytes} bytes`);
    }
    const start = req.startRevision ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) {
      throw InvalidRequestError.of('watch.startRevision', 'must be a non-negative integer');
    }
    for (const [field, v] of [
      ['maxPendingEvents', req.maxPendingEvents],
      ['maxPendingBytes', req.maxPendingBytes],
    ] as const) {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) {
        throw InvalidRequestError.of(`watch.${field}`, 'must be a positive integer');
      }
    }
    // etcd: a watch may start at the compacted revision, not below it.
    if (start > 0 && start < this.source.compactedRevision) {
      throw CompactedError.of(start, this.source.compactedRevision);
    }
    const synced = start === 0 || start > this.published;
    const w = new Watcher(this, {
      id: this.nextId++,
      range: keyRange(req.key, req.rangeEnd),
      prevKv: req.prevKv === true,
      progressNotify: req.progressNotify === true,
      startRevision: start === 0 ? this.published + 1 : start,
      synced,
      maxPendingEvents: req.maxPendingEvents ?? this.maxPendingEvents,
      maxPendingBytes: req.maxPendingBytes ?? this.maxPendingBytes,
    });
    this.watchers.set(w.id, w);
    if (synced) this.index(w);
    this.gauge?.set({ member: this.member }, this.watchers.size);
    return w;
  }

  /** Send a progress notification to every synced watcher that asked for them and has nothing pending. */
  notifyProgress(): void {
    for (const w of this.watchers.values()) {
      if (w.progressNotify && w.synced && w.pendingEvents === 0) this.progress(w);
    }
  }

  /** End every watch (with WatchCancelledError 'closing') and stop listening to the store. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const w of [...this.watchers.values()]) this.cancel(w, 'closing', 'the store is shutting down');
  }

  private index(w: Watcher): void {
    const r = w.range;
    switch (r.kind) {
      case 'single': {
        const k = mapKey(r.key);
        let set = this.byKey.get(k);
        if (set === undefined) {
          set = new Set();
          this.byKey.set(k, set);
        }
        set.add(w);
        return;
      }
      case 'span':
        this.spans.add(w);
        return;
      default:
        assertNever(r, 'key range');
    }
  }

  private unindex(w: Watcher): void {
    const r = w.range;
    if (r.kind === 'span') {
      this.spans.delete(w);
      return;
    }
    const k = mapKey(r.key);
    const set = this.byKey.get(k);
    set?.delete(w);
    if (set?.size === 0) this.byKey.delete(k);
  }

  private cancel(w: Watcher, reason: 'slow' | 'compacted' | 'reset' | 'closing', detail: string): void {
    this.cancelled?.inc({ member: this.member, reason });
    this.log.debug({ watchId: w.id, reason }, 'watch cancelled');
    w.cancel(reason, detail);
  }

  release(w: Watcher): void {
    if (this.watchers.delete(w.id)) {
      this.unindex(w);
      this.gauge?.set({ member: this.member }, this.watchers.size);
    }
  }

  progress(w: Watcher): void {
    if (!w.synced) {
      w.progressRequested = true;
      return;
    }
    if (!w.canTake(0, progressBytes)) {
      this.cancel(w, 'slow', 'progress notification over the backlog bound');
      return;
    }
    w.push({ kind: 'progress', revision: this.published }, 0, progressBytes);
  }

  private onCommit(notice: CommitNotice): void {
    switch (notice.kind) {
      case 'applied':
        for (const r of notice.revisions) this.publish(r);
        this.published = notice.revision;
        return;
      case 'restored': {
        // The state was replaced: every watcher reads history again from where it is.
        for (const w of this.watchers.values()) if (w.synced) w.markUnsynced(this.published + 1);
        this.byKey.clear();
        this.spans.clear();
        this.published = notice.revision;
        for (const w of [...this.watchers.values()]) {
          if (w.nextRevision > notice.revision + 1) {
            this.cancel(
              w,
              'reset',
              `the store was restored to revision ${notice.revision}, before this watch`,
            );
          } else {
            w.wake();
          }
        }
        return;
      }
      case 'closed':
        this.close();
        return;
      default:
        assertNever(notice, 'commit notice');
    }
  }

  private publish(r: RevisionEvents): void {
    if (this.byKey.size === 0 && this.spans.size === 0) return;
    const matched = new Map<Watcher, KvEvent[]>();
    const add = (w: Watcher, e: KvEvent) => {
      const list = matched.get(w);
      if (list === undefined) matched.set(w, [e]);
      else list.push(e);
    };
    for (const e of r.events) {
      const single = this.byKey.get(mapKey(e.kv.key));
      if (single !== undefined) for (const w of single) add(w, e);
      for (const w of this.spans) if (inKeyRange(e.kv.key, w.range)) add(w, e);
    }
    const prevKvs = new Map<KvEvent, KeyValue | undefined>();
    for (const [w, events] of matched) {
      if (r.revision < w.startRevision) continue;
      const { response, bytes } = this.response(r.revision, events, w.prevKv, prevKvs);
      if (!w.canTake(events.length, bytes)) {
        this.cancel(w, 'slow', `more than ${w.pendingEvents} events or ${w.pendingBytes} bytes unsent`);
        continue;
      }
      w.push(response, events.length, bytes);
    }
  }

  private response(
    revision: number,
    events: readonly KvEvent[],
    withPrev: boolean,
    prevKvs: Map<KvEvent, KeyValue | undefined>,
  ): { response: WatchResponse; bytes: number } {
    let bytes = 0;
    const out: WatchEvent[] = events.map((e) => {
      let prevKv: KeyValue | undefined;
      if (withPrev && e.prev !== undefined) {
        prevKv = prevKvs.get(e);
        if (prevKv === undefined) {
          prevKv = this.source.kvAt(e.prev);
          prevKvs.set(e, prevKv);
        }
      }
      bytes += eventOverheadBytes + kvBytes(e.kv) + kvBytes(prevKv);
      return prevKv === undefined ? { type: e.type, kv: e.kv } : { type: e.type, kv: e.kv, prevKv };
    });
    return { response: { kind: 'events', revision, events: out }, bytes };
  }

  /** One catch-up step: deliver history from the watcher's position, as far as its bounds allow. */
  catchUp(w: Watcher): void {
    if (w.synced || w.done || !this.source.available) return;
    assert(this.source.revision === this.published, 'the hub has published every committed revision');
    if (w.nextRevision < this.source.compactedRevision) {
      this.cancelled?.inc({ member: this.member, reason: 'compacted' });
      w.fail(CompactedError.of(w.nextRevision, this.source.compactedRevision));
      return;
    }
    if (w.nextRevision <= this.published) {
      const noPrev = new Map<KvEvent, KeyValue | undefined>();
      const revisions = this.source.readHistory(w.nextRevision, this.catchUpRecordsPerStep);
      let records = 0;
      for (const r of revisions) {
        assert(r.revision <= this.published, 'history holds no unpublished revision');
        const events = r.events.filter((e) => inKeyRange(e.kv.key, w.range));
        if (events.length > 0) {
          const { response, bytes } = this.response(r.revision, events, w.prevKv, noPrev);
          if (!w.canTake(events.length, bytes)) return; // the rest when the consumer has room
          w.push(response, events.length, bytes);
        }
        w.nextRevision = r.revision + 1;
        records += r.events.length;
      }
      // Fewer records than asked for: the history ends here, nothing is left to read.
      if (records < this.catchUpRecordsPerStep) w.nextRevision = this.published + 1;
    }
    if (w.nextRevision > this.published) {
      w.markSynced();
      this.index(w);
      if (w.progressRequested) {
        w.progressRequested = false;
        this.progress(w);
      }
    }
  }
}
