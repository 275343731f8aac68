/**
 * OpenAPI schema definitions built from the runtime schemas: what kubectl reads to
 * validate manifests, to find each list's strategic-merge strategy (without which
 * `kubectl apply` would replace lists it should merge), and to `explain` fields.
 * Top-level kinds carry `x-kubernetes-group-version-kind`, lists carry
 * `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key`, as Kubernetes'
 * own documents do. https://kubernetes.io/docs/concepts/overview/kubernetes-api/#openapi-interface-definition
 */
import { assertNever } from '@flotilla/actor';
import type { ResourceInfo } from '../registry.ts';
import { scaleSchema } from '../schema/apps.ts';
import { bindingSchema } from '../schema/core.ts';
import { deleteOptionsSchema, listMetaSchema } from '../schema/meta.ts';
import type { ListPatch, ObjectSchema, Schema } from '../schema/schema.ts';

/** A JSON Schema object as OpenAPI writes it (a plain JSON value). */
export type JsonSchema = { readonly [key: string]: unknown };

export type OpenApiFlavor = 'v2' | 'v3';

export const quantityDefinition = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
export const intOrStringDefinition = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
export const timeDefinition = 'io.k8s.apimachinery.pkg.apis.meta.v1.Time';
export const microTimeDefinition = 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime';

export type GroupVersionKind = { readonly group: string; readonly version: string; readonly kind: string };

const refPrefix = (flavor: OpenApiFlavor): string =>
  flavor === 'v2' ? '#/definitions/' : '#/components/schemas/';

function ref(flavor: OpenApiFlavor, name: string): JsonSchema {
  return { $ref: `${refPrefix(flavor)}${name}` };
}

function patchExtensions(patch: ListPatch, objectRetainKeys: boolean): JsonSchema {
  if (patch.strategy === 'replace')
    return objectRetainKeys ? { 'x-kubernetes-patch-strategy': 'retainKeys' } : {};
  return {
    'x-kubernetes-patch-strategy': patch.retainKeys ? 'merge,retainKeys' : 'merge',
    ...(patch.mergeKey === undefined
      ? { 'x-kubernetes-list-type': 'set' }
      : { 'x-kubernetes-patch-merge-key': patch.mergeKey }),
  };
}

/** The schema of one value; struct values become references, collected into `seen`. */
function valueSchema(schema: Schema, flavor: OpenApiFlavor, seen: Map<string, ObjectSchema>): JsonSchema {
  switch (schema.type) {
    case 'string':
      return { type: 'string' };
    case 'integer':
      return { type: 'integer', format: `int${schema.bits}` };
    case 'number':
      return { type: 'number', format: 'double' };
    case 'boolean':
      return { type: 'boolean' };
    case 'bytes':
      return { type: 'string', format: 'byte' };
    case 'quantity':
      return ref(flavor, quantityDefinition);
    case 'intOrString':
      return ref(flavor, intOrStringDefinition);
    case 'time':
      return ref(flavor, schema.micro ? microTimeDefinition : timeDefinition);
    case 'list':
      return {
        type: 'array',
        items: valueSchema(schema.items, flavor, seen),
        ...patchExtensions(schema.patch, false),
      };
    case 'map':
      return { type: 'object', additionalProperties: valueSchema(schema.values, flavor, seen) };
    case 'object':
      seen.set(schema.name, schema);
      return ref(flavor, schema.name);
    case 'any':
      return { type: 'object' };
    default:
      return assertNever(schema, 'schema');
  }
}

/** A property: a value schema, with the retainKeys strategy of a struct value added. */
function propertySchema(schema: Schema, flavor: OpenApiFlavor, seen: Map<string, ObjectSchema>): JsonSchema {
  const value = valueSchema(schema, flavor, seen);
  if (schema.type !== 'object' || !schema.retainKeys) return value;
  // OpenAPI v3 ignores siblings of $ref, so Kubernetes wraps the reference in allOf.
  const extension = { 'x-kubernetes-patch-strategy': 'retainKeys' };
  return flavor === 'v2' ? { ...value, ...extension } : { allOf: [value], ...extension };
}

