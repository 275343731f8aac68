/**
 * Which pods a ReplicaSet deletes first when it scales down, in Kubernetes' order
 * (controller.ActivePodsWithRanks): the least useful first, so that scaling down costs
 * as little availability as it can.
 * https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#scaling-a-replicaset
 */
import { isPodReady, type Pod, podCondition, timeToMs } from '@flotilla/api';

const phaseRank: Readonly<Record<string, number>> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * Compare for deletion order: negative when `a` should go before `b`. `rank` counts the
 * pods of the same owner on the pod's node: pods on crowded nodes go first.
 */
export function deletionOrder(a: Pod, b: Pod, rankA: number, rankB: number): number {
  // Not yet scheduled before scheduled.
  const boundA = a.spec?.nodeName ? 1 : 0;
  const boundB = b.spec?.nodeName ? 1 : 0;
  if (boundA !== boundB) return boundA - boundB;
  // Pending before Unknown before Running.
  const phaseA = phaseRank[a.status?.phase ?? 'Pending'] ?? 0;
  const phaseB = phaseRank[b.status?.phase ?? 'Pending'] ?? 0;
  if (phaseA !== phaseB) return phaseA - phaseB;
  // Not ready before ready.
  const readyA = isPodReady(a) ? 1 : 0;
  const readyB = isPodReady(b) ? 1 : 0;
  if (readyA !== readyB) return readyA - readyB;
  // More siblings on the same node first.
  if (rankA !== rankB) return rankB - rankA;
  // Ready for less time first.
  if (readyA === 1) {
    const sinceA = timeToMs(podCondition(a, 'Ready')?.lastTransitionTime) ?? 0;
    const sinceB = timeToMs(podCondition(b, 'Ready')?.lastTransitionTime) ?? 0;
    if (sinceA !== sinceB) return sinceB - sinceA;
  }
  // More restarts first.
  const restarts = (p: Pod) => Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount));
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  // Newer first.
  const createdA = timeToMs(a.metadata.creationTimestamp) ?? 0;
  const createdB = timeToMs(b.metadata.creationTimestamp) ?? 0;
  if (createdA !== createdB) return createdB - createdA;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

/** The `count` pods to delete first among `pods`. */
export function podsToDelete(pods: readonly Pod[], count: number): Pod[] {
  if (count >= pods.length) return [...pods];
  const perNode = new Map<string, number>();
  for (const p of pods) {
    const n = p.spec?.nodeName ?? '';
    if (n !== '') perNode.set(n, (perNode.get(n) ?? 0) + 1);
  }
  const rank = (p: Pod) => (p.spec?.nodeName ? (perNode.get(p.spec.nodeName) ?? 0) : 0);
  return [...pods].sort((a, b) => deletionOrder(a, b, rank(a), rank(b))).slice(0, count);
}
