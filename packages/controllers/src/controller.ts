/**
 * What every controller is: a reconcile function from a key to one step toward the
 * desired state, fed by informer handlers through one rate-limited work queue, run by a
 * few workers. A reconcile that throws is retried with back-off; one that returns
 * `requeueAfter` is called again after that delay (a deadline it is waiting out).
 * https://kubernetes.io/docs/concepts/architecture/controller/
 */
import { type Logger, metricOnce, type Registry } from '@flotilla/actor';
import { isAlreadyExists, isConflict, isNotFound } from '@flotilla/api';
import { Counter, Histogram } from 'prom-client';
import { NotLeaderError } from './errors.ts';
import { WorkQueue, type WorkQueueOptions } from './queue/work-queue.ts';

/** Longest run of back-to-back reconciles by one worker before the event loop gets a turn. */
const maxWorkerSliceMs = 10;

export type ReconcileResult =
  | { readonly kind: 'done' }
  | { readonly kind: 'requeueAfter'; readonly delayMs: number };

export const done: ReconcileResult = { kind: 'done' };
export const requeueAfter = (delayMs: number): ReconcileResult => ({
  kind: 'requeueAfter',
  delayMs: Math.max(1, Math.ceil(delayMs)),
});

/** The earlier of two results' requeue times ('done' if neither requeues). */
export function sooner(a: ReconcileResult, b: ReconcileResult): ReconcileResult {
  if (a.kind === 'done') return b;
  if (b.kind === 'done') return a;
  return a.delayMs <= b.delayMs ? a : b;
}

/** How a controller's informer handlers put keys in its queue. */
export type Enqueue = {
  readonly add: (key: string) => void;
  readonly addAfter: (key: string, delayMs: number) => void;
};

export interface Reconciler {
  readonly name: string;
  /** Registers informer handlers that enqueue keys; returns a function removing them. */
  watch(enqueue: Enqueue): () => void;
  reconcile(key: string): Promise<ReconcileResult>;
}

export type ControllerOptions = {
  readonly reconciler: Reconciler;
  readonly log: Logger;
  readonly registry: Registry;
  /** Keys reconciled at once (each key by one worker at a time). */
  readonly workers?: number;
  readonly queue?: Omit<WorkQueueOptions, 'name' | 'registry' | 'log'>;
};

type ControllerMetrics = {
  readonly reconciles: Counter<'controller' | 'result'>;
  readonly seconds: Histogram<'controller'>;
};

function controllerMetrics(registry: Registry): ControllerMetrics {
  const registers = [registry];
  return {
    reconciles: metricOnce(
      registry,
      'flotilla_controller_reconciles_total',
      () =>
        new Counter({
          name: 'flotilla_controller_reconciles_total',
          help: 'Reconciles by controller and result (done, requeue, conflict, error, not_leader)',
          labelNames: ['controller', 'result'],
          registers,
        }),
    ),
    seconds: metricOnce(
      registry,
      'flotilla_controller_reconcile_duration_seconds',
      () =>
        new Histogram({
          name: 'flotilla_controller_reconcile_duration_seconds',
          help: 'Time one reconcile took',
          labelNames: ['controller'],
          buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
          registers,
        }),
    ),
  };
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly log: Logger;
  private readonly workers: number;
  private readonly metrics: ControllerMetrics;
  private unwatch: (() => void) | undefined;
  private running: Promise<void>[] = [];

  constructor(options: ControllerOptions) {
    this.reconciler = options.reconciler;
    this.name = options.reconciler.name;
    this.log = options.log.child({ controller: this.name });
    this.workers = options.workers ?? 2;
    this.metrics = controllerMetrics(options.registry);
    this.queue = new WorkQueue({
      ...options.queue,
      name: this.name,
      registry: options.registry,
      log: options.log,
    });
  }

  start(): void {
    if (this.unwatch !== undefined) return;
    this.unwatch = this.reconciler.watch({
      add: (key) => this.queue.add(key),
      addAfter: (key, delayMs) => this.queue.addAfter(key, delayMs),
    });
    for (let i = 0; i < this.workers; i++) this.running.push(this.work());
  }

  /** Stops taking keys and waits for the reconciles in progress to finish. */
  async stop(): Promise<void> {
    this.unwatch?.();
    this.queue.shutDown();
    await Promise.all(this.running);
    this.running = [];
  }

  private async work(): Promise<void> {
    let sliceStart = performance.now();
    for (;;) {
      // Reconciles that only read the cache chain through microtasks: give the event loop
      // a turn now and then so I/O (lease renewals above all) is never starved.
      if (performance.now() - sliceStart >= maxWorkerSliceMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      const key = await this.queue.get();
      if (key === undefined) return;
      const started = performance.now();
      let result = 'done';
      try {
        const r = await this.reconciler.reconcile(key);
        this.queue.forget(key);
        if (r.kind === 'requeueAfter') {
          result = 'requeue';
          this.queue.addAfter(key, r.delayMs);
        }
      } catch (err) {
        if (err instanceof NotLeaderError) {
          result = 'not_leader'; // the term ended: the next leader reconciles this key
        } else if (isConflict(err) || isNotFound(err) || isAlreadyExists(err)) {
          // The cache was behind the server; the watch brings the newer object shortly.
          result = 'conflict';
          this.log.debug({ key, err: (err as Error).message }, 'stale cache, retrying');
          this.queue.addRateLimited(key);
        } else {
          result = 'error';
          this.log.warn({ key, err }, 'reconcile failed');
          this.queue.addRateLimited(key);
        }
      } finally {
        this.queue.done(key);
        this.metrics.reconciles.inc({ controller: this.name, result });
        this.metrics.seconds.observe({ controller: this.name }, (performance.now() - started) / 1000);
      }
    }
  }
}
