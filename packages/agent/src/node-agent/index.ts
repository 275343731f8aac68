// The node agent wired to the API server: registration, Lease, pods, status, logs, network.

export type { AgentMetrics } from './agent-metrics.ts';
export { agentMetrics } from './agent-metrics.ts';
export { ApiObjectLookup, ApiPodSource, ApiStatusSink } from './api-bindings.ts';
export type { ClusterNetworkOptions } from './cluster-network.ts';
export { ClusterNetwork, dnsServiceName, dnsServiceNamespace } from './cluster-network.ts';
export type { ListWatchEvent, ListWatchOptions } from './list-watch.ts';
export { listAndWatch, objectKey } from './list-watch.ts';
export type { NodeAgentOptions } from './node-agent.ts';
export { NodeAgent, PodCIDRTimeoutError } from './node-agent.ts';
export {
  defaultLeaseDurationSeconds,
  defaultLeaseRenewIntervalMs,
  nodeLeaseNamespace,
  nodeLeaseObject,
  renewNodeLease,
} from './node-lease.ts';
