/**
 * The resources Flotilla serves: for each its group, version, kind, names, scope, verbs,
 * subresources, categories, schema and Table columns. Discovery documents, decoding,
 * field selectors and Table output all read this one table.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#standard-api-terminology
 */
import { apps, core } from './columns.ts';
import { deploymentSchema, endpointSliceSchema, leaseSchema, replicaSetSchema } from './schema/apps.ts';
import {
  configMapSchema,
  endpointsSchema,
  eventSchema,
  namespaceSchema,
  nodeSchema,
  persistentVolumeClaimSchema,
  persistentVolumeSchema,
  podSchema,
  secretSchema,
  serviceSchema,
} from './schema/core.ts';
import type { ObjectSchema } from './schema/schema.ts';
import type { TableColumnDefinition } from './types/meta.ts';

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';
export type SubresourceName = 'status' | 'scale' | 'binding' | 'log' | 'finalize';

export type SubresourceInfo = {
  readonly name: SubresourceName;
  /** The kind the subresource takes and returns, e.g. autoscaling/v1 Scale. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly verbs: readonly Verb[];
};

export type ResourceInfo = {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly listKind: string;
  /** The resource name in URLs: `pods`, `deployments`. */
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly namespaced: boolean;
  readonly verbs: readonly Verb[];
  readonly subresources: readonly SubresourceInfo[];
  readonly categories: readonly string[];
  readonly schema: ObjectSchema;
  /** Table columns (server-side printing); priority > 0 only shows with `-o wide`. */
  readonly columns: readonly TableColumnDefinition[];
};

const allVerbs: readonly Verb[] = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];
const readWriteVerbs: readonly Verb[] = ['get', 'patch', 'update'];

const status = (group: string, kind: string): SubresourceInfo => ({
  name: 'status',
  group,
  version: 'v1',
  kind,
  verbs: readWriteVerbs,
});
const scale: SubresourceInfo = {
  name: 'scale',
  group: 'autoscaling',
  version: 'v1',
  kind: 'Scale',
  verbs: readWriteVerbs,
};

type Entry = Omit<
  ResourceInfo,
  'listKind' | 'version' | 'verbs' | 'subresources' | 'categories' | 'shortNames'
> &
  Partial<Pick<ResourceInfo, 'verbs' | 'subresources' | 'categories' | 'shortNames'>>;

function resource(e: Entry): ResourceInfo {
  return {
    version: 'v1',
    listKind: `${e.kind}List`,
    verbs: allVerbs,
    subresources: [],
    categories: [],
    shortNames: [],
    ...e,
  };
}

