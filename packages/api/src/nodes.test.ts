import { describe, expect, it } from 'vitest';
import {
  isNodeReady,
  matchesNodeSelectorTerm,
  podFitsNodeAffinity,
  taintControlPlane,
  toleratesTaint,
  tolerationSecondsFor,
  untoleratedTaints,
} from './nodes.ts';
import type { Node, Pod, Taint } from './types/core.ts';

const node: Node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'n1', labels: { zone: 'a', cores: '8', disk: 'ssd' } },
  spec: { taints: [{ key: taintControlPlane, effect: 'NoSchedule' }] },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
};

describe('taints and tolerations', () => {
  const taint: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  it('matches as Kubernetes does', () => {
    expect(toleratesTaint({ key: 'dedicated', operator: 'Equal', value: 'gpu' }, taint)).toBe(true);
    expect(toleratesTaint({ key: 'dedicated', value: 'gpu' }, taint)).toBe(true); // empty operator is Equal
    expect(toleratesTaint({ key: 'dedicated', value: 'cpu' }, taint)).toBe(false);
    expect(toleratesTaint({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, taint)).toBe(false);
    expect(toleratesTaint({ operator: 'Exists' }, taint)).toBe(true); // tolerates everything
  });

  it('finds the taints a pod does not tolerate, ignoring PreferNoSchedule', () => {
    const taints: Taint[] = [
      taint,
      { key: 'soft', effect: 'PreferNoSchedule' },
      { key: taintControlPlane, effect: 'NoSchedule' },
    ];
    expect(untoleratedTaints(taints, [{ key: 'dedicated', operator: 'Exists' }])).toEqual([
      { key: taintControlPlane, effect: 'NoSchedule' },
    ]);
  });

  it('says how long a pod may stay on a NoExecute taint', () => {
    const unreachable: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
    expect(tolerationSecondsFor(unreachable, [])).toBe(0);
    expect(
      tolerationSecondsFor(unreachable, [
        { key: unreachable.key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ]),
    ).toBe(300);
    expect(tolerationSecondsFor(unreachable, [{ operator: 'Exists' }])).toBeUndefined();
  });
});

describe('node affinity', () => {
  it('matches terms: expressions ANDed, Gt/Lt on integers, fields by name', () => {
    expect(
      matchesNodeSelectorTerm(
        {
          matchExpressions: [
            { key: 'zone', operator: 'In', values: ['a', 'b'] },
            { key: 'cores', operator: 'Gt', values: ['4'] },
          ],
        },
        node,
      ),
    ).toBe(true);
    expect(
      matchesNodeSelectorTerm({ matchExpressions: [{ key: 'cores', operator: 'Lt', values: ['4'] }] }, node),
    ).toBe(false);
    expect(
      matchesNodeSelectorTerm({ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, node),
    ).toBe(true);
    expect(
      matchesNodeSelectorTerm(
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
        node,
      ),
    ).toBe(true);
    expect(matchesNodeSelectorTerm({}, node)).toBe(false); // an empty term matches nothing
    expect(matchesNodeSelectorTerm({ matchExpressions: [{ key: 'zone', operator: 'In' }] }, node)).toBe(
      false,
    ); // invalid
  });

  it('combines nodeSelector with required affinity; terms are ORed', () => {
    const pod = (nodeSelector: Record<string, string>, zones: string[]): Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: {
        containers: [],
        nodeSelector,
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'zone', operator: 'In', values: zones }] },
                { matchExpressions: [{ key: 'disk', operator: 'In', values: ['nvme'] }] },
              ],
            },
          },
        },
      },
    });
    expect(podFitsNodeAffinity(pod({ disk: 'ssd' }, ['a']), node)).toBe(true);
    expect(podFitsNodeAffinity(pod({ disk: 'hdd' }, ['a']), node)).toBe(false);
    expect(podFitsNodeAffinity(pod({}, ['b']), node)).toBe(false);
    expect(isNodeReady(node)).toBe(true);
  });
});
