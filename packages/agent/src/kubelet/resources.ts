import { assertNever } from '@flotilla/actor';
import type { Container, PodQOSClass } from '@flotilla/api';
import { parseQuantity, quantityMilliValue, quantityValue } from '@flotilla/api';
import type { LinuxResources } from '../runtime/runtime.ts';

/** The CFS period kubelet uses: quotas are in microseconds per 100 ms. */
export const cpuPeriodMicros = 100_000;
/** cgroup v1's smallest cpu.shares. */
const minShares = 2;
const sharesPerCpu = 1024;
/** The kernel refuses a CFS quota below 1 ms. */
const minQuotaMicros = 1_000;

/** oom_score_adj per QoS class (kubelet's pkg/kubelet/qos/policy.go). */
export const guaranteedOomScoreAdj = -997;
export const bestEffortOomScoreAdj = 1000;

function milli(value: string | undefined): number | undefined {
  return value === undefined ? undefined : quantityMilliValue(parseQuantity(value));
}

/**
 * A container's requests and limits as cgroup settings, the way kubelet translates them:
 * the CPU request becomes cpu.shares, the CPU limit a CFS quota, the memory limit the
 * memory cgroup's limit, and the QoS class the OOM killer's preference.
 * https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
 */
export function linuxResources(
  container: Container,
  qos: PodQOSClass,
  nodeMemoryBytes: number,
): LinuxResources {
  const requests = container.resources?.requests ?? {};
  const limits = container.resources?.limits ?? {};
  // A limit without a request stands for the request too (API defaulting does the same).
  const cpuRequest = milli(requests.cpu) ?? milli(limits.cpu);
  const cpuLimit = milli(limits.cpu);
  const memoryLimit = limits.memory === undefined ? 0 : quantityValue(parseQuantity(limits.memory));
  const memoryRequest =
    requests.memory !== undefined
      ? quantityValue(parseQuantity(requests.memory))
      : limits.memory !== undefined
        ? memoryLimit
        : 0;
  return {
    cpuPeriod: cpuPeriodMicros,
    cpuQuota:
      cpuLimit === undefined ? 0 : Math.max(minQuotaMicros, Math.floor((cpuLimit * cpuPeriodMicros) / 1000)),
    cpuShares:
      cpuRequest === undefined
        ? minShares
        : Math.max(minShares, Math.floor((cpuRequest * sharesPerCpu) / 1000)),
    memoryLimitBytes: memoryLimit,
    oomScoreAdj: oomScoreAdj(qos, memoryRequest, nodeMemoryBytes),
  };
}

/** Burstable pods rank between the two fixed classes, by the share of the node's memory they ask for. */
export function oomScoreAdj(qos: PodQOSClass, memoryRequestBytes: number, nodeMemoryBytes: number): number {
  switch (qos) {
    case 'Guaranteed':
      return guaranteedOomScoreAdj;
    case 'BestEffort':
      return bestEffortOomScoreAdj;
    case 'Burstable': {
      const adj = 1000 - Math.floor((1000 * memoryRequestBytes) / Math.max(1, nodeMemoryBytes));
      // Above a Guaranteed pod, below a BestEffort one.
      if (adj < 1000 + guaranteedOomScoreAdj) return 1000 + guaranteedOomScoreAdj;
      if (adj === bestEffortOomScoreAdj) return adj - 1;
      return adj;
    }
    default:
      return assertNever(qos, 'QoS class');
  }
}
