/**
 * The operations of each resource as OpenAPI paths, with the parameters kubectl looks
 * for: a PATCH that lists `fieldValidation` tells kubectl 1.27+ that the server
 * validates fields itself, so it sends `fieldValidation=Strict` instead of validating
 * client-side. Built once for both OpenAPI versions.
 */
import { assertNever } from '@flotilla/actor';
import type { ResourceInfo, SubresourceInfo, Verb } from '../registry.ts';
import type { JsonSchema, OpenApiFlavor } from './definitions.ts';
import { listDefinitionName } from './definitions.ts';

type Param = {
  readonly name: string;
  readonly in: 'query' | 'path';
  readonly type: 'string' | 'integer' | 'boolean';
  readonly description: string;
};

const q = (name: string, type: Param['type'], description: string): Param => ({
  name,
  in: 'query',
  type,
  description,
});

const pretty = q('pretty', 'string', "If 'true', the output is pretty printed.");
const dryRun = q('dryRun', 'string', 'When present, changes are not persisted. The only valid value is All.');
const fieldManager = q('fieldManager', 'string', 'A name for the actor making the change.');
const fieldValidation = q(
  'fieldValidation',
  'string',
  'What to do with unknown fields: Ignore, Warn (default) or Strict.',
);
const force = q('force', 'boolean', 'Force apply requests to take over conflicting fields.');
const listParams: readonly Param[] = [
  q('labelSelector', 'string', 'Select objects by their labels.'),
  q('fieldSelector', 'string', 'Select objects by their fields.'),
  q('limit', 'integer', 'The maximum number of objects to return; continue with `continue`.'),
  q('continue', 'string', 'The continue token of the previous page.'),
  q('resourceVersion', 'string', 'The resource version to list or watch from.'),
  q('resourceVersionMatch', 'string', 'How resourceVersion applies to a list: Exact or NotOlderThan.'),
  q('timeoutSeconds', 'integer', 'How long a list or watch may last.'),
  q('watch', 'boolean', 'Watch for changes instead of listing.'),
  q('allowWatchBookmarks', 'boolean', 'Send BOOKMARK events on a watch.'),
];
const deleteParams: readonly Param[] = [
  dryRun,
  q('gracePeriodSeconds', 'integer', 'Seconds before the object is deleted; 0 deletes at once.'),
  q('propagationPolicy', 'string', 'Orphan, Background or Foreground deletion of dependents.'),
  q('orphanDependents', 'boolean', 'Deprecated: use propagationPolicy.'),
];
const writeParams: readonly Param[] = [dryRun, fieldManager, fieldValidation];

const patchTypes = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
] as const;

type Action = 'get' | 'list' | 'post' | 'put' | 'patch' | 'delete' | 'deletecollection' | 'connect';

type Op = {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  readonly id: string;
  readonly action: Action;
  readonly params: readonly Param[];
  readonly body?: string;
  readonly response: string;
  readonly gvk: { readonly group: string; readonly version: string; readonly kind: string };
};

function camel(s: string): string {
  return s
    .split(/[.\-/]/)
    .filter((p) => p !== '' && p !== 'k8s' && p !== 'io')
    .map((p) => (p[0] ?? '').toUpperCase() + p.slice(1))
    .join('');
}

function opPrefix(r: ResourceInfo): string {
  return `${r.group === '' ? 'Core' : camel(r.group)}${camel(r.version)}`;
}

const pathParam = (name: string): Param => ({
  name,
  in: 'path',
  type: 'string',
  description: `The ${name} of the object.`,
});

