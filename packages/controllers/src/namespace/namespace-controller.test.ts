import { type ConfigMap, isNotFound, type Namespace, type Pod } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { configMapsResource, namespacesResource, podsResource } from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { pod } from '../testing/objects.ts';
import { waitFor } from '../testing/wait.ts';
import { NamespaceController } from './namespace-controller.ts';

let h: Harness;
afterEach(async () => {
  await h.stop();
});

describe('NamespaceController', () => {
  it('deletes everything in a terminating namespace, waits for it to go, then finalizes', async () => {
    h = new Harness();
    h.kubelet({ boundOnly: true, readyAfterMs: 200 });
    await h.run(
      (ctx) => new NamespaceController(ctx, { finalize: (ns) => h.api.finalize(ns), recheckMs: 50 }),
    );
    const namespaces = h.api.resource<Namespace>(namespacesResource);
    await namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
    await namespaces.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
    const pods = h.api.resource<Pod>(podsResource);
    await pods.create(pod('a', { namespace: 'team' }));
    await h.api.bind('team', 'a', 'n1');
    await pods.create(pod('b', { namespace: 'other' }));
    await h.api
      .resource<ConfigMap>(configMapsResource)
      .create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'team' } });
    await namespaces.delete('team');
    await waitFor(
      'namespace gone',
      async () => {
        try {
          await namespaces.get('team');
          return false;
        } catch (err) {
          return isNotFound(err);
        }
      },
      5_000,
    );
    expect(h.api.objects<Pod>(podsResource).map((p) => p.metadata.namespace)).toEqual(['other']);
    expect(h.api.objects(configMapsResource)).toHaveLength(0);
    // While the bound pod was terminating, the namespace said what was left.
    const remaining = h.api
      .history()
      .flatMap((e) =>
        e.resource === '/namespaces' ? ((e.object as Namespace).status?.conditions ?? []) : [],
      )
      .find((c) => c.type === 'NamespaceContentRemaining');
    expect(remaining?.message).toMatch(/pods has 1 resource instances/);
  });
});
