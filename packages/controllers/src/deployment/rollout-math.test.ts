import type { Deployment, ReplicaSet } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { deployment, replicaSet } from '../testing/objects.ts';
import {
  maxReplicasAnnotation,
  maxSurge,
  maxUnavailable,
  newReplicaSetSize,
  proportionalSizes,
  resolveFenceposts,
  scaledValue,
} from './rollout-math.ts';
import { sameTemplate, templateHash } from './template-hash.ts';

function rolling(replicas: number, surge: number | string, unavailable: number | string): Deployment {
  return deployment('d', {
    spec: {
      replicas,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } },
    },
  });
}

function set(
  name: string,
  replicas: number,
  extra: Partial<ReplicaSet['status']> = {},
  max?: number,
): ReplicaSet {
  const rs = replicaSet(name, {
    spec: { replicas },
    meta: {
      creationTimestamp: `2024-01-01T00:00:0${name.length}Z`,
      ...(max === undefined ? {} : { annotations: { [maxReplicasAnnotation]: String(max) } }),
    },
  });
  return { ...rs, status: { replicas, ...extra } };
}

describe('rollout arithmetic', () => {
  it('rounds percents up for maxSurge and down for maxUnavailable', () => {
    expect(scaledValue('25%', 10, true)).toBe(3);
    expect(scaledValue('25%', 10, false)).toBe(2);
    expect(scaledValue(4, 10, false)).toBe(4);
    expect(resolveFenceposts(rolling(3, '10%', '10%'))).toEqual([1, 0]);
    // Both zero would stall the rollout: maxUnavailable becomes 1.
    expect(resolveFenceposts(rolling(3, 0, '10%'))).toEqual([0, 1]);
    expect(maxUnavailable(rolling(2, 1, 5))).toBe(2);
    expect(maxSurge(deployment('d', { spec: { strategy: { type: 'Recreate' } } }))).toBe(0);
  });

  it('grows the new set only as far as maxSurge allows, counting pods still to be deleted', () => {
    const d = rolling(10, 3, 2);
    const old = set('old', 10);
    expect(newReplicaSetSize(d, [old], undefined)).toBe(3);
    const fresh = set('fresh', 3);
    expect(newReplicaSetSize(d, [set('old', 8), fresh], fresh)).toBe(5);
    // The old set was scaled to 8 but still has 10 pods: no room yet.
    expect(newReplicaSetSize(d, [set('old', 8, { replicas: 10 }), fresh], fresh)).toBe(3);
  });

  it('shares a scaling event in proportion, as in the Kubernetes documentation example', () => {
    // 10 replicas, maxSurge 3: the rollout stands at old 8 + new 5 when the Deployment goes to 15.
    const d = rolling(15, 3, 2);
    const sizes = proportionalSizes(d, [set('old', 8, {}, 13), set('newer', 5, {}, 13)]);
    expect(Object.fromEntries(sizes)).toEqual({ old: 11, newer: 7 });
    const down = proportionalSizes(rolling(5, 3, 2), [set('old', 8, {}, 13), set('newer', 5, {}, 13)]);
    expect([...down.values()].reduce((a, b) => a + b, 0)).toBe(8);
  });

  it('hashes templates stably, and compares them without the hash label', () => {
    const t = deployment('d').spec!.template;
    expect(templateHash(t, 0)).toBe(templateHash(structuredClone(t), 0));
    expect(templateHash(t, 0)).not.toBe(templateHash(t, 1));
    expect(templateHash(t, 0)).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    const labelled = { ...t, metadata: { labels: { ...t.metadata?.labels, 'pod-template-hash': 'x' } } };
    expect(sameTemplate(t, labelled)).toBe(true);
    expect(sameTemplate(t, { ...t, spec: { containers: [{ name: 'app', image: 'other' }] } })).toBe(false);
  });
});
