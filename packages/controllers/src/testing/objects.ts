/**
 * Small builders of valid objects for unit tests: only what a test sets differs from a
 * minimal object the API server accepts.
 */
import type {
  Deployment,
  DeploymentSpec,
  Lease,
  Node,
  ObjectMeta,
  Pod,
  PodSpec,
  ReplicaSet,
  ReplicaSetSpec,
  ResourceList,
  Taint,
} from '@flotilla/api';

export function podSpec(overrides: Partial<PodSpec> = {}, requests?: ResourceList): PodSpec {
  return {
    containers: [
      {
        name: 'app',
        image: 'busybox:1.36',
        ...(requests === undefined ? {} : { resources: { requests } }),
      },
    ],
    ...overrides,
  };
}

export function pod(
  name: string,
  options: {
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly spec?: Partial<PodSpec>;
    readonly requests?: ResourceList;
    readonly meta?: Partial<ObjectMeta>;
  } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: options.namespace ?? 'default',
      ...(options.labels === undefined ? {} : { labels: options.labels }),
      ...options.meta,
    },
    spec: podSpec(options.spec, options.requests),
  };
}

export function node(
  name: string,
  options: {
    readonly labels?: Record<string, string>;
    readonly allocatable?: ResourceList;
    readonly taints?: readonly Taint[];
    readonly unschedulable?: boolean;
    readonly ready?: boolean;
  } = {},
): Node {
  const allocatable = options.allocatable ?? { cpu: '4', memory: '8Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...options.labels } },
    spec: {
      ...(options.taints === undefined ? {} : { taints: options.taints }),
      ...(options.unschedulable === undefined ? {} : { unschedulable: options.unschedulable }),
    },
    status: {
      capacity: allocatable,
      allocatable,
      conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }],
    },
  };
}

export function deployment(
  name: string,
  options: {
    readonly namespace?: string;
    readonly spec?: Partial<DeploymentSpec>;
    readonly image?: string;
  } = {},
): Deployment {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: options.namespace ?? 'default' },
    spec: {
      replicas: 3,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: options.image ?? 'busybox:1.36' }] },
      },
      ...options.spec,
    },
  };
}

export function replicaSet(
  name: string,
  options: {
    readonly namespace?: string;
    readonly spec?: Partial<ReplicaSetSpec>;
    readonly meta?: Partial<ObjectMeta>;
  } = {},
): ReplicaSet {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: options.namespace ?? 'default', ...options.meta },
    spec: {
      replicas: 3,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] },
      },
      ...options.spec,
    },
  };
}

export function lease(name: string, namespace: string, spec: Lease['spec'] = {}): Lease {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec };
}
