export { floHome } from './home.ts';
export type { ClusterState, UpOptions } from './local-cluster.ts';
export { down, readState, up } from './local-cluster.ts';
