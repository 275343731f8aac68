/**
 * The scheduler: takes unscheduled pods from a priority queue one at a time, finds the
 * nodes that pass every filter (stopping, like Kubernetes, once it has found enough of
 * them in a large cluster), scores those, assumes the pod onto the best node and binds
 * it through `pods/binding` in the background while the next pod is placed. A pod that
 * fits nowhere gets a FailedScheduling event saying why, its PodScheduled condition set
 * to False, and waits (with back-off) until a cluster event could make it fit.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/kube-scheduler/
 * https://kubernetes.io/docs/concepts/scheduling-eviction/scheduling-framework/
 */
import { type Logger, metricOnce, type Registry } from '@flotilla/actor';
import {
  defaultSchedulerName,
  isConflict,
  isNotFound,
  isPodTerminal,
  type Node,
  type Pod,
  type ResourceClient,
  timeFromMs,
  withCondition,
} from '@flotilla/api';
import { Counter, Gauge, Histogram } from 'prom-client';
import { type ControllerContext, recorderFor } from '../context.ts';
import { NotLeaderError } from '../errors.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Informer } from '../informer/informer.ts';
import { sameJson } from '../json.ts';
import { WorkQueue } from '../queue/work-queue.ts';
import { keyOf, nodesResource, podsResource } from '../resources.ts';
import { type CycleState, failureMessage, filter, preFilter } from './filters.ts';
import type { NodeInfo } from './node-info.ts';
import { podInfoOf } from './pod-info.ts';
import { SchedulerCache } from './scheduler-cache.ts';
import { defaultScoreWeights, type ScoreWeights, scoreNodes } from './scores.ts';

export type SchedulerOptions = {
  readonly schedulerName?: string;
  /** Share of nodes to find feasible before scoring; 0 picks it by cluster size as Kubernetes does. */
  readonly percentageOfNodesToScore?: number;
  /** Back-off of a pod that did not fit: doubles from the first to the last (Kubernetes: 1 s, 10 s). */
  readonly podInitialBackoffMs?: number;
  readonly podMaxBackoffMs?: number;
  /** A pod parked as unschedulable is retried after this long even if nothing happened. */
  readonly maxUnschedulableMs?: number;
  /** Bindings sent and not yet answered; scheduling waits beyond this. */
  readonly maxBindsInFlight?: number;
  readonly weights?: ScoreWeights;
  readonly random?: () => number;
};

/** Kubernetes' minFeasibleNodesToFind and minFeasibleNodesPercentageToFind. */
const minFeasibleNodesToFind = 100;
const minFeasibleNodesPercentage = 5;
/** Longest run of back-to-back scheduling cycles before the event loop gets a turn. */
const maxSchedulingSliceMs = 10;
/** How often parked pods are checked against maxUnschedulableMs (Kubernetes flushes every 30 s). */
const unschedulableFlushPeriodMs = 30_000;

type SchedulerMetrics = {
  readonly attempts: Counter<'result'>;
  readonly attemptSeconds: Histogram<'result'>;
  readonly pending: Gauge<'queue'>;
  readonly bindsInFlight: Gauge;
  readonly bindSeconds: Histogram<'result'>;
};

function schedulerMetrics(registry: Registry): SchedulerMetrics {
  const registers = [registry];
  const buckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
  return {
    attempts: metricOnce(
      registry,
      'flotilla_scheduler_schedule_attempts_total',
      () =>
        new Counter({
          name: 'flotilla_scheduler_schedule_attempts_total',
          help: 'Scheduling attempts by result (scheduled, unschedulable, error)',
          labelNames: ['result'],
          registers,
        }),
    ),
    attemptSeconds: metricOnce(
      registry,
      'flotilla_scheduler_scheduling_attempt_duration_seconds',
      () =>
        new Histogram({
          name: 'flotilla_scheduler_scheduling_attempt_duration_seconds',
          help: 'Time to filter and score one pod (binding not included)',
          labelNames: ['result'],
          buckets,
          registers,
        }),
    ),
    pending: metricOnce(
      registry,
      'flotilla_scheduler_pending_pods',
      () =>
        new Gauge({
          name: 'flotilla_scheduler_pending_pods',
          help: 'Pods waiting: active (ready to try), backoff, unschedulable (parked)',
          labelNames: ['queue'],
          registers,
        }),
    ),
    bindsInFlight: metricOnce(
      registry,
      'flotilla_scheduler_binds_in_flight',
      () =>
        new Gauge({
          name: 'flotilla_scheduler_binds_in_flight',
          help: 'Bindings sent, not yet answered',
          registers,
        }),
    ),
    bindSeconds: metricOnce(
      registry,
      'flotilla_scheduler_binding_duration_seconds',
      () =>
        new Histogram({
          name: 'flotilla_scheduler_binding_duration_seconds',
          help: 'Time of a pods/binding call',
          labelNames: ['result'],
          buckets,
          registers,
        }),
    ),
  };
}

