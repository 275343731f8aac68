/**
 * The rate-limited work queue every controller and the scheduler share, shaped after
 * client-go's workqueue: a key is queued at most once (dedup), a key being processed is
 * never handed to a second worker at the same time (it is queued again when done if it
 * was added meanwhile), delayed adds, and per-key exponential back-off for retries with
 * a bounded number of them.
 * https://pkg.go.dev/k8s.io/client-go/util/workqueue
 */
import { type Logger, metricOnce, type Registry } from '@flotilla/actor';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MinHeap } from './min-heap.ts';

export type WorkQueueOptions = {
  /** Names the queue in metrics and logs: `replicaset`, `scheduler`. */
  readonly name: string;
  readonly registry: Registry;
  readonly log: Logger;
  /** First retry delay of a key; doubles on each further failure. */
  readonly baseRetryDelayMs?: number;
  /** Ceiling of a key's retry delay. */
  readonly maxRetryDelayMs?: number;
  /** Failures of one key after which `addRateLimited` drops it (resync brings it back). */
  readonly maxRetries?: number;
  /** Retries allowed per second across all keys (a token bucket), and its burst. */
  readonly retriesPerSecond?: number;
  readonly retryBurst?: number;
  /** Distinct keys held (ready, delayed, or marked while processing); adds beyond are dropped. */
  readonly maxItems?: number;
  /** When given, ready keys come out highest priority first (FIFO among equals). */
  readonly priorityOf?: (key: string) => number;
  readonly now?: () => number;
};

/** client-go's DefaultControllerRateLimiter: 5 ms doubling to 1000 s, 10 retries/s burst 100. */
export const defaultBaseRetryDelayMs = 5;
export const defaultMaxRetryDelayMs = 1_000_000;
export const defaultRetriesPerSecond = 10;
export const defaultRetryBurst = 100;
/** Kubernetes controllers give up on a key after about 15 failures (`maxRetries`). */
export const defaultMaxRetries = 15;
export const defaultMaxItems = 1_000_000;

type Ready = { readonly key: string; readonly priority: number; readonly seq: number };
type Delayed = { readonly key: string; readonly readyAtMs: number };

type QueueMetrics = {
  readonly depth: Gauge<'name'>;
  readonly adds: Counter<'name'>;
  readonly retries: Counter<'name'>;
  readonly dropped: Counter<'name' | 'reason'>;
  readonly queueSeconds: Histogram<'name'>;
  readonly workSeconds: Histogram<'name'>;
};

const durationBuckets = [0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60];

function queueMetrics(registry: Registry): QueueMetrics {
  const registers = [registry];
  return {
    depth: metricOnce(
      registry,
      'flotilla_workqueue_depth',
      () =>
        new Gauge({
          name: 'flotilla_workqueue_depth',
          help: 'Keys ready to be processed',
          labelNames: ['name'],
          registers,
        }),
    ),
    adds: metricOnce(
      registry,
      'flotilla_workqueue_adds_total',
      () =>
        new Counter({
          name: 'flotilla_workqueue_adds_total',
          help: 'Keys added (ready or delayed)',
          labelNames: ['name'],
          registers,
        }),
    ),
    retries: metricOnce(
      registry,
      'flotilla_workqueue_retries_total',
      () =>
        new Counter({
          name: 'flotilla_workqueue_retries_total',
          help: 'Keys queued again after a failure, with back-off',
          labelNames: ['name'],
          registers,
        }),
    ),
    dropped: metricOnce(
      registry,
      'flotilla_workqueue_dropped_total',
      () =>
        new Counter({
          name: 'flotilla_workqueue_dropped_total',
          help: 'Keys dropped: retries exhausted, or the queue full',
          labelNames: ['name', 'reason'],
          registers,
        }),
    ),
    queueSeconds: metricOnce(
      registry,
      'flotilla_workqueue_queue_duration_seconds',
      () =>
        new Histogram({
          name: 'flotilla_workqueue_queue_duration_seconds',
          help: 'Time a key waits ready in the queue before a worker takes it',
          labelNames: ['name'],
          buckets: durationBuckets,
          registers,
        }),
    ),
    workSeconds: metricOnce(
      registry,
      'flotilla_workqueue_work_duration_seconds',
      () =>
        new Histogram({
          name: 'flotilla_workqueue_work_duration_seconds',
          help: 'Time a worker spends on a key',
          labelNames: ['name'],
          buckets: durationBuckets,
          registers,
        }),
    ),
  };
}

