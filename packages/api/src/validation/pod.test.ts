import { describe, expect, it } from 'vitest';
import { defaultPod } from '../defaults.ts';
import { formatFieldError, formatFieldErrors } from '../field-errors.ts';
import type { Container, Pod, PodSpec } from '../types/core.ts';
import { validateBinding, validatePod, validatePodUpdate } from './pod.ts';

function pod(spec: Partial<PodSpec>, name = 'web'): Pod {
  return defaultPod({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { containers: [{ name: 'web', image: 'nginx:1.25' }], ...spec },
  });
}

const messages = (p: Pod): string[] => validatePod(p).map(formatFieldError);

const container = (c: Partial<Container>): Container => ({ name: 'web', image: 'nginx:1.25', ...c });

describe('pod validation', () => {
  it('accepts a defaulted minimal pod', () => {
    expect(messages(pod({}))).toEqual([]);
  });

  it('names required container fields with exact paths', () => {
    expect(messages(pod({ containers: [{ name: '' }] }))).toEqual([
      'spec.containers[0].name: Required value',
      'spec.containers[0].image: Required value',
    ]);
    expect(messages(pod({ containers: [] }))).toEqual(['spec.containers: Required value']);
  });

  it('checks names, duplicates across init and app containers', () => {
    const errs = messages(
      pod({
        initContainers: [container({ name: 'setup' })],
        containers: [container({ name: 'setup' }), container({ name: 'Web_1' })],
      }),
    );
    expect(errs).toContain('spec.containers[0].name: Duplicate value: "setup"');
    expect(
      errs.some((e) =>
        e.startsWith('spec.containers[1].name: Invalid value: "Web_1": a lowercase RFC 1123 label'),
      ),
    ).toBe(true);
  });

  it('checks port ranges, protocols and port names', () => {
    const errs = messages(
      pod({
        containers: [
          container({
            ports: [
              { containerPort: 70000, protocol: 'TCP' },
              { containerPort: 80, protocol: 'HTTP' as 'TCP', name: 'http' },
              { containerPort: 81, protocol: 'TCP', name: 'http' },
              { containerPort: 82, protocol: 'TCP', name: 'very-long-port-name' },
            ],
          }),
        ],
      }),
    );
    expect(errs).toEqual([
      'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
      'spec.containers[0].ports[2].name: Duplicate value: "http"',
      'spec.containers[0].ports[3].name: Invalid value: "very-long-port-name": must be no more than 15 characters',
    ]);
  });

  it('requires requests to stay within limits, naming the resource in the path', () => {
    const errs = messages(
      pod({
        containers: [
          container({
            resources: { limits: { cpu: '1', memory: '128Mi' }, requests: { cpu: '1500m', memory: '1Gi' } },
          }),
        ],
      }),
    );
    expect(errs).toEqual([
      'spec.containers[0].resources.requests[cpu]: Invalid value: "1500m": must be less than or equal to cpu limit of 1',
      'spec.containers[0].resources.requests[memory]: Invalid value: "1Gi": must be less than or equal to memory limit of 128Mi',
    ]);
  });

  it('refuses negative quantities and unknown resource names', () => {
    const errs = messages(
      pod({ containers: [container({ resources: { limits: { cpu: '-1', gpu: '1' } } })] }),
    );
    expect(errs).toContain(
      'spec.containers[0].resources.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0',
    );
    expect(errs).toContain(
      'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers',
    );
  });

  it('checks probes: one handler, non-negative fields, success threshold 1 for liveness', () => {
    const errs = messages(
      pod({
        containers: [
          container({
            livenessProbe: { successThreshold: 2, periodSeconds: -1 },
            readinessProbe: { httpGet: { port: 0 }, tcpSocket: { port: 'http' } },
            startupProbe: { exec: { command: [] } },
          }),
        ],
      }),
    );
    expect(errs).toEqual([
      'spec.containers[0].livenessProbe: Required value: must specify a handler type',
      'spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0',
      'spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1',
      'spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type',
      'spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.containers[0].startupProbe.exec.command: Required value',
    ]);
  });

  it('checks restart and DNS policies', () => {
    expect(
      messages(pod({ restartPolicy: 'Sometimes' as 'Always', dnsPolicy: 'Google' as 'Default' })),
    ).toEqual([
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
      'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
    ]);
  });

  it('checks volumes and that mounts name one', () => {
    const errs = messages(
      pod({
        volumes: [
          { name: 'data', emptyDir: {}, hostPath: { path: '/x' } },
          { name: 'data', configMap: {} },
          { name: 'cfg' },
        ],
        containers: [
          container({
            volumeMounts: [
              { name: 'missing', mountPath: '/a' },
              { name: 'data', mountPath: '/a', subPath: '../up' },
            ],
          }),
        ],
      }),
    );
    expect(errs).toEqual([
      'spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type',
      'spec.volumes[1].name: Duplicate value: "data"',
      'spec.volumes[1].configMap.name: Required value',
      // A volume without a source defaults to emptyDir, so "cfg" is fine.
      'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
      'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique',
      'spec.containers[0].volumeMounts[1].subPath: Invalid value: "../up": must not contain \'..\'',
    ]);
  });

  it('checks env sources', () => {
    const errs = messages(
      pod({
        containers: [
          container({
            env: [
              { name: '1BAD', value: 'x' },
              { name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'B', valueFrom: {} },
              { name: 'C', valueFrom: { fieldRef: { fieldPath: 'spec.nope' } } },
            ],
            envFrom: [{}],
          }),
        ],
      }),
    );
    expect(errs[0]).toMatch(
      /^spec.containers\[0\].env\[0\].name: Invalid value: "1BAD": a valid environment variable name/,
    );
    expect(errs.slice(1)).toEqual([
      'spec.containers[0].env[1].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
      'spec.containers[0].env[2].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
      expect.stringMatching(
        /^spec.containers\[0\].env\[3\].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.nope"/,
      ),
      'spec.containers[0].envFrom[0]: Invalid value: "": must specify one of: `configMapRef` or `secretRef`',
    ]);
  });

  it('checks affinity and tolerations', () => {
    const errs = messages(
      pod({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: 'zone', operator: 'In' },
                    { key: 'cpu', operator: 'Gt', values: ['x'] },
                  ],
                },
              ],
            },
            preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: {} }],
          },
          podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: '' }] },
        },
        tolerations: [
          { operator: 'Equal', value: 'x' },
          { key: 'k', operator: 'Exists', value: 'v' },
          { key: 'k', effect: 'NoSchedule', tolerationSeconds: 5 },
        ],
      }),
    );
    expect(errs).toEqual([
      "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values[0]: Invalid value: \"x\": must be an integer when `operator` is 'Lt' or 'Gt'",
      'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100',
      'spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty',
      'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
      expect.stringMatching(
        /^spec.tolerations\[1\].operator: Invalid value: .*value must be empty when `operator` is 'Exists'$/,
      ),
      'spec.tolerations[2].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\' when `tolerationSeconds` is set',
    ]);
  });

  it('checks metadata: name, labels, annotations', () => {
    const p: Pod = {
      ...pod({}),
      metadata: { name: 'Web', namespace: 'default', labels: { 'a/b/c': 'x', ok: 'bad value' } },
    };
    const errs = messages(p);
    expect(errs[0]).toMatch(/^metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain/);
    expect(errs[1]).toMatch(/^metadata.labels: Invalid value: "a\/b\/c": a qualified name must consist/);
    expect(errs[2]).toMatch(
      /^metadata.labels: Invalid value: "bad value": a valid label must be an empty string/,
    );
    expect(messages({ ...pod({}), metadata: { namespace: 'default' } })).toEqual([
      'metadata.name: Required value: name or generateName is required',
    ]);
  });

  it('prints all problems as one Kubernetes-style message', () => {
    expect(formatFieldErrors(validatePod(pod({ containers: [{ name: '' }] })))).toBe(
      '[spec.containers[0].name: Required value, spec.containers[0].image: Required value]',
    );
  });
});

