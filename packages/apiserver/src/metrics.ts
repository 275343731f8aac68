/**
 * The API server's metrics, on the process registry and served at `/metrics`, named after
 * kube-apiserver's (`apiserver_request_total`, `apiserver_request_duration_seconds`, ...)
 * with Flotilla's prefix.
 */
import { Counter, Gauge, Histogram, metricOnce, type Registry } from '@flotilla/actor';

export type Transport = 'http' | 'nats';

export type ApiServerMetrics = {
  readonly requests: Counter<'verb' | 'resource' | 'code' | 'transport'>;
  readonly duration: Histogram<'verb' | 'resource' | 'transport'>;
  readonly watches: Gauge<'transport'>;
  readonly watchEvents: Counter<'transport' | 'type'>;
  readonly conflictRetries: Counter<'resource'>;
  readonly inflight: Gauge<'kind'>;
};

export function apiServerMetrics(registry: Registry): ApiServerMetrics {
  const registers = [registry];
  return {
    inflight: metricOnce(
      registry,
      'flotilla_apiserver_inflight_requests',
      () =>
        new Gauge({
          name: 'flotilla_apiserver_inflight_requests',
          help: 'HTTP requests being handled now (watches and logs aside), read-only or mutating',
          labelNames: ['kind'],
          registers,
        }),
    ),
    requests: metricOnce(
      registry,
      'flotilla_apiserver_requests_total',
      () =>
        new Counter({
          name: 'flotilla_apiserver_requests_total',
          help: 'API requests answered, by verb, resource, HTTP status code and transport',
          labelNames: ['verb', 'resource', 'code', 'transport'],
          registers,
        }),
    ),
    duration: metricOnce(
      registry,
      'flotilla_apiserver_request_duration_seconds',
      () =>
        new Histogram({
          name: 'flotilla_apiserver_request_duration_seconds',
          help: 'Time to answer an API request (watches and logs: until the stream opened)',
          labelNames: ['verb', 'resource', 'transport'],
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers,
        }),
    ),
    watches: metricOnce(
      registry,
      'flotilla_apiserver_watches',
      () =>
        new Gauge({
          name: 'flotilla_apiserver_watches',
          help: 'Watches open now',
          labelNames: ['transport'],
          registers,
        }),
    ),
    watchEvents: metricOnce(
      registry,
      'flotilla_apiserver_watch_events_total',
      () =>
        new Counter({
          name: 'flotilla_apiserver_watch_events_total',
          help: 'Watch events sent, by event type',
          labelNames: ['transport', 'type'],
          registers,
        }),
    ),
    conflictRetries: metricOnce(
      registry,
      'flotilla_apiserver_conflict_retries_total',
      () =>
        new Counter({
          name: 'flotilla_apiserver_conflict_retries_total',
          help: 'Writes retried after a concurrent change of the object or an allocator (no resourceVersion given)',
          labelNames: ['resource'],
          registers,
        }),
    ),
  };
}
