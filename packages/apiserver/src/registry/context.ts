/**
 * What the verbs need besides their request: the store, the clock and random sources
 * (injected, so that tests can pin them), the address allocators, event leases, paging
 * and metrics. One per API server process; it holds no state a replica could disagree on.
 */
import type { Logger } from '@flotilla/actor';
import type { KubeObject, ResourceInfo } from '@flotilla/api';
import { badRequest, groupResourceOf, isValidPathSegmentName, notFound } from '@flotilla/api';
import type { ApiServerMetrics } from '../metrics.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { EventLeases } from './event-leases.ts';
import type { PagingLimits } from './paging.ts';
import type { ServiceAllocations } from './service-allocation.ts';

export type RegistryContext = {
  readonly store: ObjectStore;
  readonly log: Logger;
  readonly metrics: ApiServerMetrics;
  readonly nowMs: () => number;
  /** Numbers in [0, 1), for generated names and address picks. */
  readonly random: () => number;
  readonly newUid: () => string;
  readonly allocations: ServiceAllocations;
  readonly eventLeases: EventLeases;
  readonly paging: PagingLimits;
  /** Writes retried at most this many times after a concurrent change (no resourceVersion given). */
  readonly maxConflictRetries: number;
};

/** One object of a resource: `pods` `web-1` in `default`. */
export type ObjectRef = {
  readonly info: ResourceInfo;
  readonly namespace: string | undefined;
  readonly name: string;
};

/** A collection: one namespace's objects (or all of them), or a cluster-scoped resource. */
export type CollectionRef = {
  readonly info: ResourceInfo;
  readonly namespace: string | undefined;
};

/** Longer names cannot be valid (a DNS subdomain is at most 253 characters). */
const maxSegmentChars = 253;

/** Names and namespaces reach keys: they must be single path segments. */
export function checkSegment(what: 'name' | 'namespace', value: string): void {
  if (value === '') throw badRequest(`${what} is required`);
  if (value.length > maxSegmentChars)
    throw badRequest(`${what} is longer than ${maxSegmentChars} characters`);
  const problems = isValidPathSegmentName(value);
  if (value.includes('\u0000')) problems.push('may not contain NUL');
  if (problems.length > 0)
    throw badRequest(`invalid ${what} ${JSON.stringify(value)}: ${problems.join(', ')}`);
}

export function checkObjectRef(ref: ObjectRef): void {
  checkSegment('name', ref.name);
  checkCollectionRef(ref, true);
}

export function checkCollectionRef(ref: CollectionRef, needNamespace: boolean): void {
  if (!ref.info.namespaced) {
    if (ref.namespace !== undefined && ref.namespace !== '') {
      throw badRequest(`${ref.info.plural} are not namespaced: no namespace may be given`);
    }
    return;
  }
  if (ref.namespace === undefined || ref.namespace === '') {
    if (needNamespace) throw badRequest(`${ref.info.plural} are namespaced: a namespace is required`);
    return;
  }
  checkSegment('namespace', ref.namespace);
}

export function notFoundOf(ref: ObjectRef): Error {
  return notFound(groupResourceOf(ref.info), ref.name);
}

/** The Kubernetes resourceVersion query parameter: '' (absent) or a decimal revision. */
export function parseResourceVersion(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  if (!/^[0-9]{1,16}$/.test(text)) {
    throw badRequest(`invalid resource version ${JSON.stringify(text)}: not a non-negative integer`);
  }
  return Number(text);
}

/** `v1`, `apps/v1`: what lists and bookmarks of a resource carry. */
export function apiVersionOf(info: ResourceInfo): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

export function withResourceVersion<T extends KubeObject>(obj: T, revision: number): T {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(revision) } };
}
