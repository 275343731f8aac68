// Leader failover on a real control plane: two controller-manager and two scheduler
// processes; the lease holder is SIGKILLed in the middle of work (a rolling update, a
// burst of pods to schedule). The standby takes over within the target (5 s after a
// SIGKILL, 1 s after a graceful release), the work completes, and the end state has no
// pod beyond the surge allowance and no pod bound twice.
import { type Deployment, type DeploymentSpec, isPodActive, type Pod } from '@flotilla/api';
import type { ManagedProcess } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controllerManagerLease, deploymentsResource, podsResource, schedulerLease } from '../src/index.ts';
import { E2eCluster, eventually, PodTimeline, report } from './e2e-cluster.ts';

let cluster: E2eCluster;
const managers = new Map<string, ManagedProcess>();
const schedulers = new Map<string, ManagedProcess>();

beforeAll(async () => {
  cluster = await E2eCluster.start();
  for (const id of ['cm-a', 'cm-b']) managers.set(id, cluster.controllerManager(id));
  for (const id of ['sched-a', 'sched-b']) schedulers.set(id, cluster.scheduler(id));
  await cluster.fakeNodes({
    name: 'failover',
    count: 5,
    podReadyDelayMs: 300,
    capacity: { cpu: '32', memory: '64Gi', pods: '110' },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const deployments = () => cluster.api.resource<Deployment>(deploymentsResource);

function web(name: string, spec: Partial<DeploymentSpec>): Deployment {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas: 3,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } },
      ...spec,
    },
  };
}

