import { assert } from '@flotilla/actor';
import { WatchCancelledError } from '../mvcc/errors.ts';
import type { KeyRange } from '../mvcc/keys.ts';
import type { WatchResponse } from './types.ts';

/** The hub's side of a watcher. */
export interface WatcherHost {
  /** The last revision the hub has published. */
  readonly revision: number;
  /** Whether history can be read now (not while the store restores a snapshot). */
  readonly readable: boolean;
  /** One bounded step of reading history for an unsynced watcher. */
  catchUp(w: Watcher): void;
  /** Deliver (or, if unsynced, remember) a progress notification. */
  progress(w: Watcher): void;
  /** The watcher ended; forget it. */
  release(w: Watcher): void;
}

type Queued = { readonly response: WatchResponse; readonly events: number; readonly bytes: number };
type Waiter = {
  readonly resolve: (r: WatchResponse | undefined) => void;
  readonly reject: (err: Error) => void;
};

export type WatcherSettings = {
  readonly id: number;
  readonly range: KeyRange;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly startRevision: number;
  readonly synced: boolean;
  readonly maxPendingEvents: number;
  readonly maxPendingBytes: number;
};

// Drop the consumed front of the queue array once it is this long.
const queueCompactionItems = 1024;

/**
 * One watch: an async pull of responses in revision order. While "unsynced" it reads the
 * backend's history, a bounded step per pull, only as fast as its consumer takes
 * responses; once it reaches the hub's revision it is "synced" and the hub pushes each
 * new revision to it. A synced watcher whose unsent backlog would pass its bounds is
 * cancelled (never skipped ahead): `next()` then rejects with WatchCancelledError.
 */
export class Watcher implements AsyncIterable<WatchResponse> {
  readonly id: number;
  readonly range: KeyRange;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  /** No event below this revision is delivered. */
  readonly startRevision: number;
  /** While unsynced: the next revision to read from history. */
  nextRevision: number;
  /** A progress request waiting for the watcher to sync. */
  progressRequested = false;
  private readonly host: WatcherHost;
  private readonly maxPendingEvents: number;
  private readonly maxPendingBytes: number;
  private queue: Queued[] = [];
  private head = 0;
  private eventsPending = 0;
  private bytesPending = 0;
  private phase: 'unsynced' | 'synced' | 'closed' | 'failed';
  private waiter: Waiter | undefined;
  private failure: Error | undefined;
  private pump: NodeJS.Immediate | undefined;

  constructor(host: WatcherHost, s: WatcherSettings) {
    assert(s.maxPendingEvents >= 1 && s.maxPendingBytes >= 1, 'watch backlog bounds are positive');
    this.host = host;
    this.id = s.id;
    this.range = s.range;
    this.prevKv = s.prevKv;
    this.progressNotify = s.progressNotify;
    this.startRevision = s.startRevision;
    this.nextRevision = s.startRevision;
    this.maxPendingEvents = s.maxPendingEvents;
    this.maxPendingBytes = s.maxPendingBytes;
    this.phase = s.synced ? 'synced' : 'unsynced';
  }

  get synced(): boolean {
    return this.phase === 'synced';
  }

  get done(): boolean {
    return this.phase === 'closed' || this.phase === 'failed';
  }

  /** Events queued and not yet taken by the consumer. */
  get pendingEvents(): number {
    return this.eventsPending;
  }

  get pendingBytes(): number {
    return this.bytesPending;
  }

  /** Every event below this revision has been handed to the consumer. */
  get deliveredBelow(): number {
    const first = this.queue[this.head];
    if (first !== undefined) return first.response.revision;
    return this.phase === 'unsynced' ? this.nextRevision : this.host.revision + 1;
  }

  /** Hub: the watcher caught up with the published revision. */
  markSynced(): void {
    assert(this.phase === 'unsynced', 'only an unsynced watcher syncs');
    this.phase = 'synced';
  }

