/**
 * Discovery documents built from the registry, and the content negotiation that picks
 * between the aggregated form (one request for all resources) and the legacy one.
 */
import type { ResourceInfo } from './registry.ts';
import { apiGroups, groupVersionOf, resources } from './registry.ts';
import type {
  APIGroup,
  APIGroupDiscovery,
  APIGroupDiscoveryList,
  APIGroupList,
  APIResource,
  APIResourceDiscovery,
  APIResourceList,
  APIVersions,
  VersionInfo,
} from './types/discovery-docs.ts';

/**
 * The Kubernetes version Flotilla reports: in the middle of the kubectl versions it is
 * tested with (1.27 to 1.33), so that no supported kubectl warns about version skew by
 * more than its documented tolerance.
 */
export const serverVersion: VersionInfo = {
  major: '1',
  minor: '30',
  gitVersion: 'v1.30.0-flotilla',
  gitCommit: '',
  gitTreeState: 'clean',
  buildDate: '',
  goVersion: '',
  compiler: 'node',
  platform: 'linux/amd64',
};

/** `/api`: the versions of the core group. */
export function apiVersions(serverAddress: string): APIVersions {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(name: string, versions: readonly string[]): APIGroup {
  const gvs = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: gvs, preferredVersion: gvs[0] as APIGroup['preferredVersion'] };
}

/** `/apis`: every group but core. */
export function apiGroupList(): APIGroupList {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: apiGroups().map((g) => apiGroup(g.name, g.versions)),
  };
}

/** `/apis/<group>`, or undefined when there is no such group. */
export function apiGroupDocument(group: string): APIGroup | undefined {
  const g = apiGroups().find((x) => x.name === group);
  return g === undefined
    ? undefined
    : { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(g.name, g.versions) };
}

function resourcesOf(group: string, version: string): ResourceInfo[] {
  return resources.filter((r) => r.group === group && r.version === version);
}

function optionalLists(r: ResourceInfo): Pick<APIResource, 'shortNames' | 'categories'> {
  return {
    ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
    ...(r.categories.length > 0 ? { categories: r.categories } : {}),
  };
}

/**
 * `/api/v1` or `/apis/<group>/<version>`: each resource, then each of its subresources
 * as `pods/status`; undefined when nothing is served there.
 */
export function apiResourceList(group: string, version: string): APIResourceList | undefined {
  const list = resourcesOf(group, version);
  if (list.length === 0) return undefined;
  const out: APIResource[] = [];
  for (const r of list) {
    out.push({
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...optionalLists(r),
    });
    for (const s of r.subresources) {
      out.push({
        name: `${r.plural}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(s.group === r.group && s.version === r.version ? {} : { group: s.group, version: s.version }),
        kind: s.kind,
        verbs: s.verbs,
      });
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupVersionOf({ group, version }),
    resources: out,
  };
}

export type AggregatedDiscoveryVersion = 'v2' | 'v2beta1';

function resourceDiscovery(r: ResourceInfo): APIResourceDiscovery {
  return {
    resource: r.plural,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
    ...optionalLists(r),
    ...(r.subresources.length > 0
      ? {
          subresources: r.subresources.map((s) => ({
            subresource: s.name,
            responseKind: { group: s.group, version: s.version, kind: s.kind },
            verbs: s.verbs,
          })),
        }
      : {}),
  };
}

function groupDiscovery(group: string, versions: readonly string[]): APIGroupDiscovery {
  return {
    metadata: group === '' ? {} : { name: group },
    versions: versions.map((version) => ({
      version,
      resources: resourcesOf(group, version).map(resourceDiscovery),
      freshness: 'Current',
    })),
  };
}

/** The aggregated document of `/api` (scope 'core') or `/apis` (scope 'groups'). */
export function aggregatedDiscovery(
  scope: 'core' | 'groups',
  version: AggregatedDiscoveryVersion,
): APIGroupDiscoveryList {
  const items =
    scope === 'core'
      ? [groupDiscovery('', ['v1'])]
      : apiGroups().map((g) => groupDiscovery(g.name, g.versions));
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
}

/** The Content-Type of an aggregated discovery response. */
export function aggregatedDiscoveryContentType(version: AggregatedDiscoveryVersion): string {
  return `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`;
}

export type DiscoveryFormat =
  | { readonly kind: 'aggregated'; readonly version: AggregatedDiscoveryVersion }
  | { readonly kind: 'legacy' }
  | { readonly kind: 'none' };

/** Splits an Accept header into media types with their parameters, in the client's order. */
export function parseAccept(
  accept: string,
): { readonly type: string; readonly params: Readonly<Record<string, string>> }[] {
  return accept
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [type, ...rest] = part.split(';').map((s) => s.trim());
      const params: Record<string, string> = {};
      for (const p of rest) {
        const eq = p.indexOf('=');
        if (eq > 0) params[p.slice(0, eq).toLowerCase()] = p.slice(eq + 1);
      }
      return { type: (type ?? '').toLowerCase(), params };
    });
}

/**
 * Picks the discovery format for `/api` and `/apis` from the Accept header: the first
 * aggregated version the client lists that Flotilla serves, else the legacy JSON when
 * the client accepts plain JSON (or sends no Accept), else none (a 406).
 */
export function negotiateDiscovery(accept: string | undefined): DiscoveryFormat {
  if (accept === undefined || accept.trim() === '') return { kind: 'legacy' };
  let legacy = false;
  for (const { type, params } of parseAccept(accept)) {
    const jsonLike = type === 'application/json' || type === '*/*' || type === 'application/*';
    if (!jsonLike) continue;
    if (params.as === undefined) {
      legacy = true;
      continue;
    }
    if (params.as === 'APIGroupDiscoveryList' && params.g === 'apidiscovery.k8s.io') {
      if (params.v === 'v2' || params.v === 'v2beta1') return { kind: 'aggregated', version: params.v };
    }
  }
  return legacy ? { kind: 'legacy' } : { kind: 'none' };
}
