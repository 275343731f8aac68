import { describe, expect, it } from 'vitest';
import { deploymentSchema } from '../schema/apps.ts';
import { nodeSchema, podSchema } from '../schema/core.ts';
import { PatchError } from './patch-error.ts';
import { applyStrategicMergePatch } from './strategic-merge-patch.ts';

type Obj = Record<string, unknown>;
const podSpec = (spec: Obj): Obj => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec });
const smp = (doc: Obj, patch: unknown): Obj => applyStrategicMergePatch(doc, patch, podSchema);
const specOf = (o: Obj): Obj => o.spec as Obj;

describe('strategic merge patch', () => {
  const base = podSpec({
    containers: [
      { name: 'web', image: 'nginx:1.25', ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }] },
      { name: 'side', image: 'busybox' },
    ],
    tolerations: [{ key: 'a', operator: 'Exists' }],
  });

  it('merges containers by name, leaving the others alone', () => {
    const out = smp(base, { spec: { containers: [{ name: 'web', image: 'nginx:1.26' }] } });
    expect(specOf(out).containers).toEqual([
      { name: 'web', image: 'nginx:1.26', ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }] },
      { name: 'side', image: 'busybox' },
    ]);
  });

  it('deletes list items with $patch: delete and fields with null', () => {
    const out = smp(base, {
      spec: {
        containers: [
          { name: 'side', $patch: 'delete' },
          { name: 'web', env: [{ name: 'A', $patch: 'delete' }], ports: null },
        ],
      },
    });
    expect(specOf(out).containers).toEqual([{ name: 'web', image: 'nginx:1.25', env: [] }]);
  });

  it('merges nested lists by their own keys (ports by containerPort, env by name)', () => {
    const out = smp(base, {
      spec: {
        containers: [
          {
            name: 'web',
            ports: [{ containerPort: 80, name: 'http' }, { containerPort: 443 }],
            env: [{ name: 'B', value: '2' }],
          },
        ],
      },
    });
    const web = (specOf(out).containers as Obj[])[0] as Obj;
    // Items new to the list come first, as Kubernetes orders a merge without $setElementOrder.
    expect(web.ports).toEqual([{ containerPort: 80, name: 'http' }, { containerPort: 443 }]);
    expect(web.env).toEqual([
      { name: 'B', value: '2' },
      { name: 'A', value: '1' },
    ]);
  });

  it('replaces lists without a merge strategy (tolerations)', () => {
    const out = smp(base, { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } });
    expect(specOf(out).tolerations).toEqual([{ key: 'b', operator: 'Exists' }]);
  });

  it('replaces a whole list with $patch: replace', () => {
    const out = smp(base, { spec: { containers: [{ name: 'only', image: 'x' }, { $patch: 'replace' }] } });
    expect(specOf(out).containers).toEqual([{ name: 'only', image: 'x' }]);
  });

  it('replaces a map with $patch: replace', () => {
    const doc = { ...base, metadata: { name: 'web', labels: { a: '1', b: '2' } } };
    const out = smp(doc, { metadata: { labels: { c: '3', $patch: 'replace' } } });
    expect((out.metadata as Obj).labels).toEqual({ c: '3' });
  });

  it('orders lists by $setElementOrder', () => {
    const out = smp(base, {
      spec: {
        $setElementOrder: undefined,
        '$setElementOrder/containers': [{ name: 'side' }, { name: 'web' }],
      },
    });
    expect((specOf(out).containers as Obj[]).map((c) => c.name)).toEqual(['side', 'web']);
  });

  it('treats finalizers as a set and deletes from it with $deleteFromPrimitiveList', () => {
    const doc = { ...base, metadata: { name: 'web', finalizers: ['a.io/x', 'b.io/y'] } };
    const added = smp(doc, { metadata: { finalizers: ['b.io/y', 'c.io/z'] } });
    expect((added.metadata as Obj).finalizers).toEqual(['a.io/x', 'b.io/y', 'c.io/z']);
    const removed = smp(doc, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.io/x'] } });
    expect((removed.metadata as Obj).finalizers).toEqual(['b.io/y']);
  });

  it('merges node pod CIDRs as a set but replaces taints', () => {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n' },
      spec: { podCIDRs: ['10.0.0.0/24'], taints: [{ key: 'a', effect: 'NoSchedule' }] },
    };
    const out = applyStrategicMergePatch(
      node,
      { spec: { taints: [{ key: 'b', effect: 'NoExecute' }] } },
      nodeSchema,
    );
    expect(out.spec).toEqual({ podCIDRs: ['10.0.0.0/24'], taints: [{ key: 'b', effect: 'NoExecute' }] });
  });

  it('refuses malformed directives and leaves the input untouched', () => {
    const snapshot = structuredClone(base);
    const cases: unknown[] = [
      { spec: { containers: [{ image: 'no-name' }] } },
      { spec: { containers: [{ name: 'web', $patch: 'explode' }] } },
      { spec: { $retainKeys: 'containers' } },
      [],
    ];
    for (const patch of cases) expect(() => smp(base, patch)).toThrow(PatchError);
    expect(base).toEqual(snapshot);
  });
});

