/**
 * The REST paths of the API: discovery (`/api`, `/apis/<group>/<version>`) and resources
 * (`/api/v1/namespaces/<ns>/pods/<name>/status`, `/apis/apps/v1/deployments`, ...).
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris
 */
import { findResource, type ResourceInfo, resources } from '@flotilla/api';

export type ApiPath =
  | { readonly kind: 'coreVersions' }
  | { readonly kind: 'groups' }
  | { readonly kind: 'group'; readonly group: string }
  | { readonly kind: 'resources'; readonly group: string; readonly version: string }
  /** A collection: all of a resource (every namespace), or one namespace's. */
  | { readonly kind: 'collection'; readonly info: ResourceInfo; readonly namespace: string | undefined }
  | {
      readonly kind: 'object';
      readonly info: ResourceInfo;
      readonly namespace: string | undefined;
      readonly name: string;
      readonly subresource: string | undefined;
    }
  | { readonly kind: 'unknown' };

const unknown: ApiPath = { kind: 'unknown' };
const knownGroups = new Set(resources.map((r) => r.group));

function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** `/apis/apps/v1/...` → group, version and the rest of the segments. */
function groupVersion(
  segments: readonly string[],
): { group: string; version: string; rest: string[] } | undefined {
  if (segments[0] === 'api' && segments.length >= 2) {
    return { group: '', version: segments[1] ?? '', rest: segments.slice(2) };
  }
  if (segments[0] === 'apis' && segments.length >= 3) {
    return { group: segments[1] ?? '', version: segments[2] ?? '', rest: segments.slice(3) };
  }
  return undefined;
}

function resourcePath(group: string, version: string, rest: readonly string[]): ApiPath {
  const [first, second, third, fourth, fifth, ...extra] = rest;
  if (first === undefined) return { kind: 'resources', group, version };
  // /namespaces/<ns>/<resource>[/<name>[/<sub>]] — unless it is the namespaces resource's own path.
  if (first === 'namespaces' && second !== undefined && third !== undefined) {
    const nsInfo = findResource(group, version, 'namespaces');
    const isNamespaceSub = nsInfo?.subresources.some((s) => s.name === third) === true;
    if (!isNamespaceSub || fourth !== undefined) {
      const info = findResource(group, version, third);
      if (info === undefined || !info.namespaced || extra.length > 0) return unknown;
      if (fourth === undefined) return { kind: 'collection', info, namespace: second };
      return { kind: 'object', info, namespace: second, name: fourth, subresource: fifth };
    }
  }
  const info = findResource(group, version, first);
  if (info === undefined || fourth !== undefined) return unknown;
  if (second === undefined) return { kind: 'collection', info, namespace: undefined };
  if (info.namespaced) return unknown; // a namespaced object needs its namespace in the path
  return { kind: 'object', info, namespace: undefined, name: second, subresource: third };
}

/** Parses the path of a request (without the query string). */
export function parseApiPath(path: string): ApiPath {
  const raw = path.split('/').filter((s) => s !== '');
  const segments: string[] = [];
  for (const s of raw) {
    const d = decodeSegment(s);
    if (d === undefined) return unknown;
    segments.push(d);
  }
  if (segments.length === 1 && segments[0] === 'api') return { kind: 'coreVersions' };
  if (segments.length === 1 && segments[0] === 'apis') return { kind: 'groups' };
  if (segments.length === 2 && segments[0] === 'apis') {
    const group = segments[1] ?? '';
    return knownGroups.has(group) && group !== '' ? { kind: 'group', group } : unknown;
  }
  const gv = groupVersion(segments);
  if (gv === undefined || (gv.group === '' && segments[0] === 'apis')) return unknown;
  if (!resources.some((r) => r.group === gv.group && r.version === gv.version)) return unknown;
  return resourcePath(gv.group, gv.version, gv.rest);
}
