/** Schemas of apps/v1, autoscaling/v1, coordination.k8s.io/v1 and discovery.k8s.io/v1. */
import type { Deployment, DeploymentSpec, DeploymentStatus, ReplicaSet } from '../types/apps.ts';
import type { Scale } from '../types/autoscaling.ts';
import type { Lease } from '../types/coordination.ts';
import type { Endpoint, EndpointSlice } from '../types/discovery.ts';
import { objectReferenceSchema, podTemplateSpecSchema } from './core.ts';
import { labelSelectorSchema, objectMetaSchema } from './meta.ts';
import {
  always,
  boolean,
  int32,
  int64,
  intOrString,
  list,
  mergeList,
  microTime,
  pointer,
  string,
  struct,
  time,
} from './schema.ts';

const apps = 'io.k8s.api.apps.v1';

const deploymentConditionSchema = struct<NonNullable<DeploymentStatus['conditions']>[number]>(
  `${apps}.DeploymentCondition`,
  {
    type: always(string()),
    status: always(string()),
    lastUpdateTime: time,
    lastTransitionTime: time,
    reason: string(),
    message: string(),
  },
);

export const deploymentSchema = struct<Deployment>(`${apps}.Deployment`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<DeploymentSpec>(`${apps}.DeploymentSpec`, {
      replicas: pointer(int32),
      selector: pointer(labelSelectorSchema),
      template: always(podTemplateSpecSchema),
      strategy: always(
        struct<NonNullable<DeploymentSpec['strategy']>>(
          `${apps}.DeploymentStrategy`,
          {
            type: string(),
            rollingUpdate: pointer(
              struct<NonNullable<NonNullable<DeploymentSpec['strategy']>['rollingUpdate']>>(
                `${apps}.RollingUpdateDeployment`,
                { maxUnavailable: pointer(intOrString), maxSurge: pointer(intOrString) },
              ),
            ),
          },
          { retainKeys: true },
        ),
      ),
      minReadySeconds: int32,
      revisionHistoryLimit: pointer(int32),
      paused: boolean,
      progressDeadlineSeconds: pointer(int32),
    }),
  ),
  status: always(
    struct<DeploymentStatus>(`${apps}.DeploymentStatus`, {
      observedGeneration: int64,
      replicas: int32,
      updatedReplicas: int32,
      readyReplicas: int32,
      availableReplicas: int32,
      unavailableReplicas: int32,
      conditions: mergeList(deploymentConditionSchema, 'type'),
      collisionCount: pointer(int32),
    }),
  ),
});

type ReplicaSetStatus = NonNullable<ReplicaSet['status']>;

export const replicaSetSchema = struct<ReplicaSet>(`${apps}.ReplicaSet`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<NonNullable<ReplicaSet['spec']>>(`${apps}.ReplicaSetSpec`, {
      replicas: pointer(int32),
      minReadySeconds: int32,
      selector: pointer(labelSelectorSchema),
      template: always(podTemplateSpecSchema),
    }),
  ),
  status: always(
    struct<ReplicaSetStatus>(`${apps}.ReplicaSetStatus`, {
      replicas: always(int32),
      fullyLabeledReplicas: int32,
      readyReplicas: int32,
      availableReplicas: int32,
      observedGeneration: int64,
      conditions: mergeList(
        struct<NonNullable<ReplicaSetStatus['conditions']>[number]>(`${apps}.ReplicaSetCondition`, {
          type: always(string()),
          status: always(string()),
          lastTransitionTime: time,
          reason: string(),
          message: string(),
        }),
        'type',
      ),
    }),
  ),
});

export const scaleSchema = struct<Scale>('io.k8s.api.autoscaling.v1.Scale', {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<NonNullable<Scale['spec']>>('io.k8s.api.autoscaling.v1.ScaleSpec', { replicas: int32 }),
  ),
  status: always(
    struct<NonNullable<Scale['status']>>('io.k8s.api.autoscaling.v1.ScaleStatus', {
      replicas: always(int32),
      selector: string(),
    }),
  ),
});

export const leaseSchema = struct<Lease>('io.k8s.api.coordination.v1.Lease', {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<NonNullable<Lease['spec']>>('io.k8s.api.coordination.v1.LeaseSpec', {
      holderIdentity: pointer(string()),
      leaseDurationSeconds: pointer(int32),
      acquireTime: pointer(microTime),
      renewTime: pointer(microTime),
      leaseTransitions: pointer(int32),
    }),
  ),
});

const discoveryV1 = 'io.k8s.api.discovery.v1';

export const endpointSliceSchema = struct<EndpointSlice>(`${discoveryV1}.EndpointSlice`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  addressType: always(string()),
  endpoints: always(
    list(
      struct<Endpoint>(`${discoveryV1}.Endpoint`, {
        addresses: always(list(string())),
        conditions: always(
          struct<NonNullable<Endpoint['conditions']>>(`${discoveryV1}.EndpointConditions`, {
            ready: pointer(boolean),
            serving: pointer(boolean),
            terminating: pointer(boolean),
          }),
        ),
        hostname: pointer(string()),
        targetRef: pointer(objectReferenceSchema),
        nodeName: pointer(string()),
        zone: pointer(string()),
      }),
    ),
  ),
  ports: list(
    struct<NonNullable<EndpointSlice['ports']>[number]>(`${discoveryV1}.EndpointPort`, {
      name: pointer(string()),
      protocol: pointer(string()),
      port: pointer(int32),
      appProtocol: pointer(string()),
    }),
  ),
});