/** How many feasible nodes to find before scoring (Kubernetes' numFeasibleNodesToFind). */
export function feasibleNodesToFind(allNodes: number, percentage: number): number {
  if (allNodes < minFeasibleNodesToFind) return allNodes;
  let pct = percentage;
  if (pct <= 0) pct = Math.max(minFeasibleNodesPercentage, 50 - Math.floor(allNodes / 125));
  if (pct >= 100) return allNodes;
  return Math.max(minFeasibleNodesToFind, Math.floor((allNodes * pct) / 100));
}

export class Scheduler {
  readonly cache = new SchedulerCache();
  readonly queue: WorkQueue;
  private readonly podInformer: Informer<Pod>;
  private readonly nodeInformer: Informer<Node>;
  private readonly pods: ResourceClient<Pod>;
  private readonly ctx: ControllerContext;
  private readonly log: Logger;
  private readonly events: EventRecorder;
  private readonly metrics: SchedulerMetrics;
  private readonly name: string;
  private readonly percentage: number;
  private readonly maxUnschedulableMs: number;
  private readonly maxBindsInFlight: number;
  private readonly weights: ScoreWeights;
  private readonly random: () => number;
  /** Pods that fit nowhere, with when their back-off ends and when they were parked. */
  private readonly unschedulable = new Map<string, { retryAtMs: number; sinceMs: number }>();
  private nextStartIndex = 0;
  private bindsInFlight = 0;
  private bindSlot: (() => void) | undefined;
  private readonly binds = new Set<Promise<void>>();
  private offs: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(ctx: ControllerContext, options: SchedulerOptions = {}) {
    this.ctx = ctx;
    this.name = options.schedulerName ?? defaultSchedulerName;
    this.log = ctx.log.child({ component: 'scheduler' });
    this.podInformer = ctx.informers.informer<Pod>(podsResource);
    this.nodeInformer = ctx.informers.informer<Node>(nodesResource);
    this.pods = ctx.client.resource<Pod>(podsResource);
    this.events = recorderFor(ctx, this.name);
    this.metrics = schedulerMetrics(ctx.registry);
    this.percentage = options.percentageOfNodesToScore ?? 0;
    this.maxUnschedulableMs = options.maxUnschedulableMs ?? 5 * 60_000;
    this.maxBindsInFlight = options.maxBindsInFlight ?? 64;
    this.weights = options.weights ?? defaultScoreWeights;
    this.random = options.random ?? Math.random;
    this.queue = new WorkQueue({
      name: 'scheduler',
      registry: ctx.registry,
      log: ctx.log,
      baseRetryDelayMs: options.podInitialBackoffMs ?? 1_000,
      maxRetryDelayMs: options.podMaxBackoffMs ?? 10_000,
      // Unschedulable pods are retried for as long as they exist, as Kubernetes does.
      maxRetries: Number.MAX_SAFE_INTEGER,
      retriesPerSecond: Number.MAX_SAFE_INTEGER,
      priorityOf: (key) => this.podInformer.cache.get(key)?.spec?.priority ?? 0,
      now: ctx.now,
    });
  }

  /** Starts scheduling; the informers must be synced. */
  start(): void {
    if (this.loop !== undefined) return;
    this.offs.push(
      this.nodeInformer.addHandler({
        onAdd: (n) => {
          this.cache.setNode(n);
          this.moveAllUnschedulable();
        },
        onUpdate: (prev, n) => {
          this.cache.setNode(n);
          if (schedulingRelevantChange(prev, n)) this.moveAllUnschedulable();
        },
        onDelete: (n) => this.cache.removeNode(n.metadata.name ?? ''),
      }),
      this.podInformer.addHandler({
        onAdd: (p) => this.onPod(undefined, p),
        onUpdate: (prev, p) => this.onPod(prev, p),
        onDelete: (p) => {
          const key = keyOf(p);
          this.unschedulable.delete(key);
          if (this.cache.placementOf(key) !== undefined) {
            this.cache.removePod(key);
            this.moveAllUnschedulable();
          }
        },
      }),
    );
    this.flushTimer = setInterval(() => this.flushUnschedulable(), unschedulableFlushPeriodMs);
    this.flushTimer.unref();
    this.loop = this.run();
  }

