export { type ClusterClient, connectCluster, memberStatuses, waitForLeader } from './cluster-client.ts';
export { ConfigError, type FlotillaConfig, loadConfig } from './config/load.ts';
export { envName, flagName, settings } from './config/settings.ts';
export { floHome } from './home.ts';
export type { ClusterState, UpOptions } from './local-cluster.ts';
export { down, readState, up } from './local-cluster.ts';
