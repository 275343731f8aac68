/**
 * The fake nodes (from the testkit) that the controllers' e2e and chaos runs use as their
 * kubelets, against the in-memory API: a pod start or removal whose write fails (as writes
 * do in a partition) is tried again, since no further event may ever come for that pod.
 */
import { silentLogger } from '@flotilla/actor';
import type { Pod } from '@flotilla/api';
import { defaultFakeNodesConfig, FakeNodes, fakeNodeName } from '@flotilla/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { podsResource } from '../resources.ts';
import { MemoryApi, serverError } from './memory-api.ts';
import { pod } from './objects.ts';
import { waitFor } from './wait.ts';

const config = { ...defaultFakeNodesConfig, name: 'unit', count: 1, podReadyDelayMs: 0 };
const nodeName = fakeNodeName(config.prefix, 0);
let stop: (() => Promise<void>) | undefined;

afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function startNodes(api: MemoryApi): Promise<FakeNodes> {
  const nodes = new FakeNodes({ client: api, log: silentLogger(), config });
  await nodes.start();
  stop = () => nodes.stop();
  return nodes;
}

const phaseOf = (api: MemoryApi, name: string): string | undefined =>
  api.objects<Pod>(podsResource).find((p) => p.metadata.name === name)?.status?.phase;

describe('fake nodes', () => {
  it('start a bound pod whose first status writes failed', async () => {
    const api = new MemoryApi();
    await startNodes(api);
    api.inject({ verb: 'updateStatus', resource: '/pods', times: 2, error: () => serverError('timed out') });
    await api.resource<Pod>(podsResource).create(pod('p1', { spec: { nodeName } }));
    await waitFor('p1 Running', () => phaseOf(api, 'p1') === 'Running', 5_000);
    expect(api.calls.get('updateStatus /pods')).toBe(3);
  });

  it('remove a pod marked for deletion whose first delete failed', async () => {
    const api = new MemoryApi();
    await startNodes(api);
    const pods = api.resource<Pod>(podsResource);
    await pods.create(pod('p2', { spec: { nodeName } }));
    await waitFor('p2 Running', () => phaseOf(api, 'p2') === 'Running', 5_000);
    api.inject({ verb: 'delete', resource: '/pods', times: 2, error: () => serverError('timed out') });
    const running = await pods.get('p2', 'default');
    // Marked for deletion as a graceful delete leaves it; the node must finish the removal.
    api.seed(podsResource, {
      ...running,
      metadata: {
        ...running.metadata,
        deletionTimestamp: new Date().toISOString(),
        deletionGracePeriodSeconds: 30,
      },
    });
    await waitFor(
      'p2 removed',
      () => phaseOf(api, 'p2') === undefined && api.objects<Pod>(podsResource).length === 0,
      5_000,
    );
    expect(api.calls.get('delete /pods')).toBe(3);
  });
});
