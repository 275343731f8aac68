/**
 * The documents of API discovery: the legacy ones (`/api`, `/apis`, `/apis/<g>/<v>`)
 * and the aggregated ones (apidiscovery.k8s.io v2 and v2beta1, which kubectl 1.27+
 * asks for first). https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api
 */

export type GroupVersionForDiscovery = { readonly groupVersion: string; readonly version: string };

export type APIVersions = {
  readonly kind: 'APIVersions';
  readonly versions: readonly string[];
  readonly serverAddressByClientCIDRs: readonly {
    readonly clientCIDR: string;
    readonly serverAddress: string;
  }[];
};

export type APIGroup = {
  readonly kind?: 'APIGroup';
  readonly apiVersion?: 'v1';
  readonly name: string;
  readonly versions: readonly GroupVersionForDiscovery[];
  readonly preferredVersion: GroupVersionForDiscovery;
};

export type APIGroupList = {
  readonly kind: 'APIGroupList';
  readonly apiVersion: 'v1';
  readonly groups: readonly APIGroup[];
};

export type APIResource = {
  readonly name: string;
  readonly singularName: string;
  readonly namespaced: boolean;
  readonly group?: string;
  readonly version?: string;
  readonly kind: string;
  readonly verbs: readonly string[];
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
};

export type APIResourceList = {
  readonly kind: 'APIResourceList';
  readonly apiVersion: 'v1';
  readonly groupVersion: string;
  readonly resources: readonly APIResource[];
};

export type GroupVersionKind = { readonly group: string; readonly version: string; readonly kind: string };

export type APISubresourceDiscovery = {
  readonly subresource: string;
  readonly responseKind: GroupVersionKind;
  readonly verbs: readonly string[];
};

export type APIResourceDiscovery = {
  readonly resource: string;
  readonly responseKind: GroupVersionKind;
  readonly scope: 'Namespaced' | 'Cluster';
  readonly singularResource: string;
  readonly verbs: readonly string[];
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  readonly subresources?: readonly APISubresourceDiscovery[];
};

export type APIVersionDiscovery = {
  readonly version: string;
  readonly resources: readonly APIResourceDiscovery[];
  readonly freshness: 'Current' | 'Stale';
};

export type APIGroupDiscovery = {
  readonly metadata: { readonly name?: string };
  readonly versions: readonly APIVersionDiscovery[];
};

export type APIGroupDiscoveryList = {
  readonly kind: 'APIGroupDiscoveryList';
  readonly apiVersion: 'apidiscovery.k8s.io/v2' | 'apidiscovery.k8s.io/v2beta1';
  readonly metadata: Record<string, never>;
  readonly items: readonly APIGroupDiscovery[];
};

/** What `/version` returns. */
export type VersionInfo = {
  readonly major: string;
  readonly minor: string;
  readonly gitVersion: string;
  readonly gitCommit: string;
  readonly gitTreeState: string;
  readonly buildDate: string;
  readonly goVersion: string;
  readonly compiler: string;
  readonly platform: string;
};
