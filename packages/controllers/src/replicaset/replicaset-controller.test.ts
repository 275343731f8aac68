import { controllerOf, type Event, type Pod, type ReplicaSet } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { eventsResource, podsResource, replicaSetsResource } from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { serverError } from '../testing/memory-api.ts';
import { pod, replicaSet } from '../testing/objects.ts';
import { waitFor } from '../testing/wait.ts';
import { ReplicaSetController } from './replicaset-controller.ts';

let h: Harness;
afterEach(async () => {
  await h.stop();
});

const rsOf = (name: string) => h.api.resource<ReplicaSet>(replicaSetsResource).get(name, 'default');
const podsOf = (uid: string | undefined) =>
  h.api
    .objects<Pod>(podsResource)
    .filter((p) => controllerOf(p)?.uid === uid && !p.metadata.deletionTimestamp);

describe('ReplicaSetController', () => {
  it('creates exactly the missing pods, owned and labelled, and reports them in the status', async () => {
    h = new Harness();
    h.kubelet();
    await h.run((ctx) => new ReplicaSetController(ctx));
    const rs = await h.api
      .resource<ReplicaSet>(replicaSetsResource)
      .create(replicaSet('web', { spec: { replicas: 40 } }));
    await waitFor('40 available', async () => (await rsOf('web')).status?.availableReplicas === 40);
    const created = h.api.history().filter((e) => e.resource === '/pods' && e.type === 'ADDED');
    expect(created).toHaveLength(40); // never one too many, though events raced the workers
    const pods = podsOf(rs.metadata.uid);
    expect(pods.every((p) => p.metadata.name?.startsWith('web-') && p.metadata.labels?.app === 'web')).toBe(
      true,
    );
    expect((await rsOf('web')).status).toMatchObject({
      replicas: 40,
      readyReplicas: 40,
      fullyLabeledReplicas: 40,
      observedGeneration: 1,
    });
  });

  it('scales down by deleting the least useful pods first', async () => {
    h = new Harness();
    h.kubelet({ ready: (p) => p.metadata.labels?.ready !== 'no' });
    await h.run((ctx) => new ReplicaSetController(ctx));
    const rss = h.api.resource<ReplicaSet>(replicaSetsResource);
    // Two orphans that will never be ready, three that will; the set adopts all five.
    for (const [i, ready] of [
      ['a', 'no'],
      ['b', 'yes'],
      ['c', 'no'],
      ['d', 'yes'],
      ['e', 'yes'],
    ] as const) {
      await h.api.resource<Pod>(podsResource).create(pod(`web-${i}`, { labels: { app: 'web', ready } }));
    }
    const rs = await rss.create(replicaSet('web', { spec: { replicas: 5 } }));
    await waitFor('adopted and 3 ready', async () => (await rsOf('web')).status?.readyReplicas === 3);
    await rss.update({ ...(await rsOf('web')), spec: { ...rs.spec!, replicas: 3 } });
    await waitFor('3 left', () => podsOf(rs.metadata.uid).length === 3);
    expect(
      podsOf(rs.metadata.uid)
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['web-b', 'web-d', 'web-e']);
  });

  it('replaces a deleted pod, and releases a pod whose labels no longer match', async () => {
    h = new Harness();
    h.kubelet();
    await h.run((ctx) => new ReplicaSetController(ctx));
    const rs = await h.api
      .resource<ReplicaSet>(replicaSetsResource)
      .create(replicaSet('web', { spec: { replicas: 2 } }));
    await waitFor('2 pods', () => podsOf(rs.metadata.uid).length === 2);
    const [first, second] = podsOf(rs.metadata.uid);
    const pods = h.api.resource<Pod>(podsResource);
    await pods.delete(first!.metadata.name!, { gracePeriodSeconds: 0 });
    const relabelled = await pods.get(second!.metadata.name!);
    await pods.update({ ...relabelled, metadata: { ...relabelled.metadata, labels: { app: 'other' } } });
    await waitFor('released', async () => controllerOf(await pods.get(second!.metadata.name!)) === undefined);
    await waitFor('2 owned again', async () => (await rsOf('web')).status?.replicas === 2);
    expect(podsOf(rs.metadata.uid)).toHaveLength(2);
    expect(podsOf(rs.metadata.uid).map((p) => p.metadata.name)).not.toContain(first!.metadata.name);
  });

  it('reports a failed create as ReplicaFailure with an event, and clears it once creates succeed', async () => {
    h = new Harness();
    await h.run((ctx) => new ReplicaSetController(ctx));
    h.api.inject({ verb: 'create', resource: '/pods', times: 1, error: () => serverError('quota exceeded') });
    await h.api
      .resource<ReplicaSet>(replicaSetsResource)
      .create(replicaSet('web', { spec: { replicas: 2 } }));
    await waitFor('recovered', async () => (await rsOf('web')).status?.replicas === 2);
    const failed = h.api
      .history()
      .filter((e) => e.resource === 'apps/replicasets')
      .map((e) => (e.object as ReplicaSet).status?.conditions?.find((c) => c.type === 'ReplicaFailure'));
    expect(failed.some((c) => c?.reason === 'FailedCreate' && c.message === 'quota exceeded')).toBe(true);
    expect((await rsOf('web')).status?.conditions).toBeUndefined();
    const events = h.api.objects<Event>(eventsResource);
    expect(events.some((e) => e.reason === 'FailedCreate' && e.message?.includes('quota exceeded'))).toBe(
      true,
    );
  });

  it('counts a pod available only minReadySeconds after it became ready', async () => {
    h = new Harness();
    h.kubelet();
    await h.run((ctx) => new ReplicaSetController(ctx));
    await h.api
      .resource<ReplicaSet>(replicaSetsResource)
      .create(replicaSet('web', { spec: { replicas: 2, minReadySeconds: 2 } }));
    await waitFor('ready', async () => (await rsOf('web')).status?.readyReplicas === 2);
    expect((await rsOf('web')).status?.availableReplicas).toBe(0);
    await waitFor('available', async () => (await rsOf('web')).status?.availableReplicas === 2, 5_000);
  });
});
