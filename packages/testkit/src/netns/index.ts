// Hosts, nodes and pods as network namespaces on one machine, for networking tests.

export { startUnderlay } from './hosts.ts';
export { EchoServerError, startHttpEcho, tallyEcho } from './http-echo.ts';
export type { NetnsClusterOptions, NetnsNode } from './netns-cluster.ts';
export { fetchMany, NetnsCluster, NetnsPod } from './netns-cluster.ts';
export { reportRootSkip, runsAsRoot } from './root.ts';
export type { RootNetworkSnapshot, SnapshotDiff, SnapshotScope } from './root-snapshot.ts';
export { diffSnapshots, rootNetworkSnapshot, unrelatedTo } from './root-snapshot.ts';
export { lockNetnsScope, NetnsScopeBusyError, netnsLockDir } from './scope-lock.ts';
