import type { Affinity, Node, Pod, PodSpec, ResourceList, Taint } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { node, pod } from '../testing/objects.ts';
import { failureMessage, filter, preFilter, reasons, untoleratedTaint } from './filters.ts';
import { podInfoOf } from './pod-info.ts';
import { SchedulerCache } from './scheduler-cache.ts';

/** A cache with `nodes`, and `placed` pods bound where their spec.nodeName says. */
function cluster(nodes: Node[], placed: Pod[] = []): SchedulerCache {
  const cache = new SchedulerCache();
  for (const n of nodes) cache.setNode(n);
  for (const p of placed) cache.setBoundPod(p);
  return cache;
}

/** The reasons each node gives for `incoming`, by node name ('' when it fits). */
function verdicts(cache: SchedulerCache, incoming: Pod): Record<string, string> {
  const state = preFilter(cache, podInfoOf(incoming));
  return Object.fromEntries(cache.nodes.map((n) => [n.name, filter(state, n).join('; ')]));
}

const requesting = (name: string, requests: ResourceList, spec: Partial<PodSpec> = {}) =>
  pod(name, { requests, spec });
const on = (p: Pod, nodeName: string): Pod => ({ ...p, spec: { ...p.spec!, nodeName } });
const zoned = (name: string, zone: string, extra: Parameters<typeof node>[1] = {}) =>
  node(name, { ...extra, labels: { 'topology.kubernetes.io/zone': zone, ...extra.labels } });

