import { createRegistry, silentLogger } from '@flotilla/actor';
import type { Deployment, Pod } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerManager } from './controller-manager.ts';
import { deploymentsResource, podsResource } from './resources.ts';
import { MemoryApi } from './testing/memory-api.ts';
import { deployment } from './testing/objects.ts';
import { waitFor } from './testing/wait.ts';

const managers: ControllerManager[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
});

function manager(api: MemoryApi, identity: string): ControllerManager {
  const m = new ControllerManager({
    client: api,
    log: silentLogger(),
    registry: createRegistry(),
    controllers: ['deployment', 'replicaset'],
    election: { identity, leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 },
    informer: { resyncPeriodMs: 0 },
  });
  managers.push(m);
  m.start();
  return m;
}

describe('ControllerManager', () => {
  it('runs the controllers in one replica only, and hands over on a graceful stop', async () => {
    const api = new MemoryApi();
    const a = manager(api, 'a');
    const b = manager(api, 'b');
    await waitFor('a leader', () => a.isLeader || b.isLeader);
    const [leader, standby] = a.isLeader ? [a, b] : [b, a];
    await leader.whenWorking();
    await api.resource<Deployment>(deploymentsResource).create(deployment('web', { spec: { replicas: 3 } }));
    await waitFor('3 pods', () => api.objects<Pod>(podsResource).length === 3);
    expect(standby.isLeader).toBe(false);
    await leader.stop();
    await waitFor('standby leads', () => standby.isLeader, 2_000);
    await standby.whenWorking();
    const d = await api.resource<Deployment>(deploymentsResource).get('web', 'default');
    await api.resource<Deployment>(deploymentsResource).update({ ...d, spec: { ...d.spec!, replicas: 5 } });
    await waitFor('5 pods', () => api.objects<Pod>(podsResource).length === 5);
    expect(api.history().filter((e) => e.resource === '/pods' && e.type === 'ADDED')).toHaveLength(5);
  });
});
