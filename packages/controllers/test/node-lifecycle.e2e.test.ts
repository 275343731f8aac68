// A node whose heartbeats stop, on a real control plane with fake nodes: it turns
// NotReady (Ready=Unknown), is tainted unreachable, its pods are evicted once their
// (shortened) toleration runs out, and the Deployment's pods come back on the other
// nodes within grace period plus toleration. When it comes back the taints go.
import { type Deployment, isPodActive, type Node, nodeCondition, type Pod, timeToMs } from '@flotilla/api';
import type { FakeNodeProcess } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentsResource, nodesResource, podsResource } from '../src/index.ts';
import { E2eCluster, eventually, report } from './e2e-cluster.ts';

const graceMs = 2_000;
const tolerationSeconds = 2;
let cluster: E2eCluster;
let nodes: FakeNodeProcess;

beforeAll(async () => {
  cluster = await E2eCluster.start();
  cluster.controllerManager('cm-a', {
    nodeMonitorGracePeriodMs: graceMs,
    defaultTolerationSeconds: tolerationSeconds,
  });
  cluster.scheduler('sched-a');
  nodes = await cluster.fakeNodes({
    name: 'lifecycle',
    count: 3,
    podReadyDelayMs: 100,
    leaseRenewIntervalMs: 400,
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const pods = () => cluster.api.resource<Pod>(podsResource);
const node = (name: string) => cluster.api.resource<Node>(nodesResource).get(name);

describe('node lifecycle on a real control plane', () => {
  it('a silent node goes NotReady, is tainted, and its pods come back elsewhere within grace + toleration', async () => {
    const labels = { app: 'web' };
    await cluster.api.resource<Deployment>(deploymentsResource).create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas: 6,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } },
      },
    });
    const running = async () =>
      (await pods().list({ labelSelector: 'app=web' })).items.filter(
        (p) => isPodActive(p) && p.status?.phase === 'Running',
      );
    await eventually('6 running', async () => (await running()).length === 6 || undefined, 60_000);
    const victim = (await running())[0]?.spec?.nodeName ?? '';
    const onVictim = (await running()).filter((p) => p.spec?.nodeName === victim).map((p) => p.metadata.uid);
    expect(onVictim.length).toBeGreaterThan(0);

    const silentAt = Date.now();
    await nodes.setAlive([victim], false);
    const unknown = await eventually(
      'victim NotReady',
      async () => {
        const n = await node(victim);
        return nodeCondition(n, 'Ready')?.status === 'Unknown' ? n : undefined;
      },
      graceMs + 10_000,
      50,
    );
    const notReadyAfterMs = Date.now() - silentAt;
    expect(notReadyAfterMs).toBeGreaterThanOrEqual(graceMs - 500);
    const tainted = await eventually('taints', async () => {
      const n = await node(victim);
      const keys = (n.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort();
      return keys.length === 2 ? n : undefined;
    });
    expect(tainted.spec?.taints?.map((t) => `${t.key}:${t.effect}`).sort()).toEqual([
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/unreachable:NoSchedule',
    ]);
    expect(nodeCondition(unknown, 'Ready')?.reason).toBe('NodeStatusUnknown');

    // Replacements for every evicted pod, Running on the other nodes.
    const back = await eventually(
      '6 running elsewhere',
      async () => {
        const r = await running();
        return r.length === 6 && r.every((p) => p.spec?.nodeName !== victim) ? r : undefined;
      },
      graceMs + tolerationSeconds * 1000 + 20_000,
      100,
    );
    const recoveredMs = Date.now() - silentAt;
    // Eviction waits the toleration after the taint (its timeAdded has second precision).
    const taintedAt = timeToMs(tainted.spec?.taints?.find((t) => t.effect === 'NoExecute')?.timeAdded) ?? 0;
    const evicted = (await pods().list({ labelSelector: 'app=web' })).items.filter((p) =>
      onVictim.includes(p.metadata.uid),
    );
    expect(evicted.every((p) => p.metadata.deletionTimestamp !== undefined)).toBe(true);
    expect(
      evicted.every(
        (p) => (timeToMs(p.metadata.deletionTimestamp) ?? 0) >= taintedAt + tolerationSeconds * 1000 - 1000,
      ),
    ).toBe(true);
    expect(back.some((p) => onVictim.includes(p.metadata.uid))).toBe(false);
    report.info({ graceMs, tolerationSeconds, notReadyAfterMs, recoveredMs }, 'node lifecycle timings');
    expect(recoveredMs).toBeLessThan(graceMs + tolerationSeconds * 1000 + 10_000);

    await nodes.setAlive([victim], true);
    await eventually('victim Ready, untainted', async () => {
      const n = await node(victim);
      return nodeCondition(n, 'Ready')?.status === 'True' && (n.spec?.taints ?? []).length === 0;
    });
    // The evicted pods, terminating all along, are gone once their kubelet is back.
    await eventually('evicted pods removed', async () => {
      const left = (await pods().list({ labelSelector: 'app=web' })).items;
      return left.length === 6 || undefined;
    });
  });
});
