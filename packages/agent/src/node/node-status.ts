import type { ContainerImage, NodeAddress, NodeCondition, NodeStatus } from '@flotilla/api';
import { timeFromMs } from '@flotilla/api';
import type { ImageInfo, RuntimeCondition, RuntimeVersion } from '../runtime/runtime.ts';
import type { MachineInfo } from './machine-info.ts';

/** kubelet's default --max-pods. */
export const defaultMaxPods = 110;
/** kubelet's default hard eviction threshold for memory.available. */
export const defaultEvictionHardMemoryBytes = 100 * 1024 * 1024;
/** kubelet's default hard eviction threshold for nodefs.available. */
export const defaultEvictionHardStorageFraction = 0.1;
/** kubelet reports at most this many images in the Node's status. */
export const maxReportedImages = 50;
/** The version this agent reports as its kubelet version. */
export const agentKubeletVersion = 'v1.31.0-flotilla';

export type NodeStatusInput = {
  readonly machine: MachineInfo;
  readonly runtime: RuntimeVersion;
  readonly runtimeConditions: readonly RuntimeCondition[];
  readonly internalIP: string;
  readonly nowMs: number;
  /** The status last reported: unchanged conditions keep their transition time. */
  readonly previous?: NodeStatus;
  readonly maxPods?: number;
  /** system-reserved plus kube-reserved. */
  readonly reserved?: { readonly cpuMilli: number; readonly memoryBytes: number };
  readonly evictionHardMemoryBytes?: number;
  readonly images?: readonly ImageInfo[];
  readonly kubeletPort?: number;
  readonly kubeletVersion?: string;
};

const ki = (bytes: number): string => `${Math.floor(Math.max(0, bytes) / 1024)}Ki`;
const cpu = (milli: number): string => (milli % 1000 === 0 ? String(milli / 1000) : `${Math.max(0, milli)}m`);

/** Allocatable as kubelet computes it: capacity minus reservations and hard eviction thresholds. */
export function nodeAllocatable(input: NodeStatusInput): {
  readonly cpuMilli: number;
  readonly memoryBytes: number;
} {
  const reserved = input.reserved ?? { cpuMilli: 0, memoryBytes: 0 };
  return {
    cpuMilli: Math.max(0, input.machine.cpuCores * 1000 - reserved.cpuMilli),
    memoryBytes: Math.max(
      0,
      input.machine.memoryBytes -
        reserved.memoryBytes -
        (input.evictionHardMemoryBytes ?? defaultEvictionHardMemoryBytes),
    ),
  };
}

/**
 * The Node's status as kubelet reports it: capacity and allocatable, addresses, system
 * info and the conditions. Pure: the registration and heartbeat code calls it with what
 * it read and sends the result.
 * https://kubernetes.io/docs/reference/node/node-status/
 */
export function buildNodeStatus(input: NodeStatusInput): NodeStatus {
  const m = input.machine;
  const maxPods = input.maxPods ?? defaultMaxPods;
  const alloc = nodeAllocatable(input);
  const storage = m.ephemeralStorageBytes;
  const cond = (type: string, ok: boolean, reason: string, message: string): NodeCondition => {
    const status = ok ? 'True' : 'False';
    const before = input.previous?.conditions?.find((c) => c.type === type);
    const now = timeFromMs(input.nowMs);
    return {
      type,
      status,
      lastHeartbeatTime: now,
      lastTransitionTime:
        before?.status === status && before.lastTransitionTime ? before.lastTransitionTime : now,
      reason,
      message,
    };
  };
  const runtimeReady = input.runtimeConditions.find((c) => c.type === 'RuntimeReady');
  const networkReady = input.runtimeConditions.find((c) => c.type === 'NetworkReady');
  let notReady: string | undefined;
  if (runtimeReady?.status !== true) {
    notReady = `container runtime is down: RuntimeReady=false reason:${runtimeReady?.reason ?? ''} message:${runtimeReady?.message ?? ''}`;
  } else if (networkReady?.status !== true) {
    notReady = `container runtime network not ready: NetworkReady=false reason:${networkReady?.reason ?? ''} message:${networkReady?.message ?? ''}`;
  }
  const addresses: NodeAddress[] = [
    { type: 'InternalIP', address: input.internalIP },
    { type: 'Hostname', address: m.hostname },
  ];
  const images: ContainerImage[] = [...(input.images ?? [])]
    .sort((a, b) => b.sizeBytes - a.sizeBytes)
    .slice(0, maxReportedImages)
    .map((i) => ({ names: [...i.repoDigests, ...i.repoTags], sizeBytes: i.sizeBytes }));
  return {
    capacity: {
      cpu: String(m.cpuCores),
      memory: ki(m.memoryBytes),
      pods: String(maxPods),
      'ephemeral-storage': ki(storage),
    },
    allocatable: {
      cpu: cpu(alloc.cpuMilli),
      memory: ki(alloc.memoryBytes),
      pods: String(maxPods),
      'ephemeral-storage': ki(storage * (1 - defaultEvictionHardStorageFraction)),
    },
    conditions: [
      cond('MemoryPressure', false, 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      cond('DiskPressure', false, 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      cond('PIDPressure', false, 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      notReady === undefined
        ? cond('Ready', true, 'KubeletReady', 'kubelet is posting ready status')
        : cond('Ready', false, 'KubeletNotReady', notReady),
    ],
    addresses,
    ...(input.kubeletPort === undefined
      ? {}
      : { daemonEndpoints: { kubeletEndpoint: { Port: input.kubeletPort } } }),
    nodeInfo: {
      machineID: m.machineID,
      systemUUID: m.systemUUID,
      bootID: m.bootID,
      kernelVersion: m.kernelVersion,
      osImage: m.osImage,
      containerRuntimeVersion: `${input.runtime.runtimeName}://${input.runtime.runtimeVersion}`,
      kubeletVersion: input.kubeletVersion ?? agentKubeletVersion,
      kubeProxyVersion: '',
      operatingSystem: m.operatingSystem,
      architecture: m.architecture,
    },
    ...(images.length === 0 ? {} : { images }),
  };
}
