import { describe, expect, it } from 'vitest';
import { applyDefaults } from '../defaults.ts';
import { formatFieldError } from '../field-errors.ts';
import { resourceForKind } from '../registry.ts';
import { StatusError } from '../status.ts';
import type { Deployment } from '../types/apps.ts';
import type { ConfigMap, Namespace, Node, PersistentVolumeClaim, Secret, Service } from '../types/core.ts';
import type { KubeObject } from '../types/meta.ts';
import { invalidObject, validateCreate, validateStatusUpdate, validateUpdate } from './validate.ts';

const errorsOf = (obj: KubeObject): string[] => validateCreate(applyDefaults(obj)).map(formatFieldError);
const updateErrors = (next: KubeObject, prev: KubeObject): string[] =>
  validateUpdate(applyDefaults(next), applyDefaults(prev)).map(formatFieldError);

function deployment(spec: Partial<NonNullable<Deployment['spec']>> = {}): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'nginx' }] },
      },
      ...spec,
    },
  };
}

function service(spec: NonNullable<Service['spec']>, name = 'web'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec };
}

describe('deployments', () => {
  it('accepts a valid deployment', () => {
    expect(errorsOf(deployment())).toEqual([]);
  });

  it('requires a selector that matches the template labels', () => {
    expect(errorsOf(deployment({ selector: { matchLabels: { app: 'db' } } }))).toEqual([
      'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
    ]);
    expect(errorsOf(deployment({ selector: {} }))).toEqual([
      'spec.selector: Invalid value: {}: empty selector is invalid for deployment',
    ]);
  });

  it('requires template pods to restart Always', () => {
    const d = deployment();
    const template = {
      ...d.spec?.template,
      spec: { containers: [{ name: 'web', image: 'nginx' }], restartPolicy: 'Never' as const },
    };
    expect(errorsOf(deployment({ template }))).toEqual([
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]);
  });

  it('checks the rolling update bounds', () => {
    const strategy = (maxSurge: number | string, maxUnavailable: number | string) => ({
      type: 'RollingUpdate' as const,
      rollingUpdate: { maxSurge, maxUnavailable },
    });
    expect(errorsOf(deployment({ strategy: strategy(0, '0%') }))).toEqual([
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0',
    ]);
    expect(errorsOf(deployment({ strategy: strategy('x', '120%') }))).toEqual([
      expect.stringMatching(
        /^spec.strategy.rollingUpdate.maxSurge: Invalid value: "x": a valid percent string/,
      ),
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%',
    ]);
    expect(errorsOf(deployment({ strategy: { type: 'Recreate', rollingUpdate: {} } }))).toEqual([
      "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
    ]);
  });

  it('checks replicas and the progress deadline', () => {
    expect(errorsOf(deployment({ replicas: -1, minReadySeconds: 10, progressDeadlineSeconds: 5 }))).toEqual([
      'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      'spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds',
    ]);
  });

  it('keeps the selector immutable but lets the template change', () => {
    const changed = deployment({
      selector: { matchLabels: { app: 'web', tier: 'fe' } },
      template: {
        metadata: { labels: { app: 'web', tier: 'fe' } },
        spec: { containers: [{ name: 'web', image: 'nginx' }] },
      },
    });
    expect(updateErrors(changed, deployment())).toEqual([
      'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"fe"}}: field is immutable',
    ]);
    const newImage = deployment({
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'nginx:2' }] },
      },
    });
    expect(updateErrors(newImage, deployment())).toEqual([]);
  });

  it('checks status counts through the status subresource', () => {
    const d = applyDefaults(deployment());
    const next: Deployment = { ...d, status: { replicas: 1, readyReplicas: 2, availableReplicas: 2 } };
    expect(validateStatusUpdate(next, d).map(formatFieldError)).toEqual([
      'status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas',
      'status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas',
    ]);
  });
});

