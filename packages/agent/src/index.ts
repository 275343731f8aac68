// The node agent: a kubelet over a CRI runtime (containerd, or a fake one for simulated
// nodes), its containerd and pod network, local images, and the Node description.

export type { ContainerdConfigOptions } from './containerd/containerd-config.ts';
export { containerdConfig, defaultContainerdConfigOptions } from './containerd/containerd-config.ts';
export type { ContainerdSupervisorOptions } from './containerd/containerd-supervisor.ts';
export { ContainerdSupervisor, defaultContainerdRestartBackoff } from './containerd/containerd-supervisor.ts';
export type { ContainerdNodeOptions, KubeletTuning } from './containerd-node.ts';
export { ContainerdNode, destroyNodeState } from './containerd-node.ts';
export { CriClient, defaultCriDeadlineMs } from './cri/cri-client.ts';
export type { CriStatus } from './errors.ts';
export {
  AgentStoppedError,
  ContainerConfigError,
  ContainerdError,
  CriError,
  HostCommandError,
  PodNotFoundError,
  VolumeError,
} from './errors.ts';
export type { FakeNodeOptions } from './fake-node.ts';
export { FakeNode } from './fake-node.ts';
export type { EnsureLocalImagesOptions, LocalImageSpec } from './images/local-images.ts';
export {
  busyboxImage,
  dockerArchive,
  ensureLocalImages,
  localImages,
  pauseImage,
  rootfsLayer,
} from './images/local-images.ts';
export type { TarEntry } from './images/tar-writer.ts';
export { writeTar } from './images/tar-writer.ts';
export type { LogOptions } from './kubelet/container-logs.ts';
export type { EnsureImageResult, ImageFailureReason } from './kubelet/image-manager.ts';
export type { KubeletOptions } from './kubelet/kubelet.ts';
export { Kubelet } from './kubelet/kubelet.ts';
export type { ObjectLookup, PodEvent, PodRef, PodSource, StatusSink } from './kubelet/pod-source.ts';
export {
  InMemoryObjectLookup,
  InMemoryPodSource,
  PodSourceFullError,
  podRefOf,
} from './kubelet/pod-source.ts';
export { computePodStatus, podPhase } from './kubelet/pod-status.ts';
export type { ProbeResult, Prober } from './kubelet/prober.ts';
export { AlwaysSucceedProber, NetworkProber } from './kubelet/prober.ts';
export type { RestartBackoffPolicy } from './kubelet/restart-backoff.ts';
export { defaultRestartBackoff } from './kubelet/restart-backoff.ts';
export type { ClusterDns, ResolvConf } from './kubelet/sandbox-config.ts';
export { defaultClusterDns, parseResolvConf } from './kubelet/sandbox-config.ts';
export type { VolumeManager } from './kubelet/volumes.ts';
export { HostVolumeManager, NoVolumeManager } from './kubelet/volumes.ts';
export type { PodNetwork } from './network/cni-config.ts';
export { cniConflist, podNetwork } from './network/cni-config.ts';
export {
  blackholeMarkerFile,
  blackholeRouteMetric,
  PodNetworkConflictError,
  setUpHostNetwork,
  tearDownHostNetwork,
} from './network/host-network.ts';
export type { MachineInfo } from './node/machine-info.ts';
export { readMachineInfo } from './node/machine-info.ts';
export type { NodeStatusInput } from './node/node-status.ts';
export { agentKubeletVersion, buildNodeStatus, defaultMaxPods, nodeAllocatable } from './node/node-status.ts';
export type { NodePaths } from './node-paths.ts';
export { bridgeNameFor, defaultDataDir, nodePaths } from './node-paths.ts';
export type { NodeTeardownOptions } from './node-teardown.ts';
export { defaultNodeTeardownTimeoutMs, nodeTeardownMain, teardownNodeInNetns } from './node-teardown.ts';
export { CriRuntime } from './runtime/cri-runtime.ts';
export type { FakeDelays, FakeRuntimeOptions } from './runtime/fake-runtime.ts';
export { FakeRuntime } from './runtime/fake-runtime.ts';
export type * from './runtime/runtime.ts';
