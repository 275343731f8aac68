import {
  type Event,
  isNotFound,
  type PersistentVolume,
  type PersistentVolumeAccessMode,
  type PersistentVolumeClaim,
} from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { eventsResource, persistentVolumeClaimsResource, persistentVolumesResource } from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { waitFor } from '../testing/wait.ts';
import { PersistentVolumeBinder } from './pv-binder-controller.ts';

let h: Harness;
afterEach(async () => {
  await h.stop();
});

function pv(
  name: string,
  size: string,
  modes: PersistentVolumeAccessMode[],
  extra: Partial<PersistentVolume['spec']> = {},
): PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: { capacity: { storage: size }, accessModes: modes, hostPath: { path: `/data/${name}` }, ...extra },
  };
}

function pvc(
  name: string,
  size: string,
  modes: PersistentVolumeAccessMode[],
  cls?: string,
): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'default' },
    spec: {
      accessModes: modes,
      resources: { requests: { storage: size } },
      ...(cls === undefined ? {} : { storageClassName: cls }),
    },
  };
}

const volumes = () => h.api.resource<PersistentVolume>(persistentVolumesResource);
const claims = () => h.api.resource<PersistentVolumeClaim>(persistentVolumeClaimsResource);
const boundTo = async (claim: string) => {
  const c = await claims().get(claim, 'default');
  return c.status?.phase === 'Bound' ? c.spec?.volumeName : undefined;
};

describe('PersistentVolumeBinder', () => {
  it('binds each claim to the smallest volume that fits, and leaves one that fits nothing pending', async () => {
    h = new Harness();
    for (const v of [
      pv('small', '1Gi', ['ReadWriteOnce']),
      pv('big', '10Gi', ['ReadWriteOnce']),
      pv('shared', '5Gi', ['ReadWriteMany']),
      pv('fast', '2Gi', ['ReadWriteOnce'], { storageClassName: 'fast' }),
    ]) {
      await volumes().create(v);
    }
    await h.run((ctx) => new PersistentVolumeBinder(ctx));
    await claims().create(pvc('a', '500Mi', ['ReadWriteOnce']));
    await claims().create(pvc('b', '3Gi', ['ReadWriteOnce']));
    await claims().create(pvc('c', '1Gi', ['ReadWriteMany']));
    await claims().create(pvc('d', '1Gi', ['ReadWriteOnce'], 'fast'));
    await claims().create(pvc('e', '100Gi', ['ReadWriteOnce']));
    await waitFor(
      'bound',
      async () => (await boundTo('d')) !== undefined && (await boundTo('b')) !== undefined,
    );
    expect(await boundTo('a')).toBe('small');
    expect(await boundTo('b')).toBe('big');
    expect(await boundTo('c')).toBe('shared');
    expect(await boundTo('d')).toBe('fast');
    const small = await volumes().get('small');
    expect(small.spec?.claimRef).toMatchObject({ namespace: 'default', name: 'a' });
    expect(small.status?.phase).toBe('Bound');
    expect((await claims().get('a', 'default')).status?.capacity).toEqual({ storage: '1Gi' });
    await waitFor('e reported', () =>
      h.api
        .objects<Event>(eventsResource)
        .some((e) => e.reason === 'FailedBinding' && e.involvedObject.name === 'e'),
    );
    expect((await claims().get('e', 'default')).status?.phase).toBe('Pending');
  });

  it('never gives one volume to two claims', async () => {
    h = new Harness();
    await volumes().create(pv('only', '1Gi', ['ReadWriteOnce']));
    await h.run((ctx) => new PersistentVolumeBinder(ctx));
    await Promise.all([
      claims().create(pvc('x', '1Gi', ['ReadWriteOnce'])),
      claims().create(pvc('y', '1Gi', ['ReadWriteOnce'])),
    ]);
    await waitFor('one bound', async () => ((await boundTo('x')) ?? (await boundTo('y'))) !== undefined);
    await new Promise((r) => setTimeout(r, 100));
    const bound = [await boundTo('x'), await boundTo('y')].filter((v) => v !== undefined);
    expect(bound).toEqual(['only']);
  });

  it('releases a retained volume and deletes a Delete-policy one when its claim goes', async () => {
    h = new Harness();
    await volumes().create(pv('kept', '1Gi', ['ReadWriteOnce']));
    await volumes().create(
      pv('dropped', '2Gi', ['ReadWriteOnce'], { persistentVolumeReclaimPolicy: 'Delete' }),
    );
    await h.run((ctx) => new PersistentVolumeBinder(ctx));
    await claims().create(pvc('k', '1Gi', ['ReadWriteOnce']));
    await claims().create(pvc('d', '2Gi', ['ReadWriteOnce']));
    await waitFor('bound', async () => (await boundTo('k')) === 'kept' && (await boundTo('d')) === 'dropped');
    await claims().delete('k', { namespace: 'default' });
    await claims().delete('d', { namespace: 'default' });
    await waitFor('released', async () => (await volumes().get('kept')).status?.phase === 'Released');
    await waitFor('deleted', async () => {
      try {
        await volumes().get('dropped');
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    });
  });
});