describe('services', () => {
  it('accepts ClusterIP, NodePort and headless services', () => {
    expect(errorsOf(service({ selector: { app: 'web' }, ports: [{ port: 80 }] }))).toEqual([]);
    expect(errorsOf(service({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))).toEqual([]);
    expect(errorsOf(service({ clusterIP: 'None', selector: { app: 'web' } }))).toEqual([]);
  });

  it('checks names, ports and types', () => {
    expect(
      errorsOf(
        service(
          {
            type: 'Magic' as 'ClusterIP',
            ports: [
              { port: 0 },
              { name: 'http', port: 80, nodePort: 30001 },
              { name: 'http', port: 80, protocol: 'TCP' },
            ],
          },
          '1web',
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^metadata.name: Invalid value: "1web": a DNS-1035 label must consist/),
      'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'spec.ports[0].name: Required value',
      'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[2].name: Duplicate value: "http"',
      'spec.ports[2]: Duplicate value: {"port":80,"protocol":"TCP"}',
    ]);
    expect(errorsOf(service({ ports: [{ port: 80, nodePort: 30080 }] }))).toEqual([
      "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    ]);
    expect(errorsOf(service({ type: 'NodePort', clusterIP: 'None', ports: [{ port: 80 }] }))).toEqual([
      'spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for NodePort services',
    ]);
    expect(errorsOf(service({ clusterIP: '10.0.0.300', ports: [{ port: 80 }] }))).toEqual([
      'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
  });

  it('keeps the cluster IP once set', () => {
    const prev = service({ clusterIP: '10.96.0.10', ports: [{ port: 80 }] });
    expect(updateErrors(service({ clusterIP: '10.96.0.11', ports: [{ port: 80 }] }), prev)).toEqual([
      'spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set',
    ]);
    expect(updateErrors(service({ clusterIP: '10.96.0.10', ports: [{ port: 8080 }] }), prev)).toEqual([]);
  });
});

describe('other kinds', () => {
  it('namespaces are DNS labels and take no namespace', () => {
    const ns: Namespace = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'my.ns', namespace: 'x' },
    };
    const errs = errorsOf(ns);
    expect(errs[0]).toMatch(/^metadata.name: Invalid value: "my.ns": a lowercase RFC 1123 label/);
    expect(errs[1]).toBe('metadata.namespace: Forbidden: not allowed on this type');
  });

  it('nodes: taints, CIDRs, and a pod CIDR that is set once', () => {
    const node = (podCIDRs: string[]): Node => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1' },
      spec: {
        podCIDRs,
        taints: [
          { key: 'a', effect: 'NoSchedule' },
          { key: 'a', effect: 'NoSchedule' },
          { key: 'b', effect: 'Never' as 'NoSchedule' },
        ],
      },
    });
    expect(errorsOf(node(['10.244.1.0/33']))).toEqual([
      'spec.podCIDRs[0]: Invalid value: "10.244.1.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      'spec.taints[1]: Duplicate value: "a:NoSchedule"',
      'spec.taints[2].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    ]);
    const ok = (cidrs: string[]): Node => ({ ...node(cidrs), spec: { podCIDRs: cidrs } });
    expect(updateErrors(ok(['10.244.2.0/24']), ok(['10.244.1.0/24']))).toEqual([
      'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
    ]);
    expect(updateErrors(ok(['10.244.1.0/24']), ok([]))).toEqual([]);
  });

  it('config maps and secrets: keys and immutability', () => {
    const cm = (data: Record<string, string>, immutable?: boolean): ConfigMap => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg', namespace: 'default' },
      data,
      ...(immutable === undefined ? {} : { immutable }),
    });
    expect(errorsOf(cm({ '..': 'x' }))[0]).toMatch(/^data: Invalid value: "..": /);
    expect(updateErrors(cm({ a: '2' }, true), cm({ a: '1' }, true))).toEqual([
      'data: Forbidden: field is immutable when `immutable` is set',
    ]);
    const secret: Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'default' },
      type: 'kubernetes.io/tls',
      data: {},
    };
    expect(errorsOf(secret)).toEqual(['data[tls.crt]: Required value', 'data[tls.key]: Required value']);
    const typed = (type: string): Secret => ({ ...secret, type });
    expect(updateErrors(typed('Opaque'), typed('example.com/other'))).toContain(
      'type: Invalid value: "Opaque": field is immutable',
    );
  });

  it('claims: storage is required and positive; the spec is fixed except a larger request', () => {
    type AccessModes = NonNullable<PersistentVolumeClaim['spec']>['accessModes'];
    const pvc = (storage: string, accessModes: AccessModes): PersistentVolumeClaim => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data', namespace: 'default' },
      spec: { accessModes, resources: { requests: { storage } } },
    });
    expect(errorsOf(pvc('0', []))).toEqual([
      'spec.accessModes: Required value: at least 1 access mode is required',
      'spec.resources.requests[storage]: Invalid value: "0": must be greater than zero',
    ]);
    expect(updateErrors(pvc('2Gi', ['ReadWriteOnce']), pvc('1Gi', ['ReadWriteOnce']))).toEqual([]);
    expect(updateErrors(pvc('1Gi', ['ReadWriteOnce']), pvc('2Gi', ['ReadWriteOnce']))).toEqual([
      'spec.resources.requests.storage: Forbidden: field can not be less than previous value',
    ]);
    expect(updateErrors(pvc('1Gi', ['ReadWriteMany']), pvc('1Gi', ['ReadWriteOnce']))).toEqual([
      'spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
    ]);
  });
});

describe('the 422 Status', () => {
  it('carries every error as a cause with its field path', () => {
    const d = applyDefaults(deployment({ replicas: -1, selector: {} }));
    const info = resourceForKind('apps/v1', 'Deployment');
    if (info === undefined) throw new Error('no deployments in the registry');
    const err = invalidObject(info, 'web', validateCreate(d));
    expect(err).toBeInstanceOf(StatusError);
    expect(err.status).toEqual({
      apiVersion: 'v1',
      kind: 'Status',
      metadata: {},
      status: 'Failure',
      message:
        'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Invalid value: {}: empty selector is invalid for deployment]',
      reason: 'Invalid',
      details: {
        name: 'web',
        group: 'apps',
        kind: 'Deployment',
        causes: [
          {
            reason: 'FieldValueInvalid',
            message: 'Invalid value: -1: must be greater than or equal to 0',
            field: 'spec.replicas',
          },
          {
            reason: 'FieldValueInvalid',
            message: 'Invalid value: {}: empty selector is invalid for deployment',
            field: 'spec.selector',
          },
        ],
      },
      code: 422,
    });
  });
});