function subresourceOps(r: ResourceInfo, s: SubresourceInfo, base: string, scope: string): Op[] {
  const gvk = { group: s.group, version: s.version, kind: s.kind };
  const bodyDef =
    s.kind === 'Scale'
      ? 'io.k8s.api.autoscaling.v1.Scale'
      : s.kind === 'Binding'
        ? 'io.k8s.api.core.v1.Binding'
        : r.schema.name;
  const suffix = camel(s.name);
  switch (s.name) {
    case 'binding':
      return [
        {
          method: 'post',
          id: `create${base}${scope}${r.kind}${suffix}`,
          action: 'post',
          params: writeParams,
          body: bodyDef,
          response: bodyDef,
          gvk,
        },
      ];
    case 'log':
      return [
        {
          method: 'get',
          id: `read${base}${scope}${r.kind}${suffix}`,
          action: 'get',
          params: [
            q('container', 'string', 'The container to read.'),
            q('follow', 'boolean', 'Stream the log.'),
            q('previous', 'boolean', 'The previous instance.'),
            q('tailLines', 'integer', 'Lines from the end.'),
            q('sinceSeconds', 'integer', 'Only newer lines.'),
          ],
          response: '',
          gvk: { group: r.group, version: r.version, kind: r.kind },
        },
      ];
    case 'finalize':
      return [
        {
          method: 'put',
          id: `replace${base}${scope}${r.kind}${suffix}`,
          action: 'put',
          params: writeParams,
          body: bodyDef,
          response: bodyDef,
          gvk,
        },
      ];
    case 'status':
    case 'scale':
      return [
        {
          method: 'get',
          id: `read${base}${scope}${r.kind}${suffix}`,
          action: 'get',
          params: [],
          response: bodyDef,
          gvk,
        },
        {
          method: 'put',
          id: `replace${base}${scope}${r.kind}${suffix}`,
          action: 'put',
          params: writeParams,
          body: bodyDef,
          response: bodyDef,
          gvk,
        },
        {
          method: 'patch',
          id: `patch${base}${scope}${r.kind}${suffix}`,
          action: 'patch',
          params: [...writeParams, force],
          body: 'patch',
          response: bodyDef,
          gvk,
        },
      ];
    default:
      return assertNever(s.name, 'subresource');
  }
}

/** Every path of a resource with its operations, as `[path, ops]` pairs. */
function resourcePaths(r: ResourceInfo): [string, Op[]][] {
  const root = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const base = opPrefix(r);
  const scope = r.namespaced ? 'Namespaced' : '';
  const gvk = { group: r.group, version: r.version, kind: r.kind };
  const ns = r.namespaced ? [pathParam('namespace')] : [];
  const collection = r.namespaced ? `${root}/namespaces/{namespace}/${r.plural}` : `${root}/${r.plural}`;
  const item = `${collection}/{name}`;
  const has = (v: Verb): boolean => r.verbs.includes(v);
  const collectionOps: Op[] = [];
  if (has('list'))
    collectionOps.push({
      method: 'get',
      id: `list${base}${scope}${r.kind}`,
      action: 'list',
      params: [...ns, ...listParams],
      response: listDefinitionName(r),
      gvk,
    });
  if (has('create'))
    collectionOps.push({
      method: 'post',
      id: `create${base}${scope}${r.kind}`,
      action: 'post',
      params: [...ns, ...writeParams],
      body: r.schema.name,
      response: r.schema.name,
      gvk,
    });
  if (has('deletecollection')) {
    collectionOps.push({
      method: 'delete',
      id: `delete${base}Collection${scope}${r.kind}`,
      action: 'deletecollection',
      params: [...ns, ...listParams, ...deleteParams],
      response: '',
      gvk,
    });
  }
  const name = [...ns, pathParam('name')];
  const itemOps: Op[] = [];
  if (has('get'))
    itemOps.push({
      method: 'get',
      id: `read${base}${scope}${r.kind}`,
      action: 'get',
      params: name,
      response: r.schema.name,
      gvk,
    });
  if (has('update'))
    itemOps.push({
      method: 'put',
      id: `replace${base}${scope}${r.kind}`,
      action: 'put',
      params: [...name, ...writeParams],
      body: r.schema.name,
      response: r.schema.name,
      gvk,
    });
  if (has('patch'))
    itemOps.push({
      method: 'patch',
      id: `patch${base}${scope}${r.kind}`,
      action: 'patch',
      params: [...name, ...writeParams, force],
      body: 'patch',
      response: r.schema.name,
      gvk,
    });
  if (has('delete'))
    itemOps.push({
      method: 'delete',
      id: `delete${base}${scope}${r.kind}`,
      action: 'delete',
      params: [...name, ...deleteParams],
      body: 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
      response: r.schema.name,
      gvk,
    });
  const out: [string, Op[]][] = [
    [collection, collectionOps],
    [item, itemOps],
  ];
  for (const s of r.subresources) {
    out.push([
      `${item}/${s.name}`,
      subresourceOps(r, s, base, scope).map((op) => ({ ...op, params: [...name, ...op.params] })),
    ]);
  }
  if (r.namespaced && has('list')) {
    out.push([
      `${root}/${r.plural}`,
      [
        {
          method: 'get',
          id: `list${base}${r.kind}ForAllNamespaces`,
          action: 'list',
          params: listParams,
          response: listDefinitionName(r),
          gvk,
        },
      ],
    ]);
  }
  return out;
}

