/**
 * A Deployment's status and its conditions, as Kubernetes' deployment controller
 * reports them: counts summed over its ReplicaSets; Available once enough pods are;
 * Progressing while the rollout moves, complete once the new ReplicaSet is fully
 * available, and False with ProgressDeadlineExceeded when it has not moved for
 * progressDeadlineSeconds.
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status
 */
import {
  type Deployment,
  type DeploymentCondition,
  type DeploymentConditionType,
  type DeploymentStatus,
  type ReplicaSet,
  timeFromMs,
  timeToMs,
} from '@flotilla/api';
import { maxUnavailable, replicasOf, sumOf } from './rollout-math.ts';

export const reasons = {
  replicaSetUpdated: 'ReplicaSetUpdated',
  newReplicaSetCreated: 'NewReplicaSetCreated',
  foundNewReplicaSet: 'FoundNewReplicaSet',
  newReplicaSetAvailable: 'NewReplicaSetAvailable',
  timedOut: 'ProgressDeadlineExceeded',
  paused: 'DeploymentPaused',
  resumed: 'DeploymentResumed',
  minimumAvailable: 'MinimumReplicasAvailable',
  minimumUnavailable: 'MinimumReplicasUnavailable',
  createError: 'ReplicaSetCreateError',
} as const;

export function conditionOf(
  status: DeploymentStatus | undefined,
  type: DeploymentConditionType,
): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(
  type: DeploymentConditionType,
  status: DeploymentCondition['status'],
  reason: string,
  message: string,
  nowMs: number,
): DeploymentCondition {
  const now = timeFromMs(nowMs);
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

/**
 * Sets a condition, keeping the one there when status and reason are the same, and its
 * transition time when only the reason changes (Kubernetes' SetDeploymentCondition).
 */
export function setCondition(status: DeploymentStatus, condition: DeploymentCondition): DeploymentStatus {
  const current = conditionOf(status, condition.type);
  if (current !== undefined && current.status === condition.status && current.reason === condition.reason) {
    return status;
  }
  const next =
    current !== undefined && current.status === condition.status && current.lastTransitionTime !== undefined
      ? { ...condition, lastTransitionTime: current.lastTransitionTime }
      : condition;
  return {
    ...status,
    conditions: [...(status.conditions ?? []).filter((c) => c.type !== condition.type), next],
  };
}

export function removeCondition(status: DeploymentStatus, type: DeploymentConditionType): DeploymentStatus {
  const conditions = (status.conditions ?? []).filter((c) => c.type !== type);
  const { conditions: _dropped, ...rest } = status;
  return conditions.length === 0 ? rest : { ...rest, conditions };
}

/** The counts of the status, and the Available condition, from the ReplicaSets. */
export function calculateStatus(
  d: Deployment,
  all: readonly ReplicaSet[],
  newSet: ReplicaSet | undefined,
  nowMs: number,
): DeploymentStatus {
  const available = sumOf(all, (rs) => rs.status?.availableReplicas ?? 0);
  const total = sumOf(all, replicasOf);
  let status: DeploymentStatus = {
    observedGeneration: d.metadata.generation ?? 0,
    replicas: sumOf(all, (rs) => rs.status?.replicas ?? 0),
    updatedReplicas: newSet?.status?.replicas ?? 0,
    readyReplicas: sumOf(all, (rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
    ...(d.status?.collisionCount === undefined ? {} : { collisionCount: d.status.collisionCount }),
    ...(d.status?.conditions === undefined ? {} : { conditions: d.status.conditions }),
  };
  status =
    available >= replicasOf(d) - maxUnavailable(d)
      ? setCondition(
          status,
          newCondition(
            'Available',
            'True',
            reasons.minimumAvailable,
            'Deployment has minimum availability.',
            nowMs,
          ),
        )
      : setCondition(
          status,
          newCondition(
            'Available',
            'False',
            reasons.minimumUnavailable,
            'Deployment does not have minimum availability.',
            nowMs,
          ),
        );
  return status;
}

/** Every pod is updated and available, and the controller has seen the latest spec. */
export function isComplete(d: Deployment, status: DeploymentStatus): boolean {
  const want = replicasOf(d);
  return (
    (status.updatedReplicas ?? 0) === want &&
    (status.replicas ?? 0) === want &&
    (status.availableReplicas ?? 0) === want &&
    (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  );
}

/** The new status shows the rollout moved since the last one. */
export function isProgressing(d: Deployment, next: DeploymentStatus): boolean {
  const prev = d.status ?? {};
  const oldOf = (s: DeploymentStatus) => (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (next.updatedReplicas ?? 0) > (prev.updatedReplicas ?? 0) ||
    oldOf(next) < oldOf(prev) ||
    (next.readyReplicas ?? 0) > (prev.readyReplicas ?? 0) ||
    (next.availableReplicas ?? 0) > (prev.availableReplicas ?? 0)
  );
}

/** Milliseconds until the progress deadline passes (≤ 0: passed), or undefined when none runs. */
export function progressDeadlineInMs(
  d: Deployment,
  status: DeploymentStatus,
  nowMs: number,
): number | undefined {
  const seconds = d.spec?.progressDeadlineSeconds;
  if (seconds === undefined) return undefined;
  const cond = conditionOf(status, 'Progressing');
  if (
    cond === undefined ||
    cond.reason === reasons.newReplicaSetAvailable ||
    cond.reason === reasons.timedOut
  ) {
    return undefined;
  }
  if (cond.reason === reasons.paused) return undefined;
  const from = timeToMs(cond.lastUpdateTime);
  if (from === undefined) return undefined;
  return from + seconds * 1000 - nowMs;
}
