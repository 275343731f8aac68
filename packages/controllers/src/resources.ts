/**
 * The resources the controllers and the scheduler read and write, and the key every
 * cache and queue uses for an object: `namespace/name`, or `name` for cluster-scoped
 * objects (client-go's MetaNamespaceKeyFunc).
 */
import type { KubeObject, ResourceRef } from '@flotilla/api';

export const podsResource: ResourceRef = { group: '', version: 'v1', resource: 'pods' };
export const nodesResource: ResourceRef = { group: '', version: 'v1', resource: 'nodes' };
export const namespacesResource: ResourceRef = { group: '', version: 'v1', resource: 'namespaces' };
export const servicesResource: ResourceRef = { group: '', version: 'v1', resource: 'services' };
export const endpointsResource: ResourceRef = { group: '', version: 'v1', resource: 'endpoints' };
export const eventsResource: ResourceRef = { group: '', version: 'v1', resource: 'events' };
export const configMapsResource: ResourceRef = { group: '', version: 'v1', resource: 'configmaps' };
export const secretsResource: ResourceRef = { group: '', version: 'v1', resource: 'secrets' };
export const persistentVolumesResource: ResourceRef = {
  group: '',
  version: 'v1',
  resource: 'persistentvolumes',
};
export const persistentVolumeClaimsResource: ResourceRef = {
  group: '',
  version: 'v1',
  resource: 'persistentvolumeclaims',
};
export const deploymentsResource: ResourceRef = { group: 'apps', version: 'v1', resource: 'deployments' };
export const replicaSetsResource: ResourceRef = { group: 'apps', version: 'v1', resource: 'replicasets' };
export const leasesResource: ResourceRef = {
  group: 'coordination.k8s.io',
  version: 'v1',
  resource: 'leases',
};
export const endpointSlicesResource: ResourceRef = {
  group: 'discovery.k8s.io',
  version: 'v1',
  resource: 'endpointslices',
};

/** Where node heartbeats live (one Lease per node, named after it). */
export const nodeLeaseNamespace = 'kube-node-lease';

/** `namespace/name`, or `name` for a cluster-scoped object. */
export function keyOf(obj: KubeObject): string {
  return keyFor(obj.metadata.namespace, obj.metadata.name ?? '');
}

export function keyFor(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

/** The namespace ('' for cluster-scoped) and name of a key. */
export function splitKey(key: string): { readonly namespace: string; readonly name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: '', name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