  /** Stops taking pods and waits for the cycle and the bindings in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs.splice(0)) off();
    if (this.flushTimer !== undefined) clearInterval(this.flushTimer);
    this.queue.shutDown();
    this.bindSlot?.();
    await this.loop;
    await Promise.allSettled([...this.binds]);
  }

  private onPod(prev: Pod | undefined, pod: Pod): void {
    const key = keyOf(pod);
    if (pod.spec?.nodeName) {
      this.unschedulable.delete(key);
      this.cache.setBoundPod(pod);
      if (prev !== undefined && !sameJson(prev.metadata.labels, pod.metadata.labels))
        this.moveAllUnschedulable();
      return;
    }
    if (!this.wants(pod)) return;
    const parked = this.unschedulable.get(key);
    if (parked !== undefined) {
      // The pod itself changed (or a resync): try again once its back-off is over.
      if (
        prev !== undefined &&
        prev !== pod &&
        sameJson(prev.spec, pod.spec) &&
        sameJson(prev.metadata.labels, pod.metadata.labels)
      ) {
        return;
      }
      this.unschedulable.delete(key);
      this.queue.addAfter(key, parked.retryAtMs - this.ctx.now());
      return;
    }
    this.queue.add(key);
  }

  /** An unbound pod this scheduler is responsible for and that still needs a node. */
  private wants(pod: Pod): boolean {
    return (
      !pod.spec?.nodeName &&
      (pod.spec?.schedulerName ?? defaultSchedulerName) === this.name &&
      pod.metadata.deletionTimestamp === undefined &&
      !isPodTerminal(pod)
    );
  }

  private moveAllUnschedulable(): void {
    const now = this.ctx.now();
    for (const [key, parked] of this.unschedulable) this.queue.addAfter(key, parked.retryAtMs - now);
    this.unschedulable.clear();
  }

  private flushUnschedulable(): void {
    const now = this.ctx.now();
    for (const [key, parked] of this.unschedulable) {
      if (now - parked.sinceMs < this.maxUnschedulableMs) continue;
      this.unschedulable.delete(key);
      this.queue.add(key);
    }
    this.updatePendingGauge();
  }

  private async run(): Promise<void> {
    let sliceStart = performance.now();
    while (!this.stopped) {
      // Ready pods come out of the queue without a pause; hand the event loop back now
      // and then so binding answers, lease renewals and watch events are not held up.
      if (performance.now() - sliceStart >= maxSchedulingSliceMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      if (this.bindsInFlight >= this.maxBindsInFlight) {
        await new Promise<void>((resolve) => {
          this.bindSlot = resolve;
        });
        this.bindSlot = undefined;
        continue;
      }
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        this.scheduleOne(key);
      } catch (err) {
        this.log.error({ err, pod: key }, 'scheduling cycle failed');
        this.metrics.attempts.inc({ result: 'error' });
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
        this.updatePendingGauge();
      }
    }
  }

  /** One scheduling cycle: synchronous, so the cache cannot change under it. */
  scheduleOne(key: string): void {
    const pod = this.podInformer.cache.get(key);
    if (pod === undefined || !this.wants(pod) || this.cache.placementOf(key) !== undefined) return;
    const started = performance.now();
    const info = podInfoOf(pod);
    const state = preFilter(this.cache, info);
    const nodes = this.cache.nodes;
    const want = feasibleNodesToFind(nodes.length, this.percentage);
    const feasible: NodeInfo[] = [];
    const failures = new Map<string, readonly string[]>();
    let evaluated = 0;
    for (; evaluated < nodes.length && feasible.length < want; evaluated++) {
      const node = nodes[(this.nextStartIndex + evaluated) % nodes.length]!;
      const why = filter(state, node);
      if (why.length === 0) feasible.push(node);
      else failures.set(node.name, why);
    }
    if (nodes.length > 0) this.nextStartIndex = (this.nextStartIndex + evaluated) % nodes.length;
    if (feasible.length === 0) {
      const message =
        nodes.length === 0 ? 'no nodes available to schedule pods' : failureMessage(nodes.length, failures);
      this.unschedulableFound(pod, key, message);
      this.metrics.attempts.inc({ result: 'unschedulable' });
      this.metrics.attemptSeconds.observe({ result: 'unschedulable' }, (performance.now() - started) / 1000);
      return;
    }
    const chosen = this.select(state, feasible);
    this.cache.assume(info, chosen.name);
    this.queue.forget(key);
    this.metrics.attempts.inc({ result: 'scheduled' });
    this.metrics.attemptSeconds.observe({ result: 'scheduled' }, (performance.now() - started) / 1000);
    this.startBinding(pod, key, chosen.name);
  }