describe('pod updates', () => {
  const base = pod({
    containers: [container({ command: ['nginx'] })],
    tolerations: [{ key: 'a', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }],
    activeDeadlineSeconds: 100,
  });
  const withSpec = (spec: PodSpec): Pod => ({ ...base, spec });
  const spec = base.spec as PodSpec;

  it('allows images, a shorter deadline and added tolerations', () => {
    const next = withSpec({
      ...spec,
      containers: [container({ command: ['nginx'], image: 'nginx:1.26' })].map((c) => ({
        ...spec.containers[0],
        ...c,
      })),
      activeDeadlineSeconds: 50,
      tolerations: [
        ...(spec.tolerations ?? []).map((t) => ({ ...t, tolerationSeconds: 30 })),
        { key: 'b', operator: 'Exists' },
      ],
    });
    expect(validatePodUpdate(next, base).map(formatFieldError)).toEqual([]);
  });

  it('forbids any other spec change and says which field changed', () => {
    const next = withSpec({
      ...spec,
      containers: [{ ...(spec.containers[0] as Container), command: ['sh'] }],
    });
    const errs = validatePodUpdate(next, base);
    expect(errs).toHaveLength(1);
    expect(errs[0]?.field).toBe('spec');
    expect(formatFieldError(errs[0] as never)).toMatch(
      /^spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/,
    );
    expect(errs[0]?.detail).toContain('changed: spec.containers[0].command[0]');
  });

  it('forbids changing or removing tolerations, longer deadlines, and identity fields', () => {
    const next: Pod = {
      ...withSpec({ ...spec, tolerations: [], activeDeadlineSeconds: 200 }),
      metadata: { ...base.metadata, name: 'other' },
    };
    const fields = validatePodUpdate(next, base).map((e) => e.field);
    expect(fields).toEqual(['metadata.name', 'spec.activeDeadlineSeconds', 'spec.tolerations']);
  });

  it('forbids adding containers', () => {
    const next = withSpec({ ...spec, containers: [...spec.containers, container({ name: 'side' })] });
    expect(validatePodUpdate(next, base).map(formatFieldError)).toContain(
      'spec.containers: Forbidden: pod updates may not add or remove containers',
    );
  });
});

describe('binding', () => {
  it('needs a node name and only binds to nodes', () => {
    const errs = validateBinding({
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'web' },
      target: { kind: 'Pod' },
    });
    expect(errs.map(formatFieldError)).toEqual([
      'target.kind: Unsupported value: "Pod": supported values: "Node"',
      'target.name: Required value',
    ]);
  });
});
