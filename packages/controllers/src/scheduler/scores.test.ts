import {
  controllerRef,
  type Node,
  type Pod,
  type PodSpec,
  type ReplicaSet,
  type ResourceList,
} from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { node, pod, replicaSet } from '../testing/objects.ts';
import { filter, preFilter } from './filters.ts';
import { podInfoOf } from './pod-info.ts';
import { SchedulerCache } from './scheduler-cache.ts';
import { type ScoreWeights, scoreNodes } from './scores.ts';

const none: ScoreWeights = {
  leastAllocated: 0,
  balancedAllocation: 0,
  nodeAffinity: 0,
  taintToleration: 0,
  interPodAffinity: 0,
  selectorSpread: 0,
};

/** Weighted scores of the feasible nodes for `incoming`, by node name, with only `only` counting. */
function scores(
  nodes: Node[],
  placed: Pod[],
  incoming: Pod,
  only: Partial<ScoreWeights>,
): Record<string, number> {
  const cache = new SchedulerCache();
  for (const n of nodes) cache.setNode(n);
  for (const p of placed) cache.setBoundPod(p);
  const state = preFilter(cache, podInfoOf(incoming));
  const feasible = cache.nodes.filter((n) => filter(state, n).length === 0);
  const s = scoreNodes(state, feasible, cache, { ...none, ...only });
  return Object.fromEntries(feasible.map((n, i) => [n.name, Math.round(s[i] ?? 0)]));
}

const on = (p: Pod, nodeName: string): Pod => ({ ...p, spec: { ...p.spec!, nodeName } });
const requesting = (name: string, requests: ResourceList, spec: Partial<PodSpec> = {}) =>
  pod(name, { requests, spec });
const big = { cpu: '4', memory: '8Gi', pods: '110' };

/** The node the scores put first. */
const best = (s: Record<string, number>) => Object.entries(s).sort((a, b) => b[1] - a[1])[0]?.[0];

describe('scheduler scores', () => {
  it('LeastAllocated prefers the node with the most room left', () => {
    const s = scores(
      [node('full', { allocatable: big }), node('empty', { allocatable: big })],
      [on(requesting('x', { cpu: '3', memory: '6Gi' }), 'full')],
      requesting('p', { cpu: '1', memory: '1Gi' }),
      { leastAllocated: 1 },
    );
    expect(s.empty).toBeGreaterThan(s.full ?? 0);
    // (4-1)/4 and (8-1)/8 of 100, averaged.
    expect(s.empty).toBe(Math.floor((75 + 87.5) / 2));
  });

  it('BalancedAllocation prefers the node where cpu and memory stay in step', () => {
    const s = scores(
      [node('cpu-heavy', { allocatable: big }), node('even', { allocatable: big })],
      [
        on(requesting('x', { cpu: '3', memory: '1Gi' }), 'cpu-heavy'),
        on(requesting('y', { cpu: '2', memory: '4Gi' }), 'even'),
      ],
      requesting('p', { cpu: '500m', memory: '1Gi' }),
      { balancedAllocation: 1 },
    );
    expect(best(s)).toBe('even');
  });

  it('NodeAffinity adds the weights of the preferred terms that match', () => {
    const preferSsd: Partial<PodSpec> = {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 80,
              preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] },
            },
            {
              weight: 20,
              preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] },
            },
          ],
        },
      },
    };
    const s = scores(
      [
        node('ssd-a', { labels: { disk: 'ssd', zone: 'a' } }),
        node('hdd-b', { labels: { disk: 'hdd', zone: 'b' } }),
        node('none'),
      ],
      [],
      pod('p', { spec: preferSsd }),
      { nodeAffinity: 1 },
    );
    expect(s).toEqual({ 'ssd-a': 100, 'hdd-b': 25, none: 0 });
  });

  it('TaintToleration avoids PreferNoSchedule taints the pod does not tolerate', () => {
    const s = scores(
      [node('spot', { taints: [{ key: 'spot', effect: 'PreferNoSchedule' }] }), node('plain')],
      [],
      pod('p'),
      { taintToleration: 1 },
    );
    expect(s).toEqual({ spot: 0, plain: 100 });
    const tolerant = pod('t', { spec: { tolerations: [{ key: 'spot', operator: 'Exists' }] } });
    expect(
      scores(
        [node('spot', { taints: [{ key: 'spot', effect: 'PreferNoSchedule' }] }), node('plain')],
        [],
        tolerant,
        { taintToleration: 1 },
      ),
    ).toEqual({
      spot: 100,
      plain: 100,
    });
  });

  it('SelectorSpread spreads a controller’s pods across nodes', () => {
    const rs: ReplicaSet = {
      ...replicaSet('web'),
      metadata: { name: 'web', namespace: 'default', uid: 'rs-uid' },
    };
    const mine = (name: string) => pod(name, { meta: { ownerReferences: [controllerRef(rs)] } });
    const s = scores(
      [node('n1'), node('n2'), node('n3')],
      [on(mine('a'), 'n1'), on(mine('b'), 'n1'), on(mine('c'), 'n2')],
      mine('d'),
      {
        selectorSpread: 1,
      },
    );
    expect(best(s)).toBe('n3');
    expect(s.n1).toBe(0);
  });

  it('InterPodAffinity weighs preferred affinity and anti-affinity by matching pods in the domain', () => {
    const zone = (name: string, z: string) => node(name, { labels: { zone: z } });
    const incoming = pod('p', {
      spec: {
        affinity: {
          podAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 10,
                podAffinityTerm: { labelSelector: { matchLabels: { app: 'cache' } }, topologyKey: 'zone' },
              },
            ],
          },
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 50,
                podAffinityTerm: { labelSelector: { matchLabels: { app: 'noisy' } }, topologyKey: 'zone' },
              },
            ],
          },
        },
      },
    });
    const s = scores(
      [zone('a1', 'a'), zone('b1', 'b'), zone('c1', 'c')],
      [
        on(pod('cache', { labels: { app: 'cache' } }), 'a1'),
        on(pod('noisy', { labels: { app: 'noisy' } }), 'b1'),
      ],
      incoming,
      { interPodAffinity: 1 },
    );
    expect(s).toEqual({ a1: 100, b1: 0, c1: Math.round((50 * 100) / 60) });
  });
});