function objectDefinition(
  schema: ObjectSchema,
  flavor: OpenApiFlavor,
  seen: Map<string, ObjectSchema>,
  gvks: readonly GroupVersionKind[],
): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, field] of Object.entries(schema.fields)) {
    properties[name] = propertySchema(field.schema, flavor, seen);
    const t = field.schema.type;
    if (field.presence === 'always' && t !== 'object' && t !== 'list' && t !== 'map' && t !== 'time')
      required.push(name);
  }
  return {
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(gvks.length > 0 ? { 'x-kubernetes-group-version-kind': gvks } : {}),
  };
}

const scalarDefinitions = (flavor: OpenApiFlavor): Record<string, JsonSchema> => ({
  [quantityDefinition]:
    flavor === 'v2' ? { type: 'string' } : { oneOf: [{ type: 'string' }, { type: 'number' }] },
  [intOrStringDefinition]: { type: 'string', format: 'int-or-string' },
  [timeDefinition]: { type: 'string', format: 'date-time' },
  [microTimeDefinition]: { type: 'string', format: 'date-time' },
});

/** `io.k8s.api.core.v1.PodList` for pods. */
export function listDefinitionName(r: ResourceInfo): string {
  return `${r.schema.name}List`;
}

/** The top-level kinds: each resource's kind, plus the Scale, Binding and DeleteOptions bodies. */
export function topLevelKinds(
  selected: readonly ResourceInfo[],
): { schema: ObjectSchema; gvks: GroupVersionKind[] }[] {
  const kinds = selected.map((r) => ({
    schema: r.schema,
    gvks: [{ group: r.group, version: r.version, kind: r.kind }],
  }));
  const subresourceKinds = new Set(selected.flatMap((r) => r.subresources.map((s) => s.kind)));
  if (subresourceKinds.has('Scale'))
    kinds.push({ schema: scaleSchema, gvks: [{ group: 'autoscaling', version: 'v1', kind: 'Scale' }] });
  if (subresourceKinds.has('Binding'))
    kinds.push({ schema: bindingSchema, gvks: [{ group: '', version: 'v1', kind: 'Binding' }] });
  kinds.push({
    schema: deleteOptionsSchema,
    gvks: ['', 'apps', 'coordination.k8s.io', 'discovery.k8s.io'].map((group) => ({
      group,
      version: 'v1',
      kind: 'DeleteOptions',
    })),
  });
  return kinds;
}

/** Every definition reachable from the given resources, by name, in a stable order. */
export function definitionsFor(
  selected: readonly ResourceInfo[],
  flavor: OpenApiFlavor,
): Record<string, JsonSchema> {
  const seen = new Map<string, ObjectSchema>();
  const out: Record<string, JsonSchema> = { ...scalarDefinitions(flavor) };
  const gvkByName = new Map<string, GroupVersionKind[]>();
  for (const k of topLevelKinds(selected)) {
    gvkByName.set(k.schema.name, k.gvks);
    seen.set(k.schema.name, k.schema);
  }
  // The list kinds (PodList, ...) that list operations return.
  for (const r of selected) {
    const items = valueSchema(r.schema, flavor, seen);
    out[listDefinitionName(r)] = {
      type: 'object',
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: valueSchema(listMetaSchema, flavor, seen),
        items: { type: 'array', items },
      },
      required: ['items'],
      'x-kubernetes-group-version-kind': [{ group: r.group, version: r.version, kind: r.listKind }],
    };
  }
  const done = new Set<string>();
  // Definitions reference others; keep going until nothing new turns up.
  while (done.size < seen.size) {
    for (const [name, schema] of [...seen]) {
      if (done.has(name)) continue;
      done.add(name);
      out[name] = objectDefinition(schema, flavor, seen, gvkByName.get(name) ?? []);
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