function ref(flavor: OpenApiFlavor, name: string): JsonSchema {
  return { $ref: `${flavor === 'v2' ? '#/definitions/' : '#/components/schemas/'}${name}` };
}

function renderParam(p: Param, flavor: OpenApiFlavor): JsonSchema {
  const required = p.in === 'path' ? { required: true } : {};
  return flavor === 'v2'
    ? { name: p.name, in: p.in, type: p.type, description: p.description, uniqueItems: true, ...required }
    : {
        name: p.name,
        in: p.in,
        description: p.description,
        schema: { type: p.type, uniqueItems: true },
        ...required,
      };
}

function renderOp(op: Op, flavor: OpenApiFlavor): JsonSchema {
  const responseSchema = op.response === '' ? { type: 'string' } : ref(flavor, op.response);
  const params = [...op.params, pretty].map((p) => renderParam(p, flavor));
  const extensions = { 'x-kubernetes-action': op.action, 'x-kubernetes-group-version-kind': op.gvk };
  const patchBody = {
    type: 'object',
    description: 'A JSON patch, merge patch, strategic merge patch or apply patch.',
  };
  if (flavor === 'v2') {
    const body =
      op.body === undefined
        ? []
        : [
            {
              name: 'body',
              in: 'body',
              required: op.body !== 'io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions',
              schema: op.body === 'patch' ? patchBody : ref(flavor, op.body),
            },
          ];
    return {
      operationId: op.id,
      consumes: op.body === 'patch' ? patchTypes : ['*/*'],
      produces: ['application/json', 'application/yaml'],
      parameters: [...body, ...params],
      responses: { '200': { description: 'OK', schema: responseSchema } },
      ...extensions,
    };
  }
  const bodyTypes = op.body === 'patch' ? patchTypes : ['*/*'];
  const requestBody =
    op.body === undefined
      ? {}
      : {
          requestBody: {
            content: Object.fromEntries(
              bodyTypes.map((t) => [
                t,
                { schema: op.body === 'patch' ? patchBody : ref(flavor, op.body as string) },
              ]),
            ),
          },
        };
  return {
    operationId: op.id,
    parameters: params,
    ...requestBody,
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: responseSchema } } } },
    ...extensions,
  };
}

/** The OpenAPI `paths` object of these resources. */
export function pathsFor(
  selected: readonly ResourceInfo[],
  flavor: OpenApiFlavor,
): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const r of selected) {
    for (const [path, ops] of resourcePaths(r)) {
      if (ops.length === 0) continue;
      out[path] = Object.fromEntries(ops.map((op) => [op.method, renderOp(op, flavor)]));
    }
  }
  return out;
}
