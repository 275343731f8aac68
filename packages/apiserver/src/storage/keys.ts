/**
 * Where objects live in the store: one key per object,
 * `/registry/<group>/<resource>/<namespace>/<name>` for namespaced resources and
 * `/registry/<group>/<resource>/<name>` for cluster-scoped ones, with `core` standing for
 * the core group (no API group is named `core`). A collection is a key prefix, so a list
 * or watch of one namespace, or of all of them, is one range of the store.
 * Kubernetes keeps the same shape in etcd (`/registry/pods/<namespace>/<name>`).
 */
import type { ResourceInfo } from '@flotilla/api';

export const registryPrefix = '/registry/';

/** The allocator bitmaps of Service cluster IPs and node ports (the keys Kubernetes uses). */
export const serviceIPAllocationKey = '/registry/ranges/serviceips';
export const nodePortAllocationKey = '/registry/ranges/servicenodeports';

/** The largest object each resource has held (see registry/paging.ts); `_` keeps it off every group's prefix. */
export const objectSizePrefix = '/registry/_sizes/';

type Located = Pick<ResourceInfo, 'group' | 'plural' | 'namespaced'>;

export function objectSizeKey(info: Located): string {
  return `${objectSizePrefix}${info.group === '' ? 'core' : info.group}/${info.plural}`;
}

/** The prefix of every object of a resource: `/registry/apps/deployments/`. */
export function resourcePrefix(info: Located): string {
  return `${registryPrefix}${info.group === '' ? 'core' : info.group}/${info.plural}/`;
}

/** The prefix of a collection: one namespace's objects, or all of the resource's. */
export function collectionPrefix(info: Located, namespace: string | undefined): string {
  const base = resourcePrefix(info);
  return info.namespaced && namespace !== undefined && namespace !== '' ? `${base}${namespace}/` : base;
}

/** The key of one object. Names and namespaces are validated path segments: no `/`. */
export function objectKey(info: Located, namespace: string | undefined, name: string): string {
  return info.namespaced
    ? `${resourcePrefix(info)}${namespace ?? ''}/${name}`
    : `${resourcePrefix(info)}${name}`;
}

const namespaceInfo: Located = { group: '', plural: 'namespaces', namespaced: false };

/** The key of a namespace object, which every create in it compares against. */
export function namespaceKey(namespace: string): string {
  return objectKey(namespaceInfo, undefined, namespace);
}

/**
 * Present while a namespace is terminating: written in the same txn that marks the
 * namespace for deletion, removed with it, so that a create in it can be refused by a
 * compare in its own txn instead of a read beforehand.
 */
export function terminatingKey(namespace: string): string {
  return `/registry/_terminating/${namespace}`;
}
