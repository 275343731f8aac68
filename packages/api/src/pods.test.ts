import { describe, expect, it } from 'vitest';
import { newEvent, objectReference } from './events.ts';
import { controllerOf, controllerRef, isControlledBy } from './owners.ts';
import { isPodActive, isPodAvailable, isPodReady, podRequests, withCondition } from './pods.ts';
import { formatQuantity } from './quantity.ts';
import type { ReplicaSet } from './types/apps.ts';
import type { Container, Pod, PodCondition } from './types/core.ts';

const now = Date.UTC(2024, 4, 1, 12, 0, 0);

function pod(conditions: PodCondition[] = []): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'shop', uid: 'p1' },
    spec: { containers: [] },
    status: { phase: 'Running', conditions },
  };
}

describe('pod conditions', () => {
  const ready: PodCondition = { type: 'Ready', status: 'True', lastTransitionTime: '2024-05-01T11:59:50Z' };
  it('reads readiness and availability after minReadySeconds', () => {
    expect(isPodReady(pod([ready]))).toBe(true);
    expect(isPodAvailable(pod([ready]), 5, now)).toBe(true);
    expect(isPodAvailable(pod([ready]), 30, now)).toBe(false);
    expect(isPodActive({ ...pod(), metadata: { deletionTimestamp: '2024-05-01T12:00:00Z' } })).toBe(false);
  });

  it('keeps the transition time while the status stays', () => {
    const same = withCondition([ready], {
      ...ready,
      lastTransitionTime: '2024-05-01T12:00:00Z',
      reason: 'x',
    });
    expect(same).toEqual([{ ...ready, reason: 'x' }]);
    const flipped = withCondition([ready], {
      type: 'Ready',
      status: 'False',
      lastTransitionTime: '2024-05-01T12:00:00Z',
    });
    expect(flipped[0]?.lastTransitionTime).toBe('2024-05-01T12:00:00Z');
    expect(withCondition([ready], { type: 'PodScheduled', status: 'True' })).toHaveLength(2);
  });
});

describe('pod requests', () => {
  const c = (name: string, cpu: string, restartPolicy?: 'Always'): Container => ({
    name,
    image: 'x',
    resources: { requests: { cpu, memory: '64Mi' } },
    ...(restartPolicy === undefined ? {} : { restartPolicy }),
  });
  it('is the larger of the containers and the largest init step, sidecars counted in both', () => {
    const r = podRequests({
      containers: [c('a', '100m'), c('b', '200m')],
      initContainers: [c('sidecar', '50m', 'Always'), c('migrate', '1')],
    });
    expect(formatQuantity(r.get('cpu') as never)).toBe('1050m'); // migrate runs next to the sidecar
    expect(formatQuantity(r.get('memory') as never)).toBe('192Mi'); // a + b + sidecar
    const small = podRequests({ containers: [c('a', '2')], initContainers: [c('init', '1')] });
    expect(formatQuantity(small.get('cpu') as never)).toBe('2');
  });
});

describe('owners and events', () => {
  const rs: ReplicaSet = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-7d9', namespace: 'shop', uid: 'rs1' },
    spec: { selector: {} },
  };
  it('marks and finds the controller', () => {
    const owned: Pod = { ...pod(), metadata: { ...pod().metadata, ownerReferences: [controllerRef(rs)] } };
    expect(controllerOf(owned)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: 'web-7d9',
      uid: 'rs1',
      controller: true,
      blockOwnerDeletion: true,
    });
    expect(isControlledBy(owned, rs)).toBe(true);
    expect(isControlledBy(pod(), rs)).toBe(false);
  });

  it('builds events as the recorder does', () => {
    const e = newEvent({
      involved: objectReference(pod()),
      type: 'Warning',
      reason: 'FailedScheduling',
      message: '0/3 nodes are available: 3 Insufficient cpu.',
      component: 'default-scheduler',
      host: '',
      nowMs: now,
    });
    expect(e).toEqual({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `web-1.${(BigInt(now) * 1_000_000n).toString(16)}`, namespace: 'shop' },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'p1' },
      reason: 'FailedScheduling',
      message: '0/3 nodes are available: 3 Insufficient cpu.',
      source: { component: 'default-scheduler' },
      firstTimestamp: '2024-05-01T12:00:00Z',
      lastTimestamp: '2024-05-01T12:00:00Z',
      count: 1,
      type: 'Warning',
      reportingComponent: 'default-scheduler',
      reportingInstance: '',
    });
  });
});