  private select(state: CycleState, feasible: readonly NodeInfo[]): NodeInfo {
    if (feasible.length === 1) return feasible[0]!;
    const scores = scoreNodes(state, feasible, this.cache, this.weights);
    // The highest score; ties broken at random (reservoir sampling), as Kubernetes does.
    let best = 0;
    let ties = 1;
    for (let i = 1; i < feasible.length; i++) {
      const s = scores[i] ?? 0;
      const b = scores[best] ?? 0;
      if (s > b) {
        best = i;
        ties = 1;
      } else if (s === b) {
        ties++;
        if (this.random() * ties < 1) best = i;
      }
    }
    return feasible[best]!;
  }

  private unschedulableFound(pod: Pod, key: string, message: string): void {
    const now = this.ctx.now();
    const backoffMs = this.queue.recordFailure(key);
    this.unschedulable.set(key, { retryAtMs: now + backoffMs, sinceMs: now });
    this.events.record(pod, 'Warning', 'FailedScheduling', message);
    const current = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (current?.status === 'False' && current.message === message) return;
    const conditions = withCondition(pod.status?.conditions, {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message,
      lastTransitionTime: timeFromMs(now),
    });
    void this.pods.updateStatus({ ...pod, status: { ...pod.status, conditions } }).catch((err: unknown) => {
      if (!(err instanceof NotLeaderError) && !isConflict(err) && !isNotFound(err)) {
        this.log.debug({ err, pod: key }, 'could not record unschedulable condition');
      }
    });
  }

  private startBinding(pod: Pod, key: string, node: string): void {
    this.bindsInFlight++;
    this.metrics.bindsInFlight.set(this.bindsInFlight);
    const started = performance.now();
    const bound = (async () => {
      try {
        await this.ctx.client.bind(pod.metadata.namespace ?? 'default', pod.metadata.name ?? '', node);
        this.metrics.bindSeconds.observe({ result: 'bound' }, (performance.now() - started) / 1000);
        this.events.record(
          pod,
          'Normal',
          'Scheduled',
          `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`,
        );
      } catch (err) {
        this.metrics.bindSeconds.observe({ result: 'failed' }, (performance.now() - started) / 1000);
        this.cache.forget(key);
        if (err instanceof NotLeaderError || this.stopped) return;
        // Already bound (by an earlier leader) or gone: the informer tells the rest.
        if (isConflict(err) || isNotFound(err)) return;
        this.log.warn({ err, pod: key, node }, 'binding failed');
        this.queue.addRateLimited(key);
      } finally {
        this.bindsInFlight--;
        this.metrics.bindsInFlight.set(this.bindsInFlight);
        this.bindSlot?.();
      }
    })();
    this.binds.add(bound);
    void bound.finally(() => this.binds.delete(bound));
  }

  private updatePendingGauge(): void {
    this.metrics.pending.set({ queue: 'active' }, this.queue.length);
    this.metrics.pending.set({ queue: 'backoff' }, this.queue.delayedLength);
    this.metrics.pending.set({ queue: 'unschedulable' }, this.unschedulable.size);
  }
}

/** A node change that could let a waiting pod fit (Kubernetes' queueing hints, roughly). */
function schedulingRelevantChange(prev: Node, next: Node): boolean {
  return (
    !sameJson(prev.metadata.labels, next.metadata.labels) ||
    !sameJson(prev.spec?.taints, next.spec?.taints) ||
    prev.spec?.unschedulable !== next.spec?.unschedulable ||
    !sameJson(prev.status?.allocatable, next.status?.allocatable)
  );
}
