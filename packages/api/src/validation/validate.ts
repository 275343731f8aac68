/**
 * One entry point per kind of write: validate an object being created, an update
 * against the stored object, or a status update; and turn the errors into the 422
 * Status kubectl shows. Every problem is returned, each with its field path. Objects are
 * expected as decoding leaves them (decodeFor, decodeObject) with defaults applied.
 */
import { assert } from '@flotilla/actor';
import type { FieldError } from '../field-errors.ts';
import type { ResourceInfo } from '../registry.ts';
import { invalid as invalidStatus, type StatusError } from '../status.ts';
import type { Deployment, ReplicaSet } from '../types/apps.ts';
import type { Lease } from '../types/coordination.ts';
import type {
  ConfigMap,
  Endpoints,
  Event,
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  Secret,
  Service,
} from '../types/core.ts';
import type { EndpointSlice } from '../types/discovery.ts';
import type { KubeObject } from '../types/meta.ts';
import {
  validateDeployment,
  validateDeploymentStatus,
  validateDeploymentUpdate,
  validateReplicaSet,
  validateReplicaSetStatus,
  validateReplicaSetUpdate,
} from './apps.ts';
import { nonNegative, validateObjectMetaUpdate } from './meta.ts';
import {
  validateConfigMap,
  validateConfigMapUpdate,
  validateEvent,
  validateEventUpdate,
  validateLease,
  validateLeaseUpdate,
  validateNamespace,
  validateNamespaceUpdate,
  validateNode,
  validateNodeUpdate,
  validatePersistentVolume,
  validatePersistentVolumeClaim,
  validatePersistentVolumeClaimUpdate,
  validatePersistentVolumeUpdate,
  validateSecret,
  validateSecretUpdate,
} from './others.ts';
import { validatePod, validatePodUpdate } from './pod.ts';
import {
  validateEndpointSlice,
  validateEndpointSliceUpdate,
  validateEndpoints,
  validateService,
  validateServiceUpdate,
} from './service.ts';

type Rules = {
  readonly create: (obj: never) => FieldError[];
  readonly update: (next: never, prev: never) => FieldError[];
  readonly status?: (next: never, prev: never) => FieldError[];
};

const endpointsUpdate = (next: Endpoints, prev: Endpoints): FieldError[] => [
  ...validateObjectMetaUpdate(next.metadata, prev.metadata),
  ...validateEndpoints(next).filter((e) => !e.field.startsWith('metadata.')),
];

const rules: Readonly<Record<string, Rules>> = {
  'v1/Namespace': { create: (o: Namespace) => validateNamespace(o), update: validateNamespaceUpdate },
  'v1/Pod': {
    create: (o: Pod) => validatePod(o),
    update: validatePodUpdate,
    status: (next: Pod, prev: Pod) => [
      ...validateObjectMetaUpdate(next.metadata, prev.metadata),
      ...(next.status?.containerStatuses ?? []).flatMap((c, i) =>
        nonNegative(c.restartCount, `status.containerStatuses[${i}].restartCount`),
      ),
    ],
  },
  'v1/Node': { create: (o: Node) => validateNode(o), update: validateNodeUpdate },
  'v1/Service': { create: (o: Service) => validateService(o), update: validateServiceUpdate },
  'v1/Endpoints': { create: (o: Endpoints) => validateEndpoints(o), update: endpointsUpdate },
  'v1/ConfigMap': { create: (o: ConfigMap) => validateConfigMap(o), update: validateConfigMapUpdate },
  'v1/Secret': { create: (o: Secret) => validateSecret(o), update: validateSecretUpdate },
  'v1/Event': { create: (o: Event) => validateEvent(o), update: validateEventUpdate },
  'v1/PersistentVolume': {
    create: (o: PersistentVolume) => validatePersistentVolume(o),
    update: validatePersistentVolumeUpdate,
  },
  'v1/PersistentVolumeClaim': {
    create: (o: PersistentVolumeClaim) => validatePersistentVolumeClaim(o),
    update: validatePersistentVolumeClaimUpdate,
  },
  'apps/v1/Deployment': {
    create: (o: Deployment) => validateDeployment(o),
    update: validateDeploymentUpdate,
    status: (next: Deployment, prev: Deployment) => [
      ...validateObjectMetaUpdate(next.metadata, prev.metadata),
      ...validateDeploymentStatus(next.status),
    ],
  },
  'apps/v1/ReplicaSet': {
    create: (o: ReplicaSet) => validateReplicaSet(o),
    update: validateReplicaSetUpdate,
    status: (next: ReplicaSet, prev: ReplicaSet) => [
      ...validateObjectMetaUpdate(next.metadata, prev.metadata),
      ...validateReplicaSetStatus(next.status),
    ],
  },
  'coordination.k8s.io/v1/Lease': { create: (o: Lease) => validateLease(o), update: validateLeaseUpdate },
  'discovery.k8s.io/v1/EndpointSlice': {
    create: (o: EndpointSlice) => validateEndpointSlice(o),
    update: validateEndpointSliceUpdate,
  },
};

function rulesFor(obj: KubeObject): Rules {
  const r = rules[`${obj.apiVersion}/${obj.kind}`];
  assert(
    r !== undefined,
    `no validation rules for ${obj.apiVersion} ${obj.kind}: every registry kind has some`,
  );
  return r;
}

/** Problems with an object about to be created (after defaults). */
export function validateCreate(obj: KubeObject): FieldError[] {
  return rulesFor(obj).create(obj as never);
}

/** Problems with an update of the main resource, immutable fields included. */
export function validateUpdate(next: KubeObject, prev: KubeObject): FieldError[] {
  return rulesFor(next).update(next as never, prev as never);
}

/** Problems with a write through the status subresource. */
export function validateStatusUpdate(next: KubeObject, prev: KubeObject): FieldError[] {
  const r = rulesFor(next);
  return r.status === undefined
    ? validateObjectMetaUpdate(next.metadata, prev.metadata)
    : r.status(next as never, prev as never);
}

/** The 422 Status of a list of errors: `Pod "web" is invalid: ...` with one cause each. */
export function invalidObject(info: ResourceInfo, name: string, errors: readonly FieldError[]): StatusError {
  return invalidStatus({ group: info.group, kind: info.kind }, name, errors);
}
