export type { AgentClusterOptions, AgentNode } from './agents/agent-cluster.ts';
export { AgentCluster } from './agents/agent-cluster.ts';
export type { DeploymentsWorkloadOptions } from './chaos/deployments-workload.ts';
export { DeploymentsWorkload } from './chaos/deployments-workload.ts';
export { parseDuration } from './chaos/duration.ts';
export type { KvChaosWorkloadOptions } from './chaos/kv-chaos-workload.ts';
export { eventsUpTo, KvChaosWorkload } from './chaos/kv-chaos-workload.ts';
export type { LeaderSample } from './chaos/monitor.ts';
export { ClusterMonitor } from './chaos/monitor.ts';
export type { ProbeOptions, ProbeResult } from './chaos/probe.ts';
export { MemberProbe } from './chaos/probe.ts';
export type { ChaosReport, FaultSummary, UnavailabilityWindow } from './chaos/report.ts';
export { buildReport, formatSummary, unavailabilityWindows } from './chaos/report.ts';
export type { ChaosRunOptions } from './chaos/run.ts';
export { controlPlaneNatsMaxPayloadBytes, runChaos, seededRandom, writeReport } from './chaos/run.ts';
export type { Scenario, ScenarioContext } from './chaos/scenarios.ts';
export { scenarioNamed, scenarios } from './chaos/scenarios.ts';
export { timelineSvg } from './chaos/svg.ts';
export type { ChaosWorkload, OperationOutcome, WorkloadCheck } from './chaos/workload.ts';
export { cleanupAll, registerCleanup } from './cleanup.ts';
export type {
  ApiServerProcess,
  ApiServerSettings,
  ControlPlaneOptions,
  ExtraProcessSpec,
} from './control-plane/control-plane.ts';
export { ControlPlane } from './control-plane/control-plane.ts';
export { kubeconfigYaml } from './control-plane/kubeconfig.ts';
export { TcpBalancer } from './control-plane/tcp-balancer.ts';
export { FakeNodeProcess } from './fake-nodes/fake-node-process.ts';
export { FakeNodes } from './fake-nodes/fake-nodes.ts';
export type { FakeNodesConfig, FakeNodesProtocol, FakeNodesSummary } from './fake-nodes/protocol.ts';
export { defaultFakeNodesConfig, fakeNodeName, fakeNodesActorName } from './fake-nodes/protocol.ts';
export type { BackendKind, HostBackend, HostProcessSpec, MemberLaunch } from './faults/backend.ts';
export { backendKinds } from './faults/backend.ts';
export type { ChaosClusterOptions } from './faults/chaos-cluster.ts';
export { apiServerPort, ChaosCluster, PromotionStarvedError } from './faults/chaos-cluster.ts';
export type { DockerAvailability } from './faults/containers/docker.ts';
export { dockerAvailability, startDockerd } from './faults/containers/docker.ts';
export type {
  FaultApi,
  FaultKind,
  FaultRecord,
  PartitionOptions,
  RestartOptions,
} from './faults/fault-api.ts';
export { PartitionTable } from './faults/partition-table.ts';
export * from './linearizability/index.ts';
export type { NatsCluster, NatsServer, StartNatsOptions } from './nats.ts';
export { natsServerBinary, startNats } from './nats.ts';
export * from './netns/index.ts';
export { freePort, freePorts } from './ports.ts';
export type { ExitInfo, ProcessSpec } from './process.ts';
export { ManagedProcess } from './process.ts';
export { LogMachine } from './raft/log-machine.ts';
export type { MemberConfig, MemberProtocol, MemberSummary } from './raft/member-protocol.ts';
export type { RaftClusterOptions, RaftMember } from './raft/raft-cluster.ts';
export { RaftCluster } from './raft/raft-cluster.ts';
export type { StoreClusterOptions, StoreMemberConfig } from './store/store-cluster.ts';
export { StoreCluster } from './store/store-cluster.ts';
export { tempDir } from './tmp.ts';
export type { KvOutcome, KvWorkloadOptions } from './workloads/kv-workload.ts';
export { runKvWorkload } from './workloads/kv-workload.ts';
export type { RecordedEvent } from './workloads/watch-recorder.ts';
export { WatchRecorder } from './workloads/watch-recorder.ts';
