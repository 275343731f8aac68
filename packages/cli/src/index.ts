export { type ClusterClient, connectCluster, memberStatuses, waitForLeader } from './cluster-client.ts';
export { ConfigError, type FlotillaConfig, loadConfig } from './config/load.ts';
export { envName, flagName, settings } from './config/settings.ts';
export { floHome } from './home.ts';
export type { ClusterState, LocalNetwork, UpOptions, WorkerProcess, WorkerRuntime } from './local-cluster.ts';
export { down, localNetwork, readState, up } from './local-cluster.ts';
