import { describe, expect, it } from 'vitest';
import { applyDefaults } from './defaults.ts';
import { resourceForKind } from './registry.ts';
import { StatusError } from './status.ts';
import {
  applyScale,
  bindPod,
  checkPreconditions,
  generateName,
  planDelete,
  podQOSClass,
  prepareForCreate,
  prepareForFinalize,
  prepareForStatusUpdate,
  prepareForUpdate,
  readyToRemove,
  scaleOf,
  validateDeleteOptions,
} from './strategy.ts';
import type { Deployment } from './types/apps.ts';
import type { Namespace, Pod, Service } from './types/core.ts';
import type { KubeObject } from './types/meta.ts';

const info = (apiVersion: string, kind: string) => {
  const r = resourceForKind(apiVersion, kind);
  if (r === undefined) throw new Error(`${kind} not registered`);
  return r;
};
const podInfo = info('v1', 'Pod');
const deployInfo = info('apps/v1', 'Deployment');
const ctx = { uid: 'uid-1', nowMs: Date.UTC(2024, 4, 1, 10, 0, 0), random: () => 0 };

function pod(extra: Partial<Pod> = {}): Pod {
  return applyDefaults<Pod>({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      containers: [{ name: 'web', image: 'nginx', resources: { limits: { cpu: '1', memory: '1Gi' } } }],
    },
    ...extra,
  });
}

function deployment(image: string): Deployment {
  return applyDefaults<Deployment>({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } },
    },
  });
}

describe('create and update', () => {
  it('sets system metadata and the initial status', () => {
    const created = prepareForCreate(
      podInfo,
      { ...pod(), metadata: { generateName: 'web-', namespace: 'default' }, status: { phase: 'Running' } },
      ctx,
    );
    expect(created.metadata).toEqual({
      generateName: 'web-',
      name: 'web-bbbbb',
      namespace: 'default',
      uid: 'uid-1',
      creationTimestamp: '2024-05-01T10:00:00Z',
    });
    expect(created.status).toEqual({ phase: 'Pending', qosClass: 'Guaranteed' });
    const d = prepareForCreate(deployInfo, deployment('nginx:1'), ctx);
    expect(d.metadata.generation).toBe(1);
    const ns = prepareForCreate(
      info('v1', 'Namespace'),
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } } as Namespace,
      ctx,
    );
    expect(ns.spec?.finalizers).toEqual(['kubernetes']);
  });

  it('generates names from the base, truncated to fit a DNS label', () => {
    let i = 0;
    const sequence = () => [0.1, 0.5, 0.9, 0.3, 0.7][i++ % 5] as number;
    expect(generateName('web-', sequence)).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(generateName('x'.repeat(70), () => 0)).toHaveLength(63);
  });

  it('bumps generation on spec change only, and keeps status on a main update', () => {
    const stored: Deployment = {
      ...prepareForCreate(deployInfo, deployment('nginx:1'), ctx),
      status: { replicas: 1 },
    };
    const relabeled: Deployment = {
      ...deployment('nginx:1'),
      metadata: { ...stored.metadata, labels: { a: 'b' } },
      status: {},
    };
    const sameSpec = prepareForUpdate(deployInfo, relabeled, stored);
    expect(sameSpec.metadata.generation).toBe(1);
    expect(sameSpec.status).toEqual({ replicas: 1 });
    const newImage = prepareForUpdate(
      deployInfo,
      { ...deployment('nginx:2'), metadata: stored.metadata },
      stored,
    );
    expect(newImage.metadata.generation).toBe(2);
    expect(newImage.metadata.uid).toBe('uid-1');
  });

  it('takes only status on a status update', () => {
    const stored = prepareForCreate(deployInfo, deployment('nginx:1'), ctx);
    const next: Deployment = {
      ...deployment('nginx:9'),
      metadata: { ...stored.metadata, labels: { hacked: 'yes' } },
      status: { replicas: 3, readyReplicas: 2 },
    };
    const out = prepareForStatusUpdate(next, stored);
    expect(out.spec).toEqual(stored.spec);
    expect(out.metadata).toEqual(stored.metadata);
    expect(out.status).toEqual({ replicas: 3, readyReplicas: 2 });
  });

  it('keeps an allocated cluster IP and node ports when an update leaves them out', () => {
    const svcInfo = info('v1', 'Service');
    const stored: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's' },
      spec: {
        type: 'NodePort',
        clusterIP: '10.96.0.5',
        clusterIPs: ['10.96.0.5'],
        ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }],
      },
    };
    const out = prepareForUpdate(
      svcInfo,
      { ...stored, spec: { type: 'NodePort', ports: [{ port: 80, protocol: 'TCP' }] } },
      stored,
    );
    expect(out.spec).toEqual(stored.spec);
  });
});

describe('subresources', () => {
  it('reads and writes scale', () => {
    const d = {
      ...deployment('nginx'),
      metadata: { name: 'web', namespace: 'default', resourceVersion: '7' },
      status: { replicas: 1 },
    };
    expect(scaleOf(d)).toEqual({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: 'web', namespace: 'default', resourceVersion: '7' },
      spec: { replicas: 1 },
      status: { replicas: 1, selector: 'app=web' },
    });
    expect(
      applyScale(d, { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: {}, spec: { replicas: 0 } }).spec
        ?.replicas,
    ).toBe(0);
  });

  it('binds a pod once, setting PodScheduled', () => {
    const binding = {
      apiVersion: 'v1' as const,
      kind: 'Binding' as const,
      metadata: { name: 'web' },
      target: { kind: 'Node', name: 'n1' },
    };
    const bound = bindPod(podInfo, pod(), binding, ctx.nowMs);
    expect(bound.spec?.nodeName).toBe('n1');
    expect(bound.status?.conditions).toEqual([
      { type: 'PodScheduled', status: 'True', lastTransitionTime: '2024-05-01T10:00:00Z' },
    ]);
    let err: unknown;
    try {
      bindPod(podInfo, bound, binding, ctx.nowMs);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).status).toMatchObject({
      code: 409,
      message: 'Operation cannot be fulfilled on pods "web": pod web is already assigned to node "n1"',
    });
  });
});

