import { Counter, Gauge, Histogram, metricOnce, type Registry } from '@flotilla/actor';

/** The node agent's own metrics (the actor layer adds its own `flotilla_actor_*`). */
export type AgentMetrics = {
  /** Writes to the API by kind (`pod-status`, `pod-delete`, `node-status`, `lease`, `dns-endpoint`) and result. */
  readonly apiWrites: Counter<'node' | 'write' | 'result'>;
  /** Failed lists and watches, by resource. */
  readonly watchFailures: Counter<'node' | 'resource'>;
  /** Pods the agent currently has workers for. */
  readonly pods: Gauge<'node'>;
  /** Log streams being served to the API server. */
  readonly logStreams: Gauge<'node'>;
  /** Time from a pod status being computed to the API accepting it. */
  readonly statusWriteSeconds: Histogram<'node'>;
};

export function agentMetrics(registry: Registry): AgentMetrics {
  const registers = [registry];
  return {
    apiWrites: metricOnce(
      registry,
      'flotilla_agent_api_writes_total',
      () =>
        new Counter({
          name: 'flotilla_agent_api_writes_total',
          help: 'Writes the node agent made to the API, by kind and result',
          labelNames: ['node', 'write', 'result'],
          registers,
        }),
    ),
    watchFailures: metricOnce(
      registry,
      'flotilla_agent_watch_failures_total',
      () =>
        new Counter({
          name: 'flotilla_agent_watch_failures_total',
          help: 'Lists and watches of the node agent that failed and were retried, by resource',
          labelNames: ['node', 'resource'],
          registers,
        }),
    ),
    pods: metricOnce(
      registry,
      'flotilla_agent_pods',
      () =>
        new Gauge({
          name: 'flotilla_agent_pods',
          help: 'Pods bound to this node that the agent is running or stopping',
          labelNames: ['node'],
          registers,
        }),
    ),
    logStreams: metricOnce(
      registry,
      'flotilla_agent_log_streams',
      () =>
        new Gauge({
          name: 'flotilla_agent_log_streams',
          help: 'Container log streams the agent is serving now',
          labelNames: ['node'],
          registers,
        }),
    ),
    statusWriteSeconds: metricOnce(
      registry,
      'flotilla_agent_pod_status_write_seconds',
      () =>
        new Histogram({
          name: 'flotilla_agent_pod_status_write_seconds',
          help: 'Time from a pod status being handed to the writer to the API accepting it',
          labelNames: ['node'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers,
        }),
    ),
  };
}
