import { describe, expect, it } from 'vitest';
import {
  decodeDeleteOptions,
  decodeFor,
  decodeManifests,
  decodeObject,
  ManifestError,
  parseJsonBody,
  parseYamlBody,
  parseYamlDocuments,
} from './decode.ts';
import { resourceForKind } from './registry.ts';
import { StatusError } from './status.ts';
import type { Deployment } from './types/apps.ts';
import type { ConfigMap, Pod, Service } from './types/core.ts';

const pods = resourceForKind('v1', 'Pod');
if (pods === undefined) throw new Error('pods are not registered');

function statusOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  throw new Error('expected a StatusError');
}

describe('decoding request bodies', () => {
  it('normalizes like Kubernetes: canonical quantities and times, Go field presence', () => {
    const { object, warnings } = decodeFor<Pod>(pods, {
      metadata: { name: 'web', creationTimestamp: '2024-05-01T12:00:00.123+02:00', labels: null },
      spec: {
        hostNetwork: false,
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'web',
            image: 'nginx',
            resources: { limits: { cpu: 0.5, memory: '1.5Gi' } },
            ports: [{ containerPort: 80, hostPort: 0 }],
          },
        ],
      },
    });
    expect(warnings).toEqual([]);
    expect(object).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', creationTimestamp: '2024-05-01T10:00:00Z' },
      // false and 0 vanish (omitempty) unless the field is a pointer (grace period 0 stays).
      spec: {
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: 'web',
            image: 'nginx',
            resources: { limits: { cpu: '500m', memory: '1536Mi' } },
            ports: [{ containerPort: 80 }],
          },
        ],
      },
      status: {},
    });
  });

  it('keeps replicas: 0 (a pointer) and drops paused: false (omitempty)', () => {
    const deployments = resourceForKind('apps/v1', 'Deployment');
    if (deployments === undefined) throw new Error('no deployments');
    const { object } = decodeFor<Deployment>(deployments, {
      metadata: { name: 'web' },
      spec: { replicas: 0, paused: false, selector: { matchLabels: { app: 'web' } }, template: {} },
    });
    expect(object.spec?.replicas).toBe(0);
    expect(object.spec && Object.hasOwn(object.spec, 'paused')).toBe(false);
    expect(object.spec?.strategy).toEqual({}); // a struct value is always written
  });

  it('reports wrong value types with their path, as a 400', () => {
    const err = statusOf(() =>
      decodeFor(pods, {
        metadata: { name: 'web' },
        spec: {
          containers: [
            { name: 'web', ports: [{ containerPort: '80' }], resources: { limits: { cpu: 'lots' } } },
          ],
          hostNetwork: 'yes',
        },
      }),
    );
    expect(err.status.code).toBe(400);
    expect(err.status.reason).toBe('BadRequest');
    expect(err.status.message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: ' +
        'json: cannot unmarshal string into Go struct field ContainerPort.spec.containers[0].ports[0].containerPort of type int32; ' +
        "spec.containers[0].resources.limits[cpu]: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'; " +
        'json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool',
    );
    expect(err.status.details?.causes?.map((c) => c.field)).toEqual([
      'spec.containers[0].ports[0].containerPort',
      'spec.containers[0].resources.limits[cpu]',
      'spec.hostNetwork',
    ]);
  });

  it('rejects non-integers, out-of-range integers and bad times', () => {
    const messages = statusOf(() =>
      decodeFor(pods, {
        metadata: { name: 'web', creationTimestamp: 'yesterday' },
        spec: { containers: [{ name: 'web', ports: [{ containerPort: 1.5 }, { containerPort: 2 ** 31 }] }] },
      }),
    ).status.details?.causes?.map((c) => c.message);
    expect(messages).toEqual([
      'metadata.creationTimestamp: invalid time "yesterday": must be RFC 3339, e.g. 2006-01-02T15:04:05Z',
      'json: cannot unmarshal number 1.5 into Go struct field ContainerPort.spec.containers[0].ports[0].containerPort of type int32',
      'spec.containers[0].ports[1].containerPort: 2147483648 overflows int32',
    ]);
  });

  it('handles unknown fields per fieldValidation', () => {
    const body = {
      metadata: { name: 'web', colour: 'red' },
      spec: { containers: [{ name: 'web', imagee: 'nginx' }] },
    };
    const warned = decodeFor<Pod>(pods, body, { fieldValidation: 'Warn' });
    expect(warned.warnings).toEqual([
      'unknown field "metadata.colour"',
      'unknown field "spec.containers[0].imagee"',
    ]);
    expect(warned.object.spec?.containers[0]).toEqual({ name: 'web', resources: {} });
    expect(decodeFor(pods, body, { fieldValidation: 'Ignore' }).warnings).toEqual([]);
    expect(statusOf(() => decodeFor(pods, body, { fieldValidation: 'Strict' })).status.message).toBe(
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "metadata.colour", unknown field "spec.containers[0].imagee"',
    );
  });

  it('checks apiVersion and kind against the endpoint, filling them when absent', () => {
    expect(statusOf(() => decodeFor(pods, { apiVersion: 'apps/v1', kind: 'Pod' })).status.message).toBe(
      'the API version in the data (apps/v1) does not match the expected API version (v1)',
    );
    expect(statusOf(() => decodeFor(pods, { apiVersion: 'v1', kind: 'Service' })).status.message).toBe(
      'the kind in the data (Service) does not match the expected kind (Pod)',
    );
    expect(decodeFor<Pod>(pods, { metadata: { name: 'x' } }).object.kind).toBe('Pod');
    expect(statusOf(() => decodeFor(pods, [])).status.code).toBe(400);
  });

  it('decodes by the object own kind, refusing unknown kinds', () => {
    expect(
      decodeObject<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } }).object.status,
    ).toEqual({
      loadBalancer: {},
    });
    expect(statusOf(() => decodeObject({ apiVersion: 'v1', kind: 'Pdo' })).status.message).toBe(
      'no kind "Pdo" is registered for version "v1"',
    );
  });

  it('reads DeleteOptions in either apiVersion', () => {
    expect(
      decodeDeleteOptions({
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: 'Foreground',
        gracePeriodSeconds: 0,
      }),
    ).toEqual({
      propagationPolicy: 'Foreground',
      gracePeriodSeconds: 0,
    });
    expect(decodeDeleteOptions({ apiVersion: 'meta.k8s.io/v1', orphanDependents: false })).toEqual({
      orphanDependents: false,
    });
    expect(() => decodeDeleteOptions({ gracePeriodSeconds: 'soon' })).toThrow(StatusError);
  });

  it('turns malformed JSON and YAML into a 400', () => {
    expect(statusOf(() => parseJsonBody('{"a":')).status.message).toMatch(
      /^the request body is not valid JSON: /,
    );
    expect(statusOf(() => parseYamlBody('a: [1, 2')).status.message).toMatch(
      /^the request body is not valid YAML: document 1: /,
    );
    expect(statusOf(() => parseYamlBody('a: 1\n---\nb: 2\n')).status.message).toBe(
      'the request body must hold one YAML document, not 2',
    );
  });
});