describe('deletion', () => {
  const now = ctx.nowMs;
  const scheduled = pod({
    spec: { nodeName: 'n1', terminationGracePeriodSeconds: 20, containers: [{ name: 'c', image: 'x' }] },
  });

  it('gives a running pod its grace period, and only lets a later delete shorten it', () => {
    const plan = planDelete(scheduled, {}, now);
    expect(plan.kind).toBe('mark');
    const marked = (plan as { object: KubeObject }).object;
    expect(marked.metadata).toMatchObject({
      deletionTimestamp: '2024-05-01T10:00:20Z',
      deletionGracePeriodSeconds: 20,
    });
    expect(planDelete(marked, { gracePeriodSeconds: 60 }, now + 1000).kind).toBe('unchanged');
    const shorter = planDelete(marked, { gracePeriodSeconds: 5 }, now + 1000);
    expect((shorter as { object: KubeObject }).object.metadata.deletionGracePeriodSeconds).toBe(5);
    expect(planDelete(marked, { gracePeriodSeconds: 0 }, now + 1000)).toEqual({ kind: 'remove' });
  });

  it('removes unscheduled pods and other objects at once', () => {
    expect(planDelete(pod(), {}, now)).toEqual({ kind: 'remove' });
    expect(planDelete(deployment('x'), {}, now)).toEqual({ kind: 'remove' });
  });

  it('marks objects with finalizers, adding the propagation finalizer', () => {
    const d = deployment('x');
    const fg = planDelete(d, { propagationPolicy: 'Foreground' }, now);
    expect(fg.kind === 'mark' && fg.object.metadata).toMatchObject({
      finalizers: ['foregroundDeletion'],
      deletionTimestamp: '2024-05-01T10:00:00Z',
      deletionGracePeriodSeconds: 0,
    });
    const orphan = planDelete(
      { ...d, metadata: { ...d.metadata, finalizers: ['example.com/keep'] } },
      { orphanDependents: true },
      now,
    );
    expect(orphan.kind === 'mark' && orphan.object.metadata.finalizers).toEqual([
      'example.com/keep',
      'orphan',
    ]);
    const marked = (finalizers: string[]) => ({
      ...d,
      metadata: { ...d.metadata, deletionTimestamp: 'x', finalizers },
    });
    expect(readyToRemove(marked([]))).toBe(true);
    expect(readyToRemove(marked(['a']))).toBe(false);
  });

  it('marks a namespace Terminating until its spec finalizers are gone', () => {
    const nsInfo = info('v1', 'Namespace');
    const ns = prepareForCreate(
      nsInfo,
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } } as Namespace,
      ctx,
    );
    const plan = planDelete(ns, {}, now);
    expect(plan.kind).toBe('mark');
    const terminating = (plan as { object: Namespace }).object;
    expect(terminating.status?.phase).toBe('Terminating');
    expect(readyToRemove(terminating)).toBe(false);
    const finalized = prepareForFinalize(
      { ...terminating, spec: {}, metadata: { ...terminating.metadata, labels: { x: 'y' } } },
      terminating,
    );
    expect(finalized.metadata).toEqual(terminating.metadata); // only spec.finalizers is taken
    expect(readyToRemove(finalized)).toBe(true);
  });

  it('checks options and preconditions', () => {
    expect(
      validateDeleteOptions({
        orphanDependents: true,
        propagationPolicy: 'Background',
        dryRun: ['Some'],
      }).map((e) => e.field),
    ).toEqual(['propagationPolicy', 'dryRun[0]']);
    const stored = { ...scheduled, metadata: { ...scheduled.metadata, uid: 'u1', resourceVersion: '5' } };
    expect(
      checkPreconditions(podInfo, stored, { preconditions: { uid: 'u1', resourceVersion: '5' } }),
    ).toBeUndefined();
    expect(
      checkPreconditions(podInfo, stored, { preconditions: { resourceVersion: '4' } })?.status.message,
    ).toBe(
      'Operation cannot be fulfilled on pods "web": Precondition failed: ResourceVersion in precondition: 4, ResourceVersion in object meta: 5',
    );
  });
});

describe('QoS class', () => {
  const withResources = (resources: object): Pod['spec'] => ({
    containers: [{ name: 'c', image: 'x', resources }],
  });
  it('is Guaranteed, Burstable or BestEffort as Kubernetes decides', () => {
    expect(podQOSClass(withResources({}))).toBe('BestEffort');
    expect(podQOSClass(withResources({ requests: { cpu: '1' } }))).toBe('Burstable');
    expect(
      podQOSClass(
        withResources({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } }),
      ),
    ).toBe('Guaranteed');
    expect(
      podQOSClass(
        withResources({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m', memory: '1Gi' } }),
      ),
    ).toBe('Burstable');
    expect(podQOSClass(withResources({ limits: { cpu: '1' }, requests: { cpu: '1' } }))).toBe('Burstable');
  });
});
