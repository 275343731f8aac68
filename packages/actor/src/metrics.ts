import { Counter, Gauge, type Histogram, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One registry per process; every component registers its metrics on it. */
export function createRegistry(defaultLabels?: Record<string, string>): Registry {
  const registry = new Registry();
  if (defaultLabels) registry.setDefaultLabels(defaultLabels);
  return registry;
}

/**
 * Return the metric named `name` from `registry`, creating it with `make` the first time.
 * Several actors of one process share a metric and tell themselves apart by labels.
 */
export function metricOnce<M extends Counter | Gauge | Histogram>(
  registry: Registry,
  name: string,
  make: () => M,
): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

export interface ActorMetrics {
  readonly dropped: Counter<'actor' | 'reason'>;
  readonly handled: Counter<'actor' | 'method' | 'outcome'>;
  readonly inflight: Gauge<'actor'>;
  readonly streams: Gauge<'actor'>;
  readonly askRetries: Counter<'target' | 'reason'>;
}

export function actorMetrics(registry: Registry): ActorMetrics {
  const registers = [registry];
  return {
    dropped: metricOnce(
      registry,
      'flotilla_actor_frames_dropped_total',
      () =>
        new Counter({
          name: 'flotilla_actor_frames_dropped_total',
          help: 'Frames an actor could not decode or did not understand, dropped',
          labelNames: ['actor', 'reason'],
          registers,
        }),
    ),
    handled: metricOnce(
      registry,
      'flotilla_actor_handled_total',
      () =>
        new Counter({
          name: 'flotilla_actor_handled_total',
          help: 'Requests handled by an actor, by method and outcome',
          labelNames: ['actor', 'method', 'outcome'],
          registers,
        }),
    ),
    inflight: metricOnce(
      registry,
      'flotilla_actor_inflight',
      () =>
        new Gauge({
          name: 'flotilla_actor_inflight',
          help: 'Requests an actor is handling now',
          labelNames: ['actor'],
          registers,
        }),
    ),
    streams: metricOnce(
      registry,
      'flotilla_actor_streams_open',
      () =>
        new Gauge({
          name: 'flotilla_actor_streams_open',
          help: 'Streams an actor is serving now',
          labelNames: ['actor'],
          registers,
        }),
    ),
    askRetries: metricOnce(
      registry,
      'flotilla_actor_ask_retries_total',
      () =>
        new Counter({
          name: 'flotilla_actor_ask_retries_total',
          help: 'Ask attempts retried, by target and reason',
          labelNames: ['target', 'reason'],
          registers,
        }),
    ),
  };
}