describe('YAML as Kubernetes reads it (YAML 1.1, Go yaml.v2)', () => {
  it('reads octal modes and yes/no, but keeps timestamps and port pairs as strings', () => {
    expect(
      parseYamlDocuments('mode: 0644\non: yes\nwhen: 2024-01-01\nports: 8080:80\nt: 12:30:00\n'),
    ).toEqual([{ mode: 420, true: true, when: '2024-01-01', ports: '8080:80', t: '12:30:00' }]);
  });

  it('refuses values JSON cannot hold, duplicate keys, and alias bombs', () => {
    expect(() => parseYamlDocuments('x: .inf\n')).toThrow(/x: Infinity is not a JSON number/);
    expect(() => parseYamlDocuments('a: 1\na: 2\n')).toThrow(ManifestError);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${'b'.repeat(i + 1)}: &${'b'.repeat(i + 1)} [${Array(10)
          .fill(i === 0 ? '*a' : `*${'b'.repeat(i)}`)
          .join(', ')}]`,
      );
    expect(() => parseYamlDocuments(bomb.join('\n'))).toThrow(ManifestError);
  });
});

describe('manifests', () => {
  const manifest = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
# an empty document is skipped
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25", resources: {requests: {cpu: 0.25}}}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cfg, namespace: shop}
  data: {mode: "0644"}
`;

  it('decodes every document in order, expanding Lists', () => {
    const { object: objects, warnings } = decodeManifests(manifest);
    expect(warnings).toEqual([]);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/shop',
      'Deployment/web',
      'ConfigMap/cfg',
    ]);
    const d = objects[1] as Deployment;
    expect(d.spec?.template.spec?.containers[0]?.resources?.requests?.cpu).toBe('250m');
    expect((objects[2] as ConfigMap).data).toEqual({ mode: '0644' });
  });

  it('names the document that is wrong', () => {
    const bad = `${manifest}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: many}\n`;
    expect(() => decodeManifests(bad)).toThrow(
      /^document 5: Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string/,
    );
    expect(() => decodeManifests('kind: Pod\n')).toThrow("document 1: Object 'apiVersion' is missing");
  });
});