describe('scheduler filters', () => {
  it('NodeUnschedulable: a cordoned node takes only pods that tolerate it', () => {
    const cache = cluster([node('n1', { unschedulable: true }), node('n2')]);
    expect(verdicts(cache, pod('p'))).toEqual({ n1: reasons.unschedulable, n2: '' });
    const tolerant = pod('t', {
      spec: {
        tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }],
      },
    });
    expect(verdicts(cache, tolerant).n1).toBe('');
  });

  it('NodeName: a pod naming a node fits only there', () => {
    const cache = cluster([node('n1'), node('n2')]);
    expect(verdicts(cache, pod('p', { spec: { nodeName: 'n2' } }))).toEqual({ n1: reasons.nodeName, n2: '' });
  });

  it('TaintToleration: the control-plane taint keeps ordinary pods off unless tolerated', () => {
    const controlPlane: Taint = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };
    const gpu: Taint = { key: 'gpu', value: 'a100', effect: 'NoExecute' };
    const soft: Taint = { key: 'spot', effect: 'PreferNoSchedule' };
    const cache = cluster([
      node('cp', { taints: [controlPlane] }),
      node('gpu', { taints: [gpu] }),
      node('spot', { taints: [soft] }),
    ]);
    expect(verdicts(cache, pod('p'))).toEqual({
      cp: 'node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }',
      gpu: 'node(s) had untolerated taint {gpu: a100}',
      spot: '',
    });
    const tolerant = pod('t', {
      spec: {
        tolerations: [
          { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
          { key: 'gpu', operator: 'Equal', value: 'a100' },
        ],
      },
    });
    expect(verdicts(cache, tolerant)).toEqual({ cp: '', gpu: '', spot: '' });
    expect(untoleratedTaint(gpu)).toBe('node(s) had untolerated taint {gpu: a100}');
  });

  it('NodeAffinity: nodeSelector and required node affinity (In, NotIn, Gt, matchFields)', () => {
    const cache = cluster([
      node('a', { labels: { disk: 'ssd', cores: '16' } }),
      node('b', { labels: { disk: 'hdd', cores: '64' } }),
      node('c', { labels: { cores: '4' } }),
    ]);
    expect(verdicts(cache, pod('p', { spec: { nodeSelector: { disk: 'ssd' } } }))).toEqual({
      a: '',
      b: reasons.nodeAffinity,
      c: reasons.nodeAffinity,
    });
    const affinity: Affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: 'cores', operator: 'Gt', values: ['8'] },
                { key: 'disk', operator: 'NotIn', values: ['hdd'] },
              ],
            },
            { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['c'] }] },
          ],
        },
      },
    };
    expect(verdicts(cache, pod('q', { spec: { affinity } }))).toEqual({
      a: '',
      b: reasons.nodeAffinity,
      c: '',
    });
  });

  it('NodeAffinity answers nodes that agree on the labels it reads alike (and absent labels apart)', () => {
    const nodes = ['a', 'b', 'c', 'a', 'b', undefined].map((zone, i) =>
      node(`n${i}`, { labels: { ...(zone === undefined ? {} : { zone }), rack: `r${i}` } }),
    );
    const notB: Affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['b'] }] }],
        },
      },
    };
    const v = verdicts(cluster(nodes), pod('p', { spec: { affinity: notB, nodeSelector: {} } }));
    expect(
      Object.entries(v)
        .filter(([, why]) => why === '')
        .map(([n]) => n),
    ).toEqual(['n0', 'n2', 'n3', 'n5']);
    const inA = pod('q', { spec: { nodeSelector: { zone: 'a' } } });
    expect(
      Object.entries(verdicts(cluster(nodes), inA))
        .filter(([, why]) => why === '')
        .map(([n]) => n),
    ).toEqual(['n0', 'n3']);
  });

  it('NodePorts: a host port in use on a node rules that node out', () => {
    const withPort = (name: string, hostPort: number, hostIP?: string) =>
      pod(name, {
        spec: {
          containers: [
            {
              name: 'app',
              image: 'busybox:1.36',
              ports: [{ containerPort: 80, hostPort, ...(hostIP === undefined ? {} : { hostIP }) }],
            },
          ],
        },
      });
    const cache = cluster([node('n1'), node('n2')], [on(withPort('web', 8080), 'n1')]);
    expect(verdicts(cache, withPort('p', 8080))).toEqual({ n1: reasons.hostPorts, n2: '' });
    expect(verdicts(cache, withPort('q', 8081)).n1).toBe('');
    expect(verdicts(cache, withPort('r', 8080, '127.0.0.1')).n1).toBe(reasons.hostPorts);
  });

  it('NodeResourcesFit: cpu, memory, pod count and extended resources against what is left', () => {
    const cache = cluster(
      [
        node('small', { allocatable: { cpu: '1', memory: '1Gi', pods: '2' } }),
        node('busy', { allocatable: { cpu: '4', memory: '8Gi', pods: '1' } }),
        node('big', { allocatable: { cpu: '8', memory: '16Gi', pods: '110', 'example.com/gpu': '1' } }),
      ],
      [on(requesting('x', { cpu: '500m', memory: '512Mi' }), 'small'), on(pod('y'), 'busy')],
    );
    expect(verdicts(cache, requesting('p', { cpu: '600m', memory: '600Mi' }))).toEqual({
      small: 'Insufficient cpu; Insufficient memory',
      busy: reasons.tooManyPods,
      big: '',
    });
    expect(verdicts(cache, requesting('g', { 'example.com/gpu': '2' })).big).toBe(
      'Insufficient example.com/gpu',
    );
  });

  it('NodeResourcesFit counts pods assumed but not yet bound', () => {
    const cache = cluster([node('n', { allocatable: { cpu: '2', memory: '4Gi', pods: '110' } })]);
    cache.assume(podInfoOf(requesting('a', { cpu: '1500m' })), 'n');
    expect(verdicts(cache, requesting('b', { cpu: '1' })).n).toBe('Insufficient cpu');
    cache.forget('default/a');
    expect(verdicts(cache, requesting('b', { cpu: '1' })).n).toBe('');
  });

  const zones = [zoned('a1', 'a'), zoned('a2', 'a'), zoned('b1', 'b'), node('bare')];

  it('InterPodAffinity: required affinity follows matching pods to their topology domain', () => {
    const db = on(pod('db', { labels: { app: 'db' } }), 'a1');
    const cache = cluster(zones, [db]);
    const affinity: Affinity = {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'topology.kubernetes.io/zone' },
        ],
      },
    };
    expect(verdicts(cache, pod('web', { spec: { affinity } }))).toEqual({
      a1: '',
      a2: '',
      b1: reasons.podAffinity,
      bare: reasons.podAffinity,
    });
    // The first pod of a group with affinity to its own kind may go anywhere with the key.
    const self: Affinity = {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: 'cache' } }, topologyKey: 'topology.kubernetes.io/zone' },
        ],
      },
    };
    expect(verdicts(cache, pod('c', { labels: { app: 'cache' }, spec: { affinity: self } }))).toEqual({
      a1: '',
      a2: '',
      b1: '',
      bare: reasons.podAffinity,
    });
  });

  it('InterPodAffinity: required anti-affinity, both the pod’s own and existing pods’', () => {
    const spread: Affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' },
        ],
      },
    };
    const placed = on(pod('web-1', { labels: { app: 'web' }, spec: { affinity: spread } }), 'a1');
    const cache = cluster(zones, [placed]);
    expect(verdicts(cache, pod('web-2', { labels: { app: 'web' }, spec: { affinity: spread } }))).toEqual({
      a1: reasons.podAntiAffinity,
      a2: '',
      b1: '',
      bare: '',
    });
    // A pod without affinity of its own is still kept away by the placed pod's term.
    expect(verdicts(cache, pod('plain', { labels: { app: 'web' } })).a1).toBe(reasons.existingAntiAffinity);
    expect(verdicts(cache, pod('other', { labels: { app: 'api' } })).a1).toBe('');
    // The pod's own anti-affinity against a zone.
    const awayFromDb: Affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'topology.kubernetes.io/zone' },
        ],
      },
    };
    const withDb = cluster(zones, [on(pod('db', { labels: { app: 'db' } }), 'a2')]);
    expect(verdicts(withDb, pod('x', { spec: { affinity: awayFromDb } }))).toEqual({
      a1: reasons.podAntiAffinity,
      a2: reasons.podAntiAffinity,
      b1: '',
      bare: '',
    });
  });

  it('keeps affinity counts right as pods come and go after a term was first asked about', () => {
    const cache = cluster(zones);
    const spread: Affinity = {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' },
        ],
      },
    };
    const incoming = pod('w', { labels: { app: 'other' }, spec: { affinity: spread } });
    expect(verdicts(cache, incoming).a1).toBe('');
    cache.setBoundPod(on(pod('web-1', { labels: { app: 'web' } }), 'a1'));
    expect(verdicts(cache, incoming).a1).toBe(reasons.podAntiAffinity);
    cache.removePod('default/web-1');
    expect(verdicts(cache, incoming).a1).toBe('');
  });

  it('explains a pod that fits nowhere the way Kubernetes does', () => {
    const controlPlane: Taint = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };
    const cache = cluster([
      node('cp', { taints: [controlPlane] }),
      node('w1', { allocatable: { cpu: '1', memory: '1Gi', pods: '10' } }),
      node('w2', { allocatable: { cpu: '1', memory: '1Gi', pods: '10' } }),
    ]);
    const state = preFilter(cache, podInfoOf(requesting('big', { cpu: '2' })));
    const why = new Map(cache.nodes.map((n) => [n.name, filter(state, n)]));
    expect(failureMessage(3, why)).toBe(
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.',
    );
  });
});
