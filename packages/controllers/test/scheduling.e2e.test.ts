// The scheduler on a real control plane with fake nodes: a pod that fits nowhere gets a
// FailedScheduling event with Kubernetes' reasons and is scheduled once capacity appears;
// the control-plane taint keeps ordinary pods off control-plane nodes; required
// anti-affinity spreads pods one per node and explains the one left over.
import { type Event, type Pod, podCondition } from '@flotilla/api';
import type { FakeNodeProcess } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsResource, podsResource } from '../src/index.ts';
import { E2eCluster, eventually } from './e2e-cluster.ts';

let cluster: E2eCluster;
let workers: FakeNodeProcess;

beforeAll(async () => {
  cluster = await E2eCluster.start();
  cluster.scheduler('sched-a', { scheduler: { podInitialBackoffMs: 200, podMaxBackoffMs: 1_000 } });
  await cluster.fakeNodes({ name: 'cp', count: 1, prefix: 'cp-', controlPlane: true });
  workers = await cluster.fakeNodes({
    name: 'workers',
    count: 2,
    prefix: 'worker-',
    capacity: { cpu: '2', memory: '4Gi', pods: '110' },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const pods = () => cluster.api.resource<Pod>(podsResource);

function podRequesting(
  name: string,
  cpu: string,
  extra: Partial<NonNullable<Pod['spec']>> = {},
  labels?: Record<string, string>,
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...(labels === undefined ? {} : { labels }) },
    spec: {
      containers: [{ name: 'app', image: 'busybox:1.36', resources: { requests: { cpu } } }],
      ...extra,
    },
  };
}

async function failedScheduling(name: string): Promise<Event> {
  return eventually(`FailedScheduling for ${name}`, async () => {
    const events = await cluster.api.resource<Event>(eventsResource).list({
      namespace: 'default',
      fieldSelector: `involvedObject.name=${name},reason=FailedScheduling`,
    });
    return events.items[0];
  });
}

describe('scheduling on a real control plane', () => {
  it('explains an unschedulable pod and schedules it once capacity appears', async () => {
    await pods().create(podRequesting('big', '3'));
    const event = await failedScheduling('big');
    expect(event.type).toBe('Warning');
    expect(event.message).toBe(
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.',
    );
    const condition = podCondition(await pods().get('big', 'default'), 'PodScheduled');
    expect(condition).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    await cluster.fakeNodes({
      name: 'large',
      count: 1,
      prefix: 'large-',
      capacity: { cpu: '8', memory: '8Gi', pods: '110' },
    });
    const bound = await eventually(
      'big scheduled',
      async () => (await pods().get('big', 'default')).spec?.nodeName,
    );
    expect(bound).toBe('large-0000');
    await eventually(
      'big running',
      async () => (await pods().get('big', 'default')).status?.phase === 'Running',
    );
    await pods().delete('big', { namespace: 'default' });
  });

  it('keeps ordinary pods off the control-plane node unless they tolerate its taint', async () => {
    await pods().create(
      podRequesting('system', '100m', {
        nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
        tolerations: [
          { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
        ],
      }),
    );
    await pods().create(
      podRequesting('plain', '100m', { nodeSelector: { 'node-role.kubernetes.io/control-plane': '' } }),
    );
    expect(
      await eventually('system bound', async () => (await pods().get('system', 'default')).spec?.nodeName),
    ).toBe('cp-0000');
    const event = await failedScheduling('plain');
    expect(event.message).toMatch(
      /^0\/\d nodes are available: 1 node\(s\) had untolerated taint \{node-role\.kubernetes\.io\/control-plane: \}, \d node\(s\) didn't match Pod's node affinity\/selector\.$/,
    );
  });

  it('spreads pods with required anti-affinity one per node and explains the extra one', async () => {
    const spread = {
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: 'spread' } }, topologyKey: 'kubernetes.io/hostname' },
          ],
        },
      },
      nodeSelector: { type: 'fake' },
    };
    const names = ['s0', 's1', 's2', 's3'];
    for (const n of names) await pods().create(podRequesting(n, '10m', spread, { app: 'spread' }));
    // Two workers and the large node: three pods fit, one per node; the control plane is tainted.
    await eventually('three bound', async () => {
      const bound = (await pods().list({ labelSelector: 'app=spread' })).items.filter(
        (p) => p.spec?.nodeName,
      );
      return bound.length === 3 ? bound : undefined;
    });
    const bound = (await pods().list({ labelSelector: 'app=spread' })).items.filter((p) => p.spec?.nodeName);
    expect(new Set(bound.map((p) => p.spec?.nodeName)).size).toBe(3);
    const waiting = (await pods().list({ labelSelector: 'app=spread' })).items.find((p) => !p.spec?.nodeName);
    const event = await failedScheduling(waiting?.metadata.name ?? '');
    expect(event.message).toContain("3 node(s) didn't match pod anti-affinity rules");
    expect(workers.nodeNames).toEqual(['worker-0000', 'worker-0001']);
  });
});
