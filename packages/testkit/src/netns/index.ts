// Hosts, nodes and pods as network namespaces on one machine, for networking tests.

export { startHttpEcho, tallyEcho } from './http-echo.ts';
export type { NetnsClusterOptions, NetnsNode } from './netns-cluster.ts';
export { fetchMany, NetnsCluster, NetnsPod } from './netns-cluster.ts';
export { reportRootSkip, runsAsRoot } from './root.ts';
export type { RootNetworkSnapshot, SnapshotDiff } from './root-snapshot.ts';
export { diffSnapshots, isConcurrentAgentSuiteLine, rootNetworkSnapshot } from './root-snapshot.ts';
