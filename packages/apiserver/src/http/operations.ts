/**
 * Which verb an HTTP request is: its method on a collection or an object (and which
 * subresource), checked against the verbs the resource serves (405 otherwise).
 * https://kubernetes.io/docs/reference/access-authn-authz/authorization/#determine-the-request-verb
 */
import type { ResourceInfo, Verb } from '@flotilla/api';
import { methodNotSupported, subresourceOf, unknownResource } from '@flotilla/api';
import type { CollectionRef, ObjectRef } from '../registry/context.ts';
import type { UpdateSubresource } from '../registry/writes.ts';
import type { ApiPath } from './paths.ts';

export type Operation =
  | { readonly verb: 'list'; readonly ref: CollectionRef }
  | { readonly verb: 'watch'; readonly ref: CollectionRef }
  | { readonly verb: 'create'; readonly ref: CollectionRef }
  | { readonly verb: 'deletecollection'; readonly ref: CollectionRef }
  | { readonly verb: 'get'; readonly ref: ObjectRef; readonly subresource: 'status' | 'scale' | undefined }
  | { readonly verb: 'update'; readonly ref: ObjectRef; readonly subresource: UpdateSubresource | undefined }
  | { readonly verb: 'patch'; readonly ref: ObjectRef; readonly subresource: 'status' | 'scale' | undefined }
  | { readonly verb: 'delete'; readonly ref: ObjectRef }
  | { readonly verb: 'bind'; readonly ref: ObjectRef }
  | { readonly verb: 'log'; readonly ref: ObjectRef };

type ResourcePath = Extract<ApiPath, { kind: 'collection' | 'object' }>;

function refused(info: ResourceInfo, subresource: string | undefined, verb: string): Error {
  const resource = subresource === undefined ? info.plural : `${info.plural}/${subresource}`;
  return methodNotSupported({ group: info.group, resource }, verb);
}

function allowed(info: ResourceInfo, verb: Verb): void {
  if (!info.verbs.includes(verb)) throw refused(info, undefined, verb);
}

const methodVerb: Readonly<Record<string, Verb>> = {
  GET: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/** The operation of `method` on `path`; `watch` is the `?watch=true` of a collection GET. */
export function operationOf(method: string, path: ResourcePath, watch: boolean): Operation {
  const { info } = path;
  const verb = methodVerb[method];
  if (path.kind === 'collection') {
    const ref: CollectionRef = { info, namespace: path.namespace };
    switch (verb) {
      case 'get':
        allowed(info, watch ? 'watch' : 'list');
        return watch ? { verb: 'watch', ref } : { verb: 'list', ref };
      case 'create':
        allowed(info, 'create');
        if (info.namespaced && path.namespace === undefined) throw refused(info, undefined, 'create');
        return { verb: 'create', ref };
      case 'delete':
        allowed(info, 'deletecollection');
        return { verb: 'deletecollection', ref };
      default:
        throw refused(info, undefined, method.toLowerCase());
    }
  }
  const ref: ObjectRef = { info, namespace: path.namespace, name: path.name };
  const sub = path.subresource;
  if (sub === undefined) {
    switch (verb) {
      case 'get':
        allowed(info, 'get');
        return { verb: 'get', ref, subresource: undefined };
      case 'update':
        allowed(info, 'update');
        return { verb: 'update', ref, subresource: undefined };
      case 'patch':
        allowed(info, 'patch');
        return { verb: 'patch', ref, subresource: undefined };
      case 'delete':
        allowed(info, 'delete');
        return { verb: 'delete', ref };
      default:
        throw refused(info, undefined, method.toLowerCase());
    }
  }
  const subInfo = subresourceOf(info, sub);
  if (subInfo === undefined) throw unknownResource();
  if (verb === undefined || !subInfo.verbs.includes(verb))
    throw refused(info, sub, verb ?? method.toLowerCase());
  switch (subInfo.name) {
    case 'log':
      return { verb: 'log', ref };
    case 'binding':
      return { verb: 'bind', ref };
    case 'finalize':
      return { verb: 'update', ref, subresource: 'finalize' };
    case 'status':
    case 'scale':
      if (verb === 'get') return { verb: 'get', ref, subresource: subInfo.name };
      if (verb === 'update') return { verb: 'update', ref, subresource: subInfo.name };
      return { verb: 'patch', ref, subresource: subInfo.name };
  }
}