  /** Hub: a restore replaced the state; read history again from where this watcher is. */
  markUnsynced(nextRevision: number): void {
    assert(this.phase === 'synced', 'only a synced watcher unsyncs');
    this.phase = 'unsynced';
    this.nextRevision = nextRevision;
  }

  /**
   * Whether `events`/`bytes` more fit the backlog bounds. An empty backlog always takes
   * one more revision, however large: a revision is never split.
   */
  canTake(events: number, bytes: number): boolean {
    if (this.head === this.queue.length) return true;
    return (
      this.eventsPending + events <= this.maxPendingEvents &&
      this.bytesPending + bytes <= this.maxPendingBytes
    );
  }

  /** Hub: queue a response (the caller checked `canTake`). */
  push(response: WatchResponse, events: number, bytes: number): void {
    if (this.done) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      assert(this.head === this.queue.length, 'a consumer waits only on an empty queue');
      this.waiter = undefined;
      waiter.resolve(response);
      return;
    }
    this.queue.push({ response, events, bytes });
    this.eventsPending += events;
    this.bytesPending += bytes;
  }

  /** The next response; undefined once closed; rejects once the store cancelled the watch. */
  next(): Promise<WatchResponse | undefined> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    assert(this.waiter === undefined, 'one next() at a time per watcher');
    const ready = this.take();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.phase === 'closed') return Promise.resolve(undefined);
    if (this.phase === 'unsynced') {
      this.host.catchUp(this);
      if (this.failure !== undefined) return Promise.reject(this.failure);
      const caught = this.take();
      if (caught !== undefined) return Promise.resolve(caught);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      if (this.phase === 'unsynced') this.schedulePump();
    });
  }

  // Catch-up that found nothing for this watcher continues on later turns, so a long
  // history of other keys never blocks the event loop in one go.
  private schedulePump(): void {
    if (this.pump !== undefined) return;
    this.pump = setImmediate(() => {
      this.pump = undefined;
      if (this.waiter === undefined || this.phase !== 'unsynced') return;
      this.host.catchUp(this);
      const w = this.waiter;
      if (w === undefined) return; // a push during the step already answered it
      const ready = this.take();
      if (ready !== undefined) {
        this.waiter = undefined;
        w.resolve(ready);
      } else if (this.phase === 'unsynced' && this.host.readable) {
        this.schedulePump();
      }
    });
  }

  /** Hub: history is readable again; a waiting consumer's catch-up resumes. */
  wake(): void {
    if (this.waiter !== undefined && this.phase === 'unsynced') this.schedulePump();
  }

  private take(): WatchResponse | undefined {
    if (this.head === this.queue.length) return undefined;
    const item = this.queue[this.head++]!;
    this.eventsPending -= item.events;
    this.bytesPending -= item.bytes;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= queueCompactionItems) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return item.response;
  }

  /** Ask for a progress notification: sent once every earlier event has been queued. */
  requestProgress(): void {
    if (!this.done) this.host.progress(this);
  }

  /** Hub: end the watch with an error; queued responses are dropped. */
  fail(err: Error): void {
    if (this.done) return;
    this.phase = 'failed';
    this.failure = err;
    this.dropQueue();
    this.host.release(this);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
  }

  /** Hub: cancel for a reason, telling the consumer where to resume. */
  cancel(reason: WatchCancelledError['data']['reason'], detail: string): void {
    if (this.done) return;
    this.fail(WatchCancelledError.of(this.id, reason, this.deliveredBelow, detail));
  }

  /** Stop watching; a pending `next()` resolves with undefined. */
  close(): void {
    if (this.done) return;
    this.phase = 'closed';
    this.dropQueue();
    this.host.release(this);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve(undefined);
  }

  private dropQueue(): void {
    this.queue = [];
    this.head = 0;
    this.eventsPending = 0;
    this.bytesPending = 0;
    if (this.pump !== undefined) clearImmediate(this.pump);
    this.pump = undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    try {
      for (;;) {
        const r = await this.next();
        if (r === undefined) return;
        yield r;
      }
    } finally {
      this.close();
    }
  }
}
