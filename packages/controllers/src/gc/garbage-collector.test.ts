import {
  type ConfigMap,
  controllerRef,
  isNotFound,
  type KubeObject,
  type OwnerReference,
  type Pod,
  type ReplicaSet,
} from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { configMapsResource, podsResource, replicaSetsResource } from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { pod, replicaSet } from '../testing/objects.ts';
import { waitFor } from '../testing/wait.ts';
import { GarbageCollector } from './garbage-collector.ts';

let h: Harness;
afterEach(async () => {
  await h.stop();
});

const pods = () => h.api.resource<Pod>(podsResource);
const sets = () => h.api.resource<ReplicaSet>(replicaSetsResource);

async function exists(get: () => Promise<KubeObject>): Promise<boolean> {
  try {
    await get();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

async function ownedPods(owner: KubeObject, names: string[], extra: OwnerReference[] = []): Promise<void> {
  for (const n of names) {
    await pods().create(pod(n, { meta: { ownerReferences: [controllerRef(owner), ...extra] } }));
    await h.api.bind('default', n, 'n1');
  }
}

describe('GarbageCollector', () => {
  it('deletes the dependents of a deleted owner (background)', async () => {
    h = new Harness();
    h.kubelet({ boundOnly: true });
    await h.run((ctx) => new GarbageCollector(ctx));
    const rs = await sets().create(replicaSet('web'));
    await ownedPods(rs, ['a', 'b']);
    await sets().delete('web', { propagationPolicy: 'Background' });
    await waitFor(
      'pods gone',
      async () => !(await exists(() => pods().get('a'))) && !(await exists(() => pods().get('b'))),
    );
  });

  it('keeps a foreground-deleted owner until its blocking dependents are gone', async () => {
    h = new Harness();
    await h.run((ctx) => new GarbageCollector(ctx));
    const rs = await sets().create(replicaSet('web'));
    await ownedPods(rs, ['a']);
    await sets().delete('web', { propagationPolicy: 'Foreground' });
    // The pod is bound, so it is only marked for deletion; its owner must wait.
    await waitFor('pod marked', async () => (await pods().get('a')).metadata.deletionTimestamp !== undefined);
    await new Promise((r) => setTimeout(r, 100));
    const waiting = await sets().get('web');
    expect(waiting.metadata.finalizers).toContain('foregroundDeletion');
    await pods().delete('a', { gracePeriodSeconds: 0 });
    await waitFor('owner gone', async () => !(await exists(() => sets().get('web'))));
  });

  it('orphans dependents when the owner is deleted with Orphan', async () => {
    h = new Harness();
    await h.run((ctx) => new GarbageCollector(ctx));
    const rs = await sets().create(replicaSet('web'));
    await ownedPods(rs, ['a']);
    await sets().delete('web', { propagationPolicy: 'Orphan' });
    await waitFor('owner gone', async () => !(await exists(() => sets().get('web'))));
    const orphan = await pods().get('a');
    expect(orphan.metadata.ownerReferences ?? []).toEqual([]);
    expect(orphan.metadata.deletionTimestamp).toBeUndefined();
  });

  it('asks the API server before treating an owner missing from its cache as gone', async () => {
    h = new Harness();
    // Configmaps are not watched here: their presence can only be learnt from the server.
    await h.run((ctx) => new GarbageCollector(ctx, { resources: [podsResource, replicaSetsResource] }));
    const cm = await h.api
      .resource<ConfigMap>(configMapsResource)
      .create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: 'default' } });
    const ghost = { ...cm, metadata: { ...cm.metadata, name: 'ghost', uid: 'no-such-uid' } };
    await pods().create(pod('kept', { meta: { ownerReferences: [controllerRef(cm)] } }));
    await pods().create(pod('collected', { meta: { ownerReferences: [controllerRef(ghost)] } }));
    await waitFor('dangling one collected', async () => !(await exists(() => pods().get('collected'))));
    expect(await exists(() => pods().get('kept'))).toBe(true);
  });

  it('drops only the reference to a gone owner when another owner remains', async () => {
    h = new Harness();
    await h.run((ctx) => new GarbageCollector(ctx));
    const a = await sets().create(replicaSet('a'));
    const b = await sets().create(replicaSet('b'));
    const second: OwnerReference = { ...controllerRef(b), controller: false };
    await ownedPods(a, ['p'], [second]);
    await sets().delete('a');
    await waitFor(
      'reference dropped',
      async () => (await pods().get('p')).metadata.ownerReferences?.length === 1,
    );
    expect((await pods().get('p')).metadata.ownerReferences?.[0]?.uid).toBe(b.metadata.uid);
  });
});
