import { describe, expect, it } from 'vitest';
import type { JsonSchema } from './definitions.ts';
import { openApiV2Document, openApiV3Document, openApiV3GroupVersions, openApiV3Index } from './documents.ts';
import { encodeOpenApiV2 } from './protobuf.ts';

type Obj = Record<string, unknown>;
const at = (o: unknown, ...keys: string[]): unknown => keys.reduce((v, k) => (v as Obj | undefined)?.[k], o);

describe('OpenAPI v2', () => {
  const doc = openApiV2Document();

  it('marks kinds with their group-version-kind and lists with their merge strategy', () => {
    expect(
      at(doc, 'definitions', 'io.k8s.api.apps.v1.Deployment', 'x-kubernetes-group-version-kind'),
    ).toEqual([{ group: 'apps', version: 'v1', kind: 'Deployment' }]);
    expect(at(doc, 'definitions', 'io.k8s.api.core.v1.PodSpec', 'properties', 'containers')).toEqual({
      type: 'array',
      items: { $ref: '#/definitions/io.k8s.api.core.v1.Container' },
      'x-kubernetes-patch-strategy': 'merge',
      'x-kubernetes-patch-merge-key': 'name',
    });
    expect(
      at(
        doc,
        'definitions',
        'io.k8s.api.core.v1.PodSpec',
        'properties',
        'volumes',
        'x-kubernetes-patch-strategy',
      ),
    ).toBe('merge,retainKeys');
    expect(
      at(
        doc,
        'definitions',
        'io.k8s.api.core.v1.PodSpec',
        'properties',
        'tolerations',
        'x-kubernetes-patch-strategy',
      ),
    ).toBeUndefined();
    expect(at(doc, 'definitions', 'io.k8s.api.apps.v1.DeploymentSpec', 'properties', 'strategy')).toEqual({
      $ref: '#/definitions/io.k8s.api.apps.v1.DeploymentStrategy',
      'x-kubernetes-patch-strategy': 'retainKeys',
    });
    expect(at(doc, 'definitions', 'io.k8s.api.core.v1.Container', 'required')).toEqual(['name']);
    // Every reference resolves.
    const refs = JSON.stringify(doc).match(/#\/definitions\/[^"]+/g) ?? [];
    for (const r of new Set(refs))
      expect(at(doc, 'definitions', r.slice('#/definitions/'.length)), r).toBeDefined();
  });

  it('offers fieldValidation on PATCH, so kubectl leaves validation to the server', () => {
    const patch = at(doc, 'paths', '/apis/apps/v1/namespaces/{namespace}/deployments/{name}', 'patch') as Obj;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
    });
    expect((patch.parameters as Obj[]).map((p) => p.name)).toContain('fieldValidation');
    expect(patch.consumes).toContain('application/strategic-merge-patch+json');
    expect(
      at(doc, 'paths', '/api/v1/namespaces/{namespace}/pods/{name}/binding', 'post', 'operationId'),
    ).toBe('createCoreV1NamespacedPodBinding');
    expect(at(doc, 'paths', '/api/v1/nodes/{name}/status', 'patch', 'operationId')).toBe(
      'patchCoreV1NodeStatus',
    );
    expect(at(doc, 'paths', '/api/v1/pods', 'get', 'operationId')).toBe('listCoreV1PodForAllNamespaces');
  });
});

/** A minimal protobuf reader: the fields of a message as [number, bytes-or-varint] pairs. */
function fields(bytes: Uint8Array): [number, Uint8Array | number][] {
  const out: [number, Uint8Array | number][] = [];
  let i = 0;
  const varint = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[i++] as number;
      n += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return n;
    }
  };
  while (i < bytes.length) {
    const key = varint();
    if ((key & 7) === 0) out.push([key >> 3, varint()]);
    else {
      const len = varint();
      out.push([key >> 3, bytes.subarray(i, i + len)]);
      i += len;
    }
  }
  return out;
}
const text = (b: Uint8Array | number | undefined): string => new TextDecoder().decode(b as Uint8Array);
const field = (msg: Uint8Array, n: number): (Uint8Array | number)[] =>
  fields(msg)
    .filter(([k]) => k === n)
    .map(([, v]) => v);

describe('OpenAPI v2 as protobuf', () => {
  it('encodes the document as gnostic openapi.v2.Document', () => {
    const bytes = encodeOpenApiV2(openApiV2Document());
    expect(text(field(bytes, 1)[0])).toBe('2.0');
    const definitions = field(bytes, 9)[0] as Uint8Array;
    const named = field(definitions, 1).map((d) => d as Uint8Array);
    const deployment = named.find((d) => text(field(d, 1)[0]) === 'io.k8s.api.apps.v1.Deployment');
    expect(deployment).toBeDefined();
    const schema = field(deployment as Uint8Array, 2)[0] as Uint8Array;
    const ext = field(schema, 31).map((e) => e as Uint8Array);
    const gvk = ext.find((e) => text(field(e, 1)[0]) === 'x-kubernetes-group-version-kind') as Uint8Array;
    const yaml = text(field(field(gvk, 2)[0] as Uint8Array, 2)[0]);
    expect(JSON.parse(yaml)).toEqual([{ group: 'apps', version: 'v1', kind: 'Deployment' }]);
    const paths = field(field(bytes, 8)[0] as Uint8Array, 2).map((p) => text(field(p as Uint8Array, 1)[0]));
    expect(paths).toContain('/apis/apps/v1/namespaces/{namespace}/deployments/{name}');
  });
});

describe('OpenAPI v3', () => {
  it('indexes one document per group-version', () => {
    expect(openApiV3GroupVersions()).toEqual([
      'api/v1',
      'apis/apps/v1',
      'apis/coordination.k8s.io/v1',
      'apis/discovery.k8s.io/v1',
    ]);
    expect(
      at(
        openApiV3Index((gv) => `h-${gv.length}`),
        'paths',
        'apis/apps/v1',
      ),
    ).toEqual({ serverRelativeURL: '/openapi/v3/apis/apps/v1?hash=h-12' });
    expect(openApiV3Document('apis/batch/v1')).toBeUndefined();
  });

  it('wraps references that carry extensions in allOf and keeps only its group-version', () => {
    const doc = openApiV3Document('apis/apps/v1') as JsonSchema;
    expect(
      at(doc, 'components', 'schemas', 'io.k8s.api.apps.v1.DeploymentSpec', 'properties', 'strategy'),
    ).toEqual({
      allOf: [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy' }],
      'x-kubernetes-patch-strategy': 'retainKeys',
    });
    expect(Object.keys(at(doc, 'paths') as Obj).every((p) => p.startsWith('/apis/apps/v1/'))).toBe(true);
    const patch = at(
      doc,
      'paths',
      '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale',
      'patch',
    ) as Obj;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
    });
    expect(at(doc, 'components', 'schemas', 'io.k8s.api.autoscaling.v1.Scale')).toBeDefined();
  });
});