/** Every resource, in discovery order (core first, then by group). */
export const resources: readonly ResourceInfo[] = [
  resource({
    group: '',
    kind: 'Namespace',
    plural: 'namespaces',
    singular: 'namespace',
    shortNames: ['ns'],
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    // The namespace controller empties spec.finalizers through `finalize` once the
    // namespace's content is gone.
    subresources: [
      { name: 'finalize', group: '', version: 'v1', kind: 'Namespace', verbs: ['update'] },
      status('', 'Namespace'),
    ],
    schema: namespaceSchema,
    columns: core.namespaces,
  }),
  resource({
    group: '',
    kind: 'Pod',
    plural: 'pods',
    singular: 'pod',
    shortNames: ['po'],
    namespaced: true,
    categories: ['all'],
    subresources: [
      { name: 'binding', group: '', version: 'v1', kind: 'Binding', verbs: ['create'] },
      { name: 'log', group: '', version: 'v1', kind: 'Pod', verbs: ['get'] },
      status('', 'Pod'),
    ],
    schema: podSchema,
    columns: core.pods,
  }),
  resource({
    group: '',
    kind: 'Node',
    plural: 'nodes',
    singular: 'node',
    shortNames: ['no'],
    namespaced: false,
    subresources: [status('', 'Node')],
    schema: nodeSchema,
    columns: core.nodes,
  }),
  resource({
    group: '',
    kind: 'Service',
    plural: 'services',
    singular: 'service',
    shortNames: ['svc'],
    namespaced: true,
    categories: ['all'],
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [status('', 'Service')],
    schema: serviceSchema,
    columns: core.services,
  }),
  resource({
    group: '',
    kind: 'Endpoints',
    plural: 'endpoints',
    singular: 'endpoints',
    shortNames: ['ep'],
    namespaced: true,
    schema: endpointsSchema,
    columns: core.endpoints,
  }),
  resource({
    group: '',
    kind: 'ConfigMap',
    plural: 'configmaps',
    singular: 'configmap',
    shortNames: ['cm'],
    namespaced: true,
    schema: configMapSchema,
    columns: core.configmaps,
  }),
  resource({
    group: '',
    kind: 'Secret',
    plural: 'secrets',
    singular: 'secret',
    namespaced: true,
    schema: secretSchema,
    columns: core.secrets,
  }),
  resource({
    group: '',
    kind: 'Event',
    plural: 'events',
    singular: 'event',
    shortNames: ['ev'],
    namespaced: true,
    schema: eventSchema,
    columns: core.events,
  }),
  resource({
    group: '',
    kind: 'PersistentVolume',
    plural: 'persistentvolumes',
    singular: 'persistentvolume',
    shortNames: ['pv'],
    namespaced: false,
    subresources: [status('', 'PersistentVolume')],
    schema: persistentVolumeSchema,
    columns: core.persistentvolumes,
  }),
  resource({
    group: '',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    singular: 'persistentvolumeclaim',
    shortNames: ['pvc'],
    namespaced: true,
    subresources: [status('', 'PersistentVolumeClaim')],
    schema: persistentVolumeClaimSchema,
    columns: core.persistentvolumeclaims,
  }),
  resource({
    group: 'apps',
    kind: 'Deployment',
    plural: 'deployments',
    singular: 'deployment',
    shortNames: ['deploy'],
    namespaced: true,
    categories: ['all'],
    subresources: [scale, status('apps', 'Deployment')],
    schema: deploymentSchema,
    columns: apps.deployments,
  }),
  resource({
    group: 'apps',
    kind: 'ReplicaSet',
    plural: 'replicasets',
    singular: 'replicaset',
    shortNames: ['rs'],
    namespaced: true,
    categories: ['all'],
    subresources: [scale, status('apps', 'ReplicaSet')],
    schema: replicaSetSchema,
    columns: apps.replicasets,
  }),
  resource({
    group: 'coordination.k8s.io',
    kind: 'Lease',
    plural: 'leases',
    singular: 'lease',
    namespaced: true,
    schema: leaseSchema,
    columns: apps.leases,
  }),
  resource({
    group: 'discovery.k8s.io',
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    singular: 'endpointslice',
    namespaced: true,
    schema: endpointSliceSchema,
    columns: apps.endpointslices,
  }),
];

/** `v1` for the core group, `apps/v1` otherwise. */
export function groupVersionOf(info: { readonly group: string; readonly version: string }): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

/** Splits an apiVersion: `apps/v1` → apps, v1; `v1` → '', v1. */
export function parseApiVersion(apiVersion: string): { readonly group: string; readonly version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

const byPath = new Map(resources.map((r) => [`${r.group}/${r.version}/${r.plural}`, r]));
const byKind = new Map(resources.map((r) => [`${groupVersionOf(r)}/${r.kind}`, r]));

/** The resource served at `/apis/<group>/<version>/<plural>` (or `/api/v1/<plural>`). */
export function findResource(group: string, version: string, plural: string): ResourceInfo | undefined {
  return byPath.get(`${group}/${version}/${plural}`);
}

/** The resource of an object's apiVersion and kind. */
export function resourceForKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return byKind.get(`${apiVersion}/${kind}`);
}

/**
 * A resource by any name a user types: plural, singular, short name, or the kind,
 * optionally qualified by group (`deployments.apps`, `deploy`, `Deployment`).
 */
export function resourceByName(name: string): ResourceInfo | undefined {
  const lower = name.toLowerCase();
  for (const r of resources) {
    const names = [r.plural, r.singular, r.kind.toLowerCase(), ...r.shortNames];
    if (names.includes(lower)) return r;
    if (r.group !== '' && names.some((n) => `${n}.${r.group}` === lower)) return r;
  }
  return undefined;
}

export function subresourceOf(info: ResourceInfo, name: string): SubresourceInfo | undefined {
  return info.subresources.find((s) => s.name === name);
}

/** True when the resource has a status subresource: the main endpoint then ignores status. */
export function hasStatusSubresource(info: ResourceInfo): boolean {
  return info.subresources.some((s) => s.name === 'status');
}

/** The groups other than core, each with its versions, in discovery order. */
export function apiGroups(): readonly { readonly name: string; readonly versions: readonly string[] }[] {
  const groups = new Map<string, string[]>();
  for (const r of resources) {
    if (r.group === '') continue;
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  return [...groups].map(([name, versions]) => ({ name, versions }));
}

/** The group/resource pair errors and storage keys use. */
export function groupResourceOf(info: ResourceInfo): { readonly group: string; readonly resource: string } {
  return { group: info.group, resource: info.plural };
}