async function rolledOut(name: string, timeoutMs = 90_000): Promise<Deployment> {
  return eventually(
    `${name} rolled out`,
    async () => {
      const d = await deployments().get(name, 'default');
      const s = d.status;
      const want = d.spec?.replicas ?? 1;
      const complete =
        (s?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
        s?.updatedReplicas === want &&
        s.replicas === want &&
        s.availableReplicas === want &&
        s.conditions?.some((c) => c.reason === 'NewReplicaSetAvailable');
      return complete ? d : undefined;
    },
    timeoutMs,
  );
}

async function edit(name: string, change: (spec: DeploymentSpec) => DeploymentSpec): Promise<Deployment> {
  for (;;) {
    const d = await deployments().get(name, 'default');
    try {
      return await deployments().update({ ...d, spec: change(d.spec!) });
    } catch (err) {
      if ((err as { httpCode?: number }).httpCode !== 409) throw err;
    }
  }
}

/** Waits for a holder other than `previous`; returns it and when it was first seen. */
async function newHolder(
  lease: string,
  previous: string,
  timeoutMs: number,
): Promise<{ holder: string; atMs: number }> {
  return eventually(
    `a new ${lease} holder`,
    async () => {
      const holder = await cluster.holder(lease);
      return holder !== '' && holder !== previous ? { holder, atMs: performance.now() } : undefined;
    },
    timeoutMs,
    25,
  );
}

/** Each pod's node, once set, never changes: no pod bound twice. */
function checkBoundOnce(timeline: PodTimeline): void {
  const nodeOf = new Map<string, string>();
  for (const p of timeline.initial) if (p.spec?.nodeName) nodeOf.set(p.metadata.uid ?? '', p.spec.nodeName);
  for (const e of timeline.events) {
    const node = e.pod.spec?.nodeName;
    if (!node) continue;
    const before = nodeOf.get(e.pod.metadata.uid ?? '');
    expect(
      before === undefined || before === node,
      `pod ${e.pod.metadata.name} moved ${before} → ${node}`,
    ).toBe(true);
    nodeOf.set(e.pod.metadata.uid ?? '', node);
  }
}

describe('failover of the lease holders', () => {
  it('SIGKILL of the controller-manager holder mid-rollout: standby within 5 s, rollout completes within surge', async () => {
    const replicas = 20;
    const surge = 3;
    await deployments().create(
      web('kill', {
        replicas,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: 0 } },
      }),
    );
    await rolledOut('kill');
    const timeline = await PodTimeline.start(cluster.api, 'app=kill');
    await edit('kill', (s) => ({
      ...s,
      template: {
        ...s.template,
        spec: { ...s.template.spec!, containers: [{ name: 'app', image: 'busybox:1.37' }] },
      },
    }));
    // Let the rollout get going, then kill whoever drives it.
    await eventually('rollout under way', async () => {
      const pods = (await cluster.api.resource<Pod>(podsResource).list({ labelSelector: 'app=kill' })).items;
      return pods.filter((p) => p.spec?.containers[0]?.image === 'busybox:1.37').length >= 3 || undefined;
    });
    const holder = await cluster.holder(controllerManagerLease.name);
    const victim = managers.get(holder);
    expect(victim, `holder ${holder}`).toBeDefined();
    const killedAt = performance.now();
    await victim!.kill();
    const next = await newHolder(controllerManagerLease.name, holder, 15_000);
    const takeoverMs = next.atMs - killedAt;
    const d = await rolledOut('kill');
    await eventually('old pods gone', async () => {
      const all = (await cluster.api.resource<Pod>(podsResource).list({ labelSelector: 'app=kill' })).items;
      return all.length === replicas || undefined;
    });
    await timeline.stop();
    let most = 0;
    timeline.replay((pods) => {
      most = Math.max(most, pods.filter(isPodActive).length);
    });
    report.info(
      { takeoverMs: Math.round(takeoverMs), mostPods: most, replicas, surge },
      'controller-manager SIGKILL failover',
    );
    expect(takeoverMs).toBeLessThan(5_000);
    expect(most).toBeLessThanOrEqual(replicas + surge);
    checkBoundOnce(timeline);
    const end = (await cluster.api.resource<Pod>(podsResource).list({ labelSelector: 'app=kill' })).items;
    expect(end.filter(isPodActive)).toHaveLength(replicas);
    expect(end.every((p) => p.spec?.containers[0]?.image === 'busybox:1.37')).toBe(true);
    expect(d.status?.updatedReplicas).toBe(replicas);
    victim!.start();
  });

  it('SIGKILL of the scheduler holder while pods wait: standby within 5 s, every pod bound exactly once', async () => {
    const timeline = await PodTimeline.start(cluster.api, 'app=burst');
    await deployments().create(web('burst', { replicas: 40 }));
    await eventually('scheduling under way', async () => {
      const pods = (await cluster.api.resource<Pod>(podsResource).list({ labelSelector: 'app=burst' })).items;
      return pods.some((p) => p.spec?.nodeName) || undefined;
    });
    const holder = await cluster.holder(schedulerLease.name);
    const victim = schedulers.get(holder);
    expect(victim, `holder ${holder}`).toBeDefined();
    const killedAt = performance.now();
    await victim!.kill();
    const next = await newHolder(schedulerLease.name, holder, 15_000);
    const takeoverMs = next.atMs - killedAt;
    await rolledOut('burst');
    await timeline.stop();
    report.info({ takeoverMs: Math.round(takeoverMs) }, 'scheduler SIGKILL failover');
    expect(takeoverMs).toBeLessThan(5_000);
    checkBoundOnce(timeline);
    const end = (await cluster.api.resource<Pod>(podsResource).list({ labelSelector: 'app=burst' })).items;
    expect(end.filter(isPodActive)).toHaveLength(40);
    expect(end.every((p) => p.spec?.nodeName)).toBe(true);
    victim!.start();
  });

  it('a graceful stop releases the lease: the standby takes over within 1 s', async () => {
    // Both replicas back: wait until the restarted one is a standby again.
    await new Promise((r) => setTimeout(r, 1_000));
    const holder = await cluster.holder(controllerManagerLease.name);
    const leader = managers.get(holder);
    expect(leader).toBeDefined();
    const stopping = leader!.stop(10_000);
    const released = await eventually(
      'release',
      async () =>
        (await cluster.holder(controllerManagerLease.name)) !== holder ? performance.now() : undefined,
      10_000,
      10,
    );
    const next = await newHolder(controllerManagerLease.name, holder, 5_000);
    await stopping;
    const handoverMs = next.atMs - released;
    report.info({ handoverMs: Math.round(handoverMs), from: holder, to: next.holder }, 'graceful handover');
    expect(handoverMs).toBeLessThan(1_000);
    // The new leader works: a new Deployment rolls out.
    await deployments().create(web('after', { replicas: 2 }));
    await rolledOut('after');
    leader!.start();
  });
});
