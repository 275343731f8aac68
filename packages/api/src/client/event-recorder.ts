/**
 * How components record Events (what `kubectl describe` lists under "Events:"), as
 * client-go's event recorder does it: recording never blocks the caller; the same event
 * about the same object within the aggregation window bumps `count` and `lastTimestamp`
 * of the Event already written instead of writing a new one; and everything is bounded
 * (events waiting to be written, events remembered for aggregation).
 * https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
 */
import type { Logger } from '@flotilla/actor';
import { newEvent, objectReference } from '../events.ts';
import { isNotFound } from '../status.ts';
import { timeFromMs } from '../time.ts';
import type { Event } from '../types/core.ts';
import type { KubeObject } from '../types/meta.ts';
import type { ApiClient, ResourceClient } from './client.ts';

export type EventRecorderOptions = {
  readonly client: ApiClient;
  /** The reporting component: `default-scheduler`, `replicaset-controller`, `kubelet`. */
  readonly component: string;
  /** The reporting instance (a node's name for the agent), or none. */
  readonly host?: string;
  readonly log?: Logger;
  readonly nowMs?: () => number;
  /** Events waiting to be written; beyond it new ones are dropped (and counted). */
  readonly maxPendingEvents?: number;
  /** Written events remembered for aggregation; the oldest are forgotten first. */
  readonly maxRememberedEvents?: number;
  /** A repeat within this long of the first occurrence is counted on the same Event. */
  readonly aggregationWindowMs?: number;
};

type Remembered = {
  readonly name: string;
  readonly namespace: string;
  readonly firstMs: number;
  count: number;
};

type Pending = {
  readonly involved: KubeObject;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  readonly atMs: number;
};

export class EventRecorder {
  private readonly events: ResourceClient<Event>;
  private readonly options: EventRecorderOptions;
  private readonly nowMs: () => number;
  private readonly maxPending: number;
  private readonly maxRemembered: number;
  private readonly windowMs: number;
  private readonly queue: Pending[] = [];
  private readonly remembered = new Map<string, Remembered>();
  private draining: Promise<void> | undefined;
  /** Makes names unique among events of one object recorded in the same millisecond. */
  private sequence = 0;
  /** Events dropped because the queue was full. */
  dropped = 0;

  constructor(options: EventRecorderOptions) {
    this.options = options;
    this.events = options.client.resource<Event>({ group: '', version: 'v1', resource: 'events' });
    this.nowMs = options.nowMs ?? Date.now;
    this.maxPending = options.maxPendingEvents ?? 1_000;
    this.maxRemembered = options.maxRememberedEvents ?? 4_096;
    this.windowMs = options.aggregationWindowMs ?? 10 * 60 * 1000;
  }

  /** Records an event about `involved`; returns at once (the write happens in the background). */
  record(involved: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.queue.length >= this.maxPending) {
      this.dropped += 1;
      return;
    }
    this.queue.push({ involved, type, reason, message, atMs: this.nowMs() });
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Resolves once every event recorded so far was written (or failed and was logged). */
  async flush(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  private async drain(): Promise<void> {
    for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) {
      try {
        await this.write(e);
      } catch (err) {
        this.options.log?.warn({ err, reason: e.reason }, 'could not record an event');
      }
    }
  }

  private async write(e: Pending): Promise<void> {
    const ref = objectReference(e.involved);
    const key = [ref.uid ?? '', ref.namespace ?? '', ref.name ?? '', e.type, e.reason, e.message].join(
      '\u0000',
    );
    const seen = this.remembered.get(key);
    if (seen !== undefined && e.atMs - seen.firstMs < this.windowMs) {
      const count = seen.count + 1;
      try {
        await this.events.patch(
          seen.name,
          'merge',
          { count, lastTimestamp: timeFromMs(e.atMs) },
          { namespace: seen.namespace },
        );
        seen.count = count;
        return;
      } catch (err) {
        // Expired or deleted meanwhile: write a new one.
        if (!isNotFound(err)) throw err;
      }
    }
    const event = newEvent({
      involved: ref,
      type: e.type,
      reason: e.reason,
      message: e.message,
      component: this.options.component,
      host: this.options.host ?? '',
      nowMs: e.atMs,
    });
    // The recorder's name is `<object>.<nanoseconds in hex>`; the sequence keeps two events
    // of one millisecond apart.
    this.sequence = (this.sequence + 1) % 1_000_000;
    const nanos = BigInt(Math.trunc(e.atMs)) * 1_000_000n + BigInt(this.sequence);
    const named = {
      ...event,
      metadata: { ...event.metadata, name: `${ref.name ?? 'unknown'}.${nanos.toString(16)}` },
    };
    const created = await this.events.create(named);
    this.remember(key, {
      name: created.metadata.name ?? '',
      namespace: created.metadata.namespace ?? '',
      firstMs: e.atMs,
      count: 1,
    });
  }

  private remember(key: string, entry: Remembered): void {
    this.remembered.delete(key);
    this.remembered.set(key, entry);
    // Map iterates in insertion order: the first key is the oldest.
    while (this.remembered.size > this.maxRemembered) {
      const oldest = this.remembered.keys().next().value;
      if (oldest === undefined) break;
      this.remembered.delete(oldest);
    }
  }
}
