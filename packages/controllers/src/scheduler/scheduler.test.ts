import { type Event, type Node, type Pod, podCondition } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { eventsResource, nodesResource, podsResource } from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { node, pod } from '../testing/objects.ts';
import { waitFor } from '../testing/wait.ts';
import { feasibleNodesToFind, Scheduler } from './scheduler.ts';

let h: Harness;
let scheduler: Scheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  await h.stop();
});

async function start(options: ConstructorParameters<typeof Scheduler>[1] = {}): Promise<void> {
  scheduler = new Scheduler(h.ctx, { podInitialBackoffMs: 20, podMaxBackoffMs: 100, ...options });
  h.informers.start();
  await h.informers.whenSynced();
  scheduler.start();
}

const nodeOf = async (name: string) => (await h.api.resource<Pod>(podsResource).get(name)).spec?.nodeName;

describe('Scheduler', () => {
  it('binds pods within capacity, counting the ones it has placed but not yet seen bound', async () => {
    h = new Harness();
    await h.api
      .resource<Node>(nodesResource)
      .create(node('n1', { allocatable: { cpu: '2', memory: '4Gi', pods: '110' } }));
    await start();
    for (const n of ['a', 'b', 'c'])
      await h.api.resource<Pod>(podsResource).create(pod(n, { requests: { cpu: '1' } }));
    await waitFor(
      'two bound',
      async () =>
        (await h.api.resource<Pod>(podsResource).list()).items.filter((p) => p.spec?.nodeName).length === 2,
    );
    await new Promise((r) => setTimeout(r, 100));
    const bound = (await h.api.resource<Pod>(podsResource).list()).items.filter((p) => p.spec?.nodeName);
    expect(bound).toHaveLength(2);
    expect(bound.every((p) => podCondition(p, 'PodScheduled')?.status === 'True')).toBe(true);
  });

  it('reports an unschedulable pod with reasons, and schedules it once a node can take it', async () => {
    h = new Harness();
    const nodes = h.api.resource<Node>(nodesResource);
    await nodes.create(
      node('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }),
    );
    await nodes.create(node('w1', { allocatable: { cpu: '1', memory: '4Gi', pods: '110' } }));
    await nodes.create(node('w2', { allocatable: { cpu: '1', memory: '4Gi', pods: '110' } }));
    await start();
    await h.api.resource<Pod>(podsResource).create(pod('big', { requests: { cpu: '2' } }));
    const message =
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.';
    const event = await waitFor('FailedScheduling event', () =>
      h.api
        .objects<Event>(eventsResource)
        .find((e) => e.reason === 'FailedScheduling' && e.involvedObject.name === 'big'),
    );
    expect(event).toMatchObject({ type: 'Warning', message, source: { component: 'default-scheduler' } });
    const pending = await waitFor('condition', async () => {
      const c = podCondition(await h.api.resource<Pod>(podsResource).get('big'), 'PodScheduled');
      return c?.status === 'False' ? c : undefined;
    });
    expect(pending).toMatchObject({ reason: 'Unschedulable', message });
    await nodes.create(node('w3', { allocatable: { cpu: '4', memory: '4Gi', pods: '110' } }));
    await waitFor('scheduled on w3', async () => (await nodeOf('big')) === 'w3');
    expect(
      h.api
        .objects<Event>(eventsResource)
        .some((e) => e.reason === 'Scheduled' && e.message?.endsWith('to w3')),
    ).toBe(true);
  });

  it('takes higher-priority pods first', async () => {
    h = new Harness();
    await h.api
      .resource<Node>(nodesResource)
      .create(node('n1', { allocatable: { cpu: '1', memory: '4Gi', pods: '110' } }));
    const pods = h.api.resource<Pod>(podsResource);
    await pods.create(pod('low', { requests: { cpu: '1' }, spec: { priority: 0 } }));
    await pods.create(pod('high', { requests: { cpu: '1' }, spec: { priority: 1000 } }));
    await start();
    await waitFor(
      'one bound',
      async () => (await nodeOf('high')) !== undefined || (await nodeOf('low')) !== undefined,
    );
    expect(await nodeOf('high')).toBe('n1');
    expect(await nodeOf('low')).toBeUndefined();
  });

  it('spreads replicas of one controller across nodes', async () => {
    h = new Harness();
    for (const n of ['n1', 'n2', 'n3']) await h.api.resource<Node>(nodesResource).create(node(n));
    await start();
    const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'u1', controller: true };
    for (let i = 0; i < 6; i++)
      await h.api.resource<Pod>(podsResource).create(pod(`web-${i}`, { meta: { ownerReferences: [owner] } }));
    await waitFor('all bound', async () =>
      (await h.api.resource<Pod>(podsResource).list()).items.every((p) => p.spec?.nodeName),
    );
    const perNode = new Map<string, number>();
    for (const p of (await h.api.resource<Pod>(podsResource).list()).items) {
      perNode.set(p.spec!.nodeName!, (perNode.get(p.spec!.nodeName!) ?? 0) + 1);
    }
    expect([...perNode.values()]).toEqual([2, 2, 2]);
  });

  it('finds as many feasible nodes as Kubernetes before scoring', () => {
    expect(feasibleNodesToFind(50, 0)).toBe(50);
    expect(feasibleNodesToFind(1000, 0)).toBe(420);
    expect(feasibleNodesToFind(5000, 0)).toBe(500);
    expect(feasibleNodesToFind(1000, 100)).toBe(1000);
    expect(feasibleNodesToFind(150, 0)).toBe(100);
  });
});
