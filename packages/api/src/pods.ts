/**
 * Pod facts every component reads the same way: conditions, readiness, availability,
 * whether a pod has finished, and the resources it requests from a node (what the
 * scheduler counts). https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/
 */
import { addQuantities, compareQuantities, parseQuantity, type Quantity } from './quantity.ts';
import { timeToMs } from './time.ts';
import type { ConditionStatus, Pod, PodCondition, PodConditionType, PodSpec } from './types/core.ts';

export function podCondition(pod: Pod, type: PodConditionType): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

/** The pod's Ready condition is True. */
export function isPodReady(pod: Pod): boolean {
  return podCondition(pod, 'Ready')?.status === 'True';
}

/** Ready for at least `minReadySeconds` (what Deployments count as available). */
export function isPodAvailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  const ready = podCondition(pod, 'Ready');
  if (ready?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = timeToMs(ready.lastTransitionTime);
  return since !== undefined && since + minReadySeconds * 1000 <= nowMs;
}

/** Succeeded or Failed: the pod will not run again. */
export function isPodTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Not terminal and not being deleted: what a ReplicaSet counts as one of its replicas. */
export function isPodActive(pod: Pod): boolean {
  return !isPodTerminal(pod) && pod.metadata.deletionTimestamp === undefined;
}

type Condition = {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly lastTransitionTime?: string;
  readonly reason?: string;
  readonly message?: string;
};

/**
 * The conditions with `next` set: replaced if its type is there, appended if not. The
 * transition time moves only when the status changes, as condition conventions require.
 * https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#typical-status-properties
 */
export function withCondition<C extends Condition>(conditions: readonly C[] | undefined, next: C): C[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  if (i < 0) return [...list, next];
  const prev = list[i] as C;
  list[i] =
    prev.status === next.status && prev.lastTransitionTime !== undefined
      ? { ...next, lastTransitionTime: prev.lastTransitionTime }
      : next;
  return list;
}

export type ResourceAmounts = ReadonlyMap<string, Quantity>;

function add(into: Map<string, Quantity>, list: Readonly<Record<string, string>> | undefined): void {
  for (const [name, value] of Object.entries(list ?? {})) {
    const q = parseQuantity(value);
    const prev = into.get(name);
    into.set(name, prev === undefined ? q : addQuantities(prev, q));
  }
}

function maxInto(into: Map<string, Quantity>, other: ReadonlyMap<string, Quantity>): void {
  for (const [name, q] of other) {
    const prev = into.get(name);
    if (prev === undefined || compareQuantities(q, prev) > 0) into.set(name, q);
  }
}

/**
 * What a pod requests from a node: its containers and sidecars together, or the
 * largest init container step if that is more (init containers run one at a time,
 * next to the sidecars started before them). Quantities must already be valid.
 * https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers
 */
export function podRequests(spec: PodSpec | undefined): ResourceAmounts {
  const total = new Map<string, Quantity>();
  for (const c of spec?.containers ?? []) add(total, c.resources?.requests);
  const sidecars = new Map<string, Quantity>();
  const initPeak = new Map<string, Quantity>();
  for (const c of spec?.initContainers ?? []) {
    if (c.restartPolicy === 'Always') {
      add(total, c.resources?.requests);
      add(sidecars, c.resources?.requests);
      maxInto(initPeak, sidecars);
    } else {
      const step = new Map(sidecars);
      add(step, c.resources?.requests);
      maxInto(initPeak, step);
    }
  }
  maxInto(total, initPeak);
  return total;
}
