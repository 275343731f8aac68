/**
 * Records core/v1 Events the way Kubernetes' event recorder does, so that `kubectl
 * describe` shows why something happened: a repeat of the same event (same object,
 * type, reason and message) within the aggregation window bumps the count of the event
 * already written instead of writing another. Recording never blocks a reconcile and
 * never fails it; events beyond the rate limit are dropped and counted.
 * https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
 */
import { type Logger, metricOnce, type Registry } from '@flotilla/actor';
import {
  type ApiClient,
  type Event,
  isNotFound,
  type KubeObject,
  newEvent,
  objectReference,
  type ResourceClient,
  timeFromMs,
} from '@flotilla/api';
import { Counter } from 'prom-client';
import { NotLeaderError } from './errors.ts';
import { eventsResource } from './resources.ts';

export type EventRecorderOptions = {
  readonly client: ApiClient;
  readonly log: Logger;
  readonly registry: Registry;
  /** The reporting component: `deployment-controller`, `default-scheduler`. */
  readonly component: string;
  readonly now?: () => number;
  /** Events written per second (a token bucket) and its burst. */
  readonly eventsPerSecond?: number;
  readonly eventBurst?: number;
  /** How long a repeat is folded into the event already written. */
  readonly aggregateWindowMs?: number;
  /** Distinct events remembered for folding; the oldest is forgotten beyond it. */
  readonly maxTrackedEvents?: number;
};

type Tracked = { name: string; namespace: string; count: number; firstMs: number; chain: Promise<void> };

export class EventRecorder {
  private readonly events: ResourceClient<Event>;
  private readonly log: Logger;
  private readonly component: string;
  private readonly now: () => number;
  private readonly eventsPerSecond: number;
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly maxTracked: number;
  private readonly tracked = new Map<string, Tracked>();
  private tokens: number;
  private tokensAtMs: number;
  private readonly outcomes: Counter<'component' | 'outcome'>;

  constructor(options: EventRecorderOptions) {
    this.events = options.client.resource<Event>(eventsResource);
    this.log = options.log.child({ events: options.component });
    this.component = options.component;
    this.now = options.now ?? Date.now;
    this.eventsPerSecond = options.eventsPerSecond ?? 25;
    this.burst = options.eventBurst ?? 100;
    this.windowMs = options.aggregateWindowMs ?? 10 * 60_000;
    this.maxTracked = options.maxTrackedEvents ?? 4096;
    this.tokens = this.burst;
    this.tokensAtMs = this.now();
    this.outcomes = metricOnce(
      options.registry,
      'flotilla_events_recorded_total',
      () =>
        new Counter({
          name: 'flotilla_events_recorded_total',
          help: 'Events a component recorded: created, folded into an earlier one, dropped or failed',
          labelNames: ['component', 'outcome'],
          registers: [options.registry],
        }),
    );
  }

  record(involved: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (!this.take()) {
      this.outcomes.inc({ component: this.component, outcome: 'dropped' });
      return;
    }
    const key = `${involved.metadata.uid ?? involved.metadata.name}|${type}|${reason}|${message}`;
    const nowMs = this.now();
    const prev = this.tracked.get(key);
    if (prev !== undefined && nowMs - prev.firstMs < this.windowMs) {
      prev.count++;
      const count = prev.count;
      prev.chain = prev.chain.then(() => this.bump(prev, count, nowMs, involved, type, reason, message));
      return;
    }
    const event = newEvent({
      involved: objectReference(involved),
      type,
      reason,
      message,
      component: this.component,
      host: '',
      nowMs,
    });
    const entry: Tracked = {
      name: event.metadata.name ?? '',
      namespace: event.metadata.namespace ?? 'default',
      count: 1,
      firstMs: nowMs,
      chain: Promise.resolve(),
    };
    this.tracked.delete(key);
    this.tracked.set(key, entry);
    if (this.tracked.size > this.maxTracked) {
      const oldest = this.tracked.keys().next().value;
      if (oldest !== undefined) this.tracked.delete(oldest);
    }
    entry.chain = this.write(() => this.events.create(event), 'created');
  }

  private bump(
    entry: Tracked,
    count: number,
    nowMs: number,
    involved: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    return this.write(async () => {
      try {
        await this.events.patch(
          entry.name,
          'merge',
          { count, lastTimestamp: timeFromMs(nowMs) },
          { namespace: entry.namespace },
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const event = newEvent({
          involved: objectReference(involved),
          type,
          reason,
          message,
          component: this.component,
          host: '',
          nowMs,
        });
        entry.name = event.metadata.name ?? entry.name;
        await this.events.create(event);
      }
    }, 'folded');
  }

  private async write(f: () => Promise<unknown>, outcome: string): Promise<void> {
    try {
      await f();
      this.outcomes.inc({ component: this.component, outcome });
    } catch (err) {
      if (err instanceof NotLeaderError) return;
      this.outcomes.inc({ component: this.component, outcome: 'failed' });
      this.log.debug({ err }, 'could not record event');
    }
  }

  private take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.tokensAtMs) / 1000) * this.eventsPerSecond);
    this.tokensAtMs = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