export class WorkQueue {
  readonly name: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly baseRetryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly maxRetries: number;
  private readonly retriesPerSecond: number;
  private readonly retryBurst: number;
  private readonly maxItems: number;
  private readonly priorityOf: ((key: string) => number) | undefined;
  private readonly metrics: QueueMetrics;

  private readonly ready = new MinHeap<Ready>((a, b) =>
    a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq,
  );
  /** Keys in `ready`, with the time they were added (for the queue-duration metric). */
  private readonly readySince = new Map<string, number>();
  /** Keys a worker holds, with the time it took them. */
  private readonly processing = new Map<string, number>();
  /** Keys added while a worker held them: queued again on `done`. */
  private readonly dirty = new Set<string>();
  /** Delayed keys and their earliest ready time; the heap may hold stale entries. */
  private readonly delayed = new Map<string, number>();
  private readonly delayedHeap = new MinHeap<Delayed>((a, b) => a.readyAtMs < b.readyAtMs);
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private readonly failures = new Map<string, number>();
  private bucketTokens: number;
  private bucketUpdatedMs: number;
  private seq = 0;
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.log = options.log.child({ queue: options.name });
    this.now = options.now ?? Date.now;
    this.baseRetryDelayMs = options.baseRetryDelayMs ?? defaultBaseRetryDelayMs;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? defaultMaxRetryDelayMs;
    this.maxRetries = options.maxRetries ?? defaultMaxRetries;
    this.retriesPerSecond = options.retriesPerSecond ?? defaultRetriesPerSecond;
    this.retryBurst = options.retryBurst ?? defaultRetryBurst;
    this.maxItems = options.maxItems ?? defaultMaxItems;
    this.priorityOf = options.priorityOf;
    this.metrics = queueMetrics(options.registry);
    this.bucketTokens = this.retryBurst;
    this.bucketUpdatedMs = this.now();
  }

  /** Keys ready to be taken. */
  get length(): number {
    return this.readySince.size;
  }

  /** Keys waiting for their delay. */
  get delayedLength(): number {
    return this.delayed.size;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Queues `key` now (no-op if it is already queued; marked if a worker holds it). */
  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.readySince.has(key) || this.dirty.has(key)) return;
    if (!this.delayed.delete(key) && !this.admit(key)) return;
    this.metrics.adds.inc({ name: this.name });
    if (this.processing.has(key)) this.dirty.add(key);
    else this.pushReady(key);
  }

  /** Queues `key` after `delayMs`; an earlier pending time for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    if (this.readySince.has(key) || this.dirty.has(key)) return;
    const readyAtMs = this.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending !== undefined && pending <= readyAtMs) return;
    if (pending === undefined && !this.admit(key)) return;
    this.delayed.set(key, readyAtMs);
    this.delayedHeap.push({ key, readyAtMs });
    this.metrics.adds.inc({ name: this.name });
    this.armTimer();
  }

  /**
   * Queues `key` again after its back-off (doubling per failure, and no faster than the
   * retry bucket allows). Returns false when the key has failed `maxRetries` times: it is
   * then dropped and forgotten, and only a new event or a resync brings it back.
   */
  addRateLimited(key: string): boolean {
    const failures = this.failures.get(key) ?? 0;
    if (failures >= this.maxRetries) {
      this.failures.delete(key);
      this.metrics.dropped.inc({ name: this.name, reason: 'retries' });
      this.log.warn({ key, failures }, 'dropping key after too many failures');
      return false;
    }
    this.failures.set(key, failures + 1);
    this.metrics.retries.inc({ name: this.name });
    this.addAfter(key, Math.max(this.backoffMs(failures), this.bucketDelayMs()));
    return true;
  }

  /** The per-key back-off after `failures` failures, without the bucket. */
  backoffMs(failures: number): number {
    return Math.min(this.maxRetryDelayMs, this.baseRetryDelayMs * 2 ** Math.min(failures, 52));
  }

  /** Failures recorded for `key` since it was last forgotten. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Counts one more failure of `key` and returns its back-off, without queueing it. */
  recordFailure(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    return this.backoffMs(failures);
  }

  /** Clears the failures of `key`: its next retry starts from the base delay. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /**
   * The next key, once one is ready; undefined once the queue shuts down. The caller
   * must call `done(key)` when finished with it.
   */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** A worker finished `key`: queue it again if it was added meanwhile. */
  done(key: string): void {
    const since = this.processing.get(key);
    if (since === undefined) return;
    this.processing.delete(key);
    this.metrics.workSeconds.observe({ name: this.name }, (this.now() - since) / 1000);
    if (this.dirty.delete(key) && !this.shuttingDown) this.pushReady(key);
    if (this.processing.size === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Stops handing out keys: waiting `get` calls resolve undefined; delayed keys are dropped. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.delayed.clear();
    this.delayedHeap.clear();
    this.ready.clear();
    this.readySince.clear();
    this.dirty.clear();
    this.metrics.depth.set({ name: this.name }, 0);
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Resolves when no worker holds a key (after `shutDown`, when every worker has finished). */
  whenIdle(): Promise<void> {
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private admit(key: string): boolean {
    const held = this.readySince.size + this.delayed.size + this.dirty.size;
    if (held < this.maxItems) return true;
    this.metrics.dropped.inc({ name: this.name, reason: 'full' });
    this.log.warn({ key, maxItems: this.maxItems }, 'work queue full: dropping key until the next resync');
    return false;
  }

  private pushReady(key: string): void {
    this.readySince.set(key, this.now());
    this.ready.push({ key, priority: this.priorityOf?.(key) ?? 0, seq: this.seq++ });
    this.metrics.depth.set({ name: this.name }, this.readySince.size);
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter(this.take());
  }

  private take(): string | undefined {
    for (;;) {
      const next = this.ready.pop();
      if (next === undefined) return undefined;
      const since = this.readySince.get(next.key);
      if (since === undefined) continue;
      this.readySince.delete(next.key);
      this.processing.set(next.key, this.now());
      this.metrics.depth.set({ name: this.name }, this.readySince.size);
      this.metrics.queueSeconds.observe({ name: this.name }, (this.now() - since) / 1000);
      return next.key;
    }
  }

  private bucketDelayMs(): number {
    const now = this.now();
    const refill = ((now - this.bucketUpdatedMs) / 1000) * this.retriesPerSecond;
    this.bucketTokens = Math.min(this.retryBurst, this.bucketTokens + refill);
    this.bucketUpdatedMs = now;
    this.bucketTokens -= 1;
    // A negative balance is a reservation: the retry waits until the bucket refills.
    return this.bucketTokens >= 0 ? 0 : (-this.bucketTokens / this.retriesPerSecond) * 1000;
  }

  private armTimer(): void {
    const head = this.delayedHeap.peek();
    if (head === undefined) return;
    if (this.timer !== undefined && this.timerAtMs <= head.readyAtMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAtMs = head.readyAtMs;
    this.timer = setTimeout(() => this.releaseDue(), Math.max(0, head.readyAtMs - this.now()));
    this.timer.unref();
  }

  private releaseDue(): void {
    this.timer = undefined;
    this.timerAtMs = Number.POSITIVE_INFINITY;
    const now = this.now();
    for (;;) {
      const head = this.delayedHeap.peek();
      if (head === undefined || head.readyAtMs > now) break;
      this.delayedHeap.pop();
      if (this.delayed.get(head.key) !== head.readyAtMs) continue; // stale entry
      this.delayed.delete(head.key);
      if (this.readySince.has(head.key) || this.dirty.has(head.key)) continue;
      if (this.processing.has(head.key)) this.dirty.add(head.key);
      else this.pushReady(head.key);
    }
    this.armTimer();
  }
}
