/**
 * apps/v1 Deployment and ReplicaSet.
 * https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/
 */
import type { ConditionStatus, PodTemplateSpec } from './core.ts';
import type { IntOrString, LabelSelector, ObjectMeta, Time } from './meta.ts';

export type RollingUpdateDeployment = {
  /** A count or a percentage of desired pods, e.g. `25%`. */
  readonly maxUnavailable?: IntOrString;
  readonly maxSurge?: IntOrString;
};

export type DeploymentStrategy = {
  readonly type?: 'Recreate' | 'RollingUpdate';
  readonly rollingUpdate?: RollingUpdateDeployment;
};

export type DeploymentSpec = {
  readonly replicas?: number;
  readonly selector: LabelSelector;
  readonly template: PodTemplateSpec;
  readonly strategy?: DeploymentStrategy;
  readonly minReadySeconds?: number;
  readonly revisionHistoryLimit?: number;
  readonly paused?: boolean;
  readonly progressDeadlineSeconds?: number;
};

export type DeploymentConditionType = 'Available' | 'Progressing' | 'ReplicaFailure';

export type DeploymentCondition = {
  readonly type: DeploymentConditionType;
  readonly status: ConditionStatus;
  readonly lastUpdateTime?: Time;
  readonly lastTransitionTime?: Time;
  readonly reason?: string;
  readonly message?: string;
};

export type DeploymentStatus = {
  readonly observedGeneration?: number;
  readonly replicas?: number;
  readonly updatedReplicas?: number;
  readonly readyReplicas?: number;
  readonly availableReplicas?: number;
  readonly unavailableReplicas?: number;
  readonly conditions?: readonly DeploymentCondition[];
  readonly collisionCount?: number;
};

export type Deployment = {
  readonly apiVersion: 'apps/v1';
  readonly kind: 'Deployment';
  readonly metadata: ObjectMeta;
  readonly spec?: DeploymentSpec;
  readonly status?: DeploymentStatus;
};

export type ReplicaSetSpec = {
  readonly replicas?: number;
  readonly minReadySeconds?: number;
  readonly selector: LabelSelector;
  readonly template?: PodTemplateSpec;
};

export type ReplicaSetCondition = {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly lastTransitionTime?: Time;
  readonly reason?: string;
  readonly message?: string;
};

export type ReplicaSetStatus = {
  readonly replicas: number;
  readonly fullyLabeledReplicas?: number;
  readonly readyReplicas?: number;
  readonly availableReplicas?: number;
  readonly observedGeneration?: number;
  readonly conditions?: readonly ReplicaSetCondition[];
};

export type ReplicaSet = {
  readonly apiVersion: 'apps/v1';
  readonly kind: 'ReplicaSet';
  readonly metadata: ObjectMeta;
  readonly spec?: ReplicaSetSpec;
  readonly status?: ReplicaSetStatus;
};
