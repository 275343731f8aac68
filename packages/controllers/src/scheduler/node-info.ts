/**
 * One node as the scheduler sees it (Kubernetes' NodeInfo): what it can hold, what the
 * pods on it (bound or assumed) request, their host ports, and how many pods of each
 * controller it runs. Updated in place as pods come and go, so a scheduling cycle reads
 * sums instead of adding up pods.
 */
import { type Node, parseQuantity, quantityMilliValue, quantityValue, type Taint } from '@flotilla/api';
import type { HostPort, PodInfo } from './pod-info.ts';

export class NodeInfo {
  node: Node;
  readonly name: string;
  allocatableMilliCpu = 0;
  allocatableMemory = 0;
  allocatablePods = 0;
  allocatableScalar = new Map<string, number>();
  requestedMilliCpu = 0;
  requestedMemory = 0;
  readonly requestedScalar = new Map<string, number>();
  scoringMilliCpu = 0;
  scoringMemory = 0;
  readonly pods = new Map<string, PodInfo>();
  readonly hostPorts: HostPort[] = [];
  readonly controllerPods = new Map<string, number>();
  /** NoSchedule and NoExecute taints (what the filter checks), and PreferNoSchedule ones (what the score counts). */
  hardTaints: readonly Taint[] = [];
  softTaints: readonly Taint[] = [];

  constructor(node: Node) {
    this.node = node;
    this.name = node.metadata.name ?? '';
    this.setNode(node);
  }

  get labels(): Readonly<Record<string, string>> {
    return this.node.metadata.labels ?? {};
  }

  setNode(node: Node): void {
    this.node = node;
    const a = node.status?.allocatable ?? node.status?.capacity ?? {};
    this.allocatableMilliCpu = a.cpu === undefined ? 0 : quantityMilliValue(parseQuantity(a.cpu));
    this.allocatableMemory = a.memory === undefined ? 0 : quantityValue(parseQuantity(a.memory));
    this.allocatablePods = a.pods === undefined ? 0 : quantityValue(parseQuantity(a.pods));
    this.allocatableScalar = new Map();
    for (const [name, v] of Object.entries(a)) {
      if (name !== 'cpu' && name !== 'memory' && name !== 'pods') {
        this.allocatableScalar.set(name, quantityMilliValue(parseQuantity(v)));
      }
    }
    const taints = node.spec?.taints ?? [];
    this.hardTaints = taints.filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
    this.softTaints = taints.filter((t) => t.effect === 'PreferNoSchedule');
  }

  addPod(info: PodInfo): void {
    if (this.pods.has(info.key)) this.removePod(info.key);
    this.pods.set(info.key, info);
    this.apply(info, 1);
  }

  removePod(key: string): PodInfo | undefined {
    const info = this.pods.get(key);
    if (info === undefined) return undefined;
    this.pods.delete(key);
    this.apply(info, -1);
    return info;
  }

  private apply(info: PodInfo, sign: 1 | -1): void {
    this.requestedMilliCpu += sign * info.requests.milliCpu;
    this.requestedMemory += sign * info.requests.memory;
    for (const [name, v] of info.requests.scalar) {
      this.requestedScalar.set(name, (this.requestedScalar.get(name) ?? 0) + sign * v);
    }
    this.scoringMilliCpu += sign * info.scoringRequests.milliCpu;
    this.scoringMemory += sign * info.scoringRequests.memory;
    for (const p of info.hostPorts) {
      if (sign > 0) this.hostPorts.push(p);
      else {
        const i = this.hostPorts.findIndex(
          (q) => q.port === p.port && q.protocol === p.protocol && q.ip === p.ip,
        );
        if (i >= 0) this.hostPorts.splice(i, 1);
      }
    }
    if (info.controllerUid !== undefined) {
      const n = (this.controllerPods.get(info.controllerUid) ?? 0) + sign;
      if (n <= 0) this.controllerPods.delete(info.controllerUid);
      else this.controllerPods.set(info.controllerUid, n);
    }
  }
}
