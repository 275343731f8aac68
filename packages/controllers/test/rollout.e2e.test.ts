// Deployments against a real control plane (NATS cluster, 3-member Raft store, API server
// replicas) with two controller-manager replicas, a scheduler and fake nodes: scaling, a
// rolling update checked against maxSurge and maxUnavailable at every revision of the
// watch history, rollback as `kubectl rollout undo` does it, and pause/resume.
import {
  type Deployment,
  type DeploymentSpec,
  isPodActive,
  isPodReady,
  type Pod,
  type ReplicaSet,
} from '@flotilla/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deploymentsResource,
  podsResource,
  podTemplateHashLabel,
  replicaSetsResource,
  revisionAnnotation,
  revisionHistoryAnnotation,
} from '../src/index.ts';
import { E2eCluster, eventually, PodTimeline } from './e2e-cluster.ts';

let cluster: E2eCluster;

beforeAll(async () => {
  cluster = await E2eCluster.start();
  cluster.controllerManager('cm-a');
  cluster.controllerManager('cm-b');
  cluster.scheduler('sched-a');
  await cluster.fakeNodes({ name: 'rollout', count: 4, podReadyDelayMs: 150 });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const deployments = () => cluster.api.resource<Deployment>(deploymentsResource);
const get = (name: string) => deployments().get(name, 'default');

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

async function rolledOut(name: string, timeoutMs = 60_000): Promise<Deployment> {
  return eventually(
    `${name} rolled out`,
    async () => {
      const d = await get(name);
      const s = d.status;
      const want = d.spec?.replicas ?? 1;
      const complete =
        (s?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
        s?.updatedReplicas === want &&
        s.replicas === want &&
        s.availableReplicas === want &&
        s.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable');
      return complete ? d : undefined;
    },
    timeoutMs,
  );
}

async function edit(name: string, change: (spec: DeploymentSpec) => DeploymentSpec): Promise<Deployment> {
  for (;;) {
    const d = await get(name);
    try {
      return await deployments().update({ ...d, spec: change(d.spec!) });
    } catch (err) {
      if ((err as { httpCode?: number }).httpCode !== 409) throw err;
    }
  }
}

const image =
  (tag: string) =>
  (spec: DeploymentSpec): DeploymentSpec => ({
    ...spec,
    template: {
      ...spec.template,
      spec: { ...spec.template.spec!, containers: [{ name: 'app', image: `busybox:${tag}` }] },
    },
  });

async function setsOf(d: Deployment): Promise<ReplicaSet[]> {
  const all = await cluster.api.resource<ReplicaSet>(replicaSetsResource).list({ namespace: 'default' });
  return all.items.filter((rs) => rs.metadata.ownerReferences?.some((r) => r.uid === d.metadata.uid));
}

async function runningPods(app: string): Promise<Pod[]> {
  const pods = await cluster.api.resource<Pod>(podsResource).list({ labelSelector: `app=${app}` });
  return pods.items.filter((p) => isPodActive(p) && p.status?.phase === 'Running');
}

describe('Deployments on a real control plane', () => {
  it('scales up and down', async () => {
    await deployments().create(web('scale', { replicas: 6 }));
    await rolledOut('scale');
    expect(await runningPods('scale')).toHaveLength(6);
    await edit('scale', (s) => ({ ...s, replicas: 2 }));
    await rolledOut('scale');
    await eventually('2 pods left', async () => (await runningPods('scale')).length === 2 || undefined);
    const pods = await cluster.api.resource<Pod>(podsResource).list({ labelSelector: 'app=scale' });
    expect(pods.items.filter(isPodActive)).toHaveLength(2);
  });

  it('rolls out within maxSurge and maxUnavailable at every revision of the watch history', async () => {
    const replicas = 8;
    await deployments().create(
      web('roll', {
        replicas,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: 1 } },
      }),
    );
    await rolledOut('roll');
    const timeline = await PodTimeline.start(cluster.api, 'app=roll');
    const updated = await edit('roll', image('1.37'));
    const d = await rolledOut('roll');
    await eventually(
      'old pods gone',
      async () =>
        (await cluster.api.resource<Pod>(podsResource).list({ labelSelector: 'app=roll' })).items.length ===
          replicas || undefined,
    );
    await timeline.stop();
    let most = 0;
    let fewestReady = Number.POSITIVE_INFINITY;
    let checked = 0;
    timeline.replay((pods) => {
      const active = pods.filter(isPodActive);
      most = Math.max(most, active.length);
      fewestReady = Math.min(fewestReady, active.filter(isPodReady).length);
      checked++;
    }, Number(updated.metadata.resourceVersion));
    expect(checked).toBeGreaterThan(replicas * 3);
    expect(most).toBeLessThanOrEqual(replicas + 2);
    expect(fewestReady).toBeGreaterThanOrEqual(replicas - 1);
    const sets = await setsOf(d);
    expect(sets.map((rs) => rs.spec?.replicas).sort()).toEqual([0, replicas]);
    expect(d.metadata.annotations?.[revisionAnnotation]).toBe('2');
  });

  it('rolls back to the previous template, as kubectl rollout undo does', async () => {
    await deployments().create(web('undo', { replicas: 3 }));
    const v1 = await rolledOut('undo');
    const [first] = await setsOf(v1);
    await edit('undo', image('1.37'));
    await rolledOut('undo');
    // kubectl takes the revision-1 ReplicaSet's template, without its hash label.
    const labels = { ...first?.spec?.template?.metadata?.labels };
    delete labels[podTemplateHashLabel];
    await edit('undo', (spec) => ({
      ...spec,
      template: { ...first!.spec!.template!, metadata: { labels } },
    }));
    const d = await rolledOut('undo');
    const sets = await setsOf(d);
    const back = sets.find((rs) => rs.metadata.uid === first?.metadata.uid);
    expect(back?.spec?.replicas).toBe(3);
    expect(back?.metadata.annotations?.[revisionAnnotation]).toBe('3');
    expect(back?.metadata.annotations?.[revisionHistoryAnnotation]).toBe('1');
    expect((await runningPods('undo')).every((p) => p.spec?.containers[0]?.image === 'busybox:1.36')).toBe(
      true,
    );
  });

  it('a paused Deployment does not roll out until resumed', async () => {
    await deployments().create(web('pause', { replicas: 3 }));
    await rolledOut('pause');
    await edit('pause', (spec) => image('1.37')({ ...spec, paused: true }));
    await eventually('paused condition', async () =>
      (await get('pause')).status?.conditions?.some((c) => c.reason === 'DeploymentPaused'),
    );
    // Give a running rollout every chance to start: nothing may change.
    await new Promise((r) => setTimeout(r, 2_000));
    const paused = await get('pause');
    expect(await setsOf(paused)).toHaveLength(1);
    expect((await runningPods('pause')).every((p) => p.spec?.containers[0]?.image === 'busybox:1.36')).toBe(
      true,
    );
    await edit('pause', (spec) => ({ ...spec, paused: false }));
    await rolledOut('pause');
    await eventually('all updated', async () => {
      const pods = await runningPods('pause');
      return pods.length === 3 && pods.every((p) => p.spec?.containers[0]?.image === 'busybox:1.37');
    });
  });
});