describe('what kubectl sends', () => {
  // The live object and the patch `kubectl apply` (1.27 and 1.33 alike) sent for a
  // re-apply that removed a finalizer, a label, a container, a port and an env var,
  // switched the strategy to Recreate and the volume from emptyDir to hostPath.
  const lastApplied =
    '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"finalizers":["b.io/y"],"labels":{"app":"web"},"name":"web","namespace":"default"}}\n';
  const live: Obj = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      labels: { app: 'web', tier: 'fe' },
      finalizers: ['a.io/x', 'b.io/y'],
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"old":true}\n' },
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          volumes: [{ name: 'data', emptyDir: {} }],
          containers: [
            {
              name: 'web',
              image: 'nginx:1.25',
              ports: [{ containerPort: 80 }, { containerPort: 443 }],
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
            { name: 'side', image: 'busybox' },
          ],
        },
      },
    },
  };
  const patch = {
    metadata: {
      '$deleteFromPrimitiveList/finalizers': ['a.io/x'],
      '$setElementOrder/finalizers': ['b.io/y'],
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied },
      labels: { tier: null },
    },
    spec: {
      replicas: 3,
      strategy: { $retainKeys: ['type'], rollingUpdate: null, type: 'Recreate' },
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'log' }, { name: 'web' }],
          '$setElementOrder/volumes': [{ name: 'data' }],
          containers: [
            { image: 'fluent', name: 'log' },
            {
              '$setElementOrder/env': [{ name: 'B' }, { name: 'C' }],
              '$setElementOrder/ports': [{ containerPort: 443 }],
              env: [
                { name: 'C', value: '3' },
                { $patch: 'delete', name: 'A' },
              ],
              image: 'nginx:1.26',
              name: 'web',
              ports: [{ $patch: 'delete', containerPort: 80 }],
            },
            { $patch: 'delete', name: 'side' },
          ],
          volumes: [
            { $retainKeys: ['hostPath', 'name'], emptyDir: null, hostPath: { path: '/tmp' }, name: 'data' },
          ],
        },
      },
    },
  };

  it('applies the kubectl apply patch to what the manifest says', () => {
    const out = applyStrategicMergePatch(live, patch, deploymentSchema);
    expect(out).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'web',
        namespace: 'default',
        labels: { app: 'web' },
        finalizers: ['b.io/y'],
        // The annotation passes through byte for byte.
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied },
      },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        strategy: { type: 'Recreate' },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            volumes: [{ name: 'data', hostPath: { path: '/tmp' } }],
            containers: [
              { image: 'fluent', name: 'log' },
              {
                name: 'web',
                image: 'nginx:1.26',
                ports: [{ containerPort: 443 }],
                env: [
                  { name: 'B', value: '2' },
                  { name: 'C', value: '3' },
                ],
              },
            ],
          },
        },
      },
    });
  });

  it('applies `kubectl set image`, `rollout restart` and `rollout pause/resume`', () => {
    const image = applyStrategicMergePatch(
      live,
      {
        spec: {
          template: {
            spec: {
              '$setElementOrder/containers': [{ name: 'web' }, { name: 'side' }],
              containers: [{ image: 'nginx:2', name: 'web' }],
            },
          },
        },
      },
      deploymentSchema,
    );
    const containers = ((image.spec as Obj).template as Obj).spec as Obj;
    expect((containers.containers as Obj[]).map((c) => `${c.name}=${c.image}`)).toEqual([
      'web=nginx:2',
      'side=busybox',
    ]);
    const restart = applyStrategicMergePatch(
      live,
      {
        spec: {
          template: {
            metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T10:00:00Z' } },
          },
        },
      },
      deploymentSchema,
    );
    expect(((restart.spec as Obj).template as Obj).metadata).toEqual({
      labels: { app: 'web' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T10:00:00Z' },
    });
    const paused = applyStrategicMergePatch(live, { spec: { paused: true } }, deploymentSchema);
    expect((paused.spec as Obj).paused).toBe(true);
    const resumed = applyStrategicMergePatch(paused, { spec: { paused: null } }, deploymentSchema);
    expect(Object.hasOwn(resumed.spec as Obj, 'paused')).toBe(false);
  });
});
