import {
  type Deployment,
  type DeploymentSpec,
  isPodActive,
  isPodReady,
  type Pod,
  type ReplicaSet,
} from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaSetController } from '../replicaset/replicaset-controller.ts';
import { deploymentsResource, replicaSetsResource } from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { deployment } from '../testing/objects.ts';
import { objectsIn, replay } from '../testing/replay.ts';
import { waitFor } from '../testing/wait.ts';
import { DeploymentController } from './deployment-controller.ts';
import { podTemplateHashLabel, revisionAnnotation, revisionHistoryAnnotation } from './rollout-math.ts';

let h: Harness;
afterEach(async () => {
  await h.stop();
});

async function start(kubelet: Parameters<Harness['kubelet']>[0] = {}): Promise<void> {
  h = new Harness();
  h.kubelet(kubelet);
  await h.run(
    (ctx) => new DeploymentController(ctx),
    (ctx) => new ReplicaSetController(ctx),
  );
}

const deployments = () => h.api.resource<Deployment>(deploymentsResource);
const get = (name: string) => deployments().get(name, 'default');
const setsOf = (d: Deployment) =>
  h.api
    .objects<ReplicaSet>(replicaSetsResource)
    .filter((rs) => rs.metadata.ownerReferences?.[0]?.uid === d.metadata.uid);

async function rolledOut(name: string, timeoutMs = 10_000): Promise<Deployment> {
  return waitFor(
    `${name} rolled out`,
    async () => {
      const d = await get(name);
      const s = d.status;
      const want = d.spec?.replicas ?? 1;
      const done =
        (s?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
        s?.updatedReplicas === want &&
        s.replicas === want &&
        s.availableReplicas === want &&
        s.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable');
      return done ? d : undefined;
    },
    timeoutMs,
  );
}

async function edit(name: string, change: (spec: DeploymentSpec) => DeploymentSpec): Promise<Deployment> {
  const d = await get(name);
  return deployments().update({ ...d, spec: change(d.spec!) });
}

const withImage =
  (image: string) =>
  (spec: DeploymentSpec): DeploymentSpec => ({
    ...spec,
    template: {
      ...spec.template,
      spec: { ...spec.template.spec!, containers: [{ name: 'app', image }] },
    },
  });

describe('DeploymentController', () => {
  it('creates a revision-1 ReplicaSet named by its template hash and reports the rollout complete', async () => {
    await start();
    await deployments().create(deployment('web', { spec: { replicas: 4 } }));
    const d = await rolledOut('web');
    const [rs] = setsOf(d);
    const hash = rs?.metadata.labels?.[podTemplateHashLabel];
    expect(rs?.metadata.name).toBe(`web-${hash}`);
    expect(rs?.spec?.selector.matchLabels).toEqual({ app: 'web', [podTemplateHashLabel]: hash });
    expect(rs?.metadata.annotations).toMatchObject({
      [revisionAnnotation]: '1',
      'deployment.kubernetes.io/desired-replicas': '4',
      'deployment.kubernetes.io/max-replicas': '5',
    });
    expect(d.metadata.annotations?.[revisionAnnotation]).toBe('1');
    expect(d.status).toMatchObject({
      replicas: 4,
      updatedReplicas: 4,
      readyReplicas: 4,
      availableReplicas: 4,
    });
    expect(d.status?.conditions?.find((c) => c.type === 'Available')).toMatchObject({
      status: 'True',
      reason: 'MinimumReplicasAvailable',
    });
  });

  const cases = [
    { replicas: 10, maxSurge: 3, maxUnavailable: 2, surge: 3, unavailable: 2 },
    { replicas: 8, maxSurge: '25%', maxUnavailable: '25%', surge: 2, unavailable: 2 },
    { replicas: 5, maxSurge: 0, maxUnavailable: 1, surge: 0, unavailable: 1 },
    { replicas: 6, maxSurge: '50%', maxUnavailable: 0, surge: 3, unavailable: 0 },
  ] as const;
  for (const c of cases) {
    it(`rolls ${c.replicas} pods with maxSurge ${c.maxSurge} / maxUnavailable ${c.maxUnavailable} within both bounds at every revision`, async () => {
      // Readiness takes a random few milliseconds, so the controllers' steps interleave differently each run.
      await start({ readyAfterMs: 5 + Math.floor(Math.random() * 20) });
      await deployments().create(
        deployment('web', {
          spec: {
            replicas: c.replicas,
            strategy: {
              type: 'RollingUpdate',
              rollingUpdate: { maxSurge: c.maxSurge, maxUnavailable: c.maxUnavailable },
            },
          },
        }),
      );
      await rolledOut('web');
      const from = h.api.revision;
      await edit('web', withImage('busybox:1.37'));
      const d = await rolledOut('web');
      let most = 0;
      let fewest = Number.POSITIVE_INFINITY;
      replay(h.api.history(), (world, e) => {
        if (e.revision <= from) return;
        const pods = objectsIn<Pod>(world, '/pods').filter(
          (p) => p.metadata.labels?.app === 'web' && isPodActive(p),
        );
        most = Math.max(most, pods.length);
        fewest = Math.min(fewest, pods.filter(isPodReady).length);
      });
      expect(most).toBeLessThanOrEqual(c.replicas + c.surge);
      expect(fewest).toBeGreaterThanOrEqual(c.replicas - c.unavailable);
      const sets = setsOf(d);
      expect(sets).toHaveLength(2);
      expect(sets.map((rs) => rs.spec?.replicas).sort()).toEqual([0, c.replicas]);
      expect(d.metadata.annotations?.[revisionAnnotation]).toBe('2');
    });
  }

  it('Recreate removes every old pod before the first new one exists', async () => {
    await start({ readyAfterMs: 5 });
    await deployments().create(deployment('web', { spec: { replicas: 4, strategy: { type: 'Recreate' } } }));
    await rolledOut('web');
    const from = h.api.revision;
    await edit('web', withImage('busybox:1.37'));
    await rolledOut('web');
    replay(h.api.history(), (world, e) => {
      if (e.revision <= from) return;
      const pods = objectsIn<Pod>(world, '/pods').filter((p) => p.metadata.labels?.app === 'web');
      const images = new Set(pods.map((p) => p.spec?.containers[0]?.image));
      expect(images.size, `old and new pods together at revision ${e.revision}`).toBeLessThanOrEqual(1);
    });
  });

  it('rolls back to the previous template by reusing its ReplicaSet under the next revision', async () => {
    await start();
    await deployments().create(deployment('web', { spec: { replicas: 3 } }));
    const v1 = await rolledOut('web');
    const firstSet = setsOf(v1)[0]!;
    await edit('web', withImage('busybox:1.37'));
    await rolledOut('web');
    // What `kubectl rollout undo` writes: the old ReplicaSet's template, hash label removed.
    const labels = { ...firstSet.spec?.template?.metadata?.labels };
    delete labels[podTemplateHashLabel];
    await edit('web', (spec) => ({
      ...spec,
      template: { ...firstSet.spec!.template!, metadata: { labels } },
    }));
    const d = await rolledOut('web');
    const sets = setsOf(d);
    expect(sets).toHaveLength(2);
    const back = sets.find((rs) => rs.metadata.uid === firstSet.metadata.uid)!;
    expect(back.spec?.replicas).toBe(3);
    expect(back.metadata.annotations?.[revisionAnnotation]).toBe('3');
    expect(back.metadata.annotations?.[revisionHistoryAnnotation]).toBe('1');
    expect(d.metadata.annotations?.[revisionAnnotation]).toBe('3');
  });

  it('a paused Deployment scales but does not roll out until resumed', async () => {
    await start();
    await deployments().create(deployment('web', { spec: { replicas: 2 } }));
    await rolledOut('web');
    await edit('web', (spec) => withImage('busybox:1.37')({ ...spec, paused: true }));
    await waitFor('paused condition', async () =>
      (await get('web')).status?.conditions?.some(
        (c) => c.type === 'Progressing' && c.reason === 'DeploymentPaused',
      ),
    );
    await edit('web', (spec) => ({ ...spec, replicas: 4 }));
    await waitFor('scaled while paused', async () => (await get('web')).status?.availableReplicas === 4);
    const paused = await get('web');
    expect(setsOf(paused)).toHaveLength(1);
    expect(setsOf(paused)[0]?.spec?.template?.spec?.containers[0]?.image).toBe('busybox:1.36');
    await edit('web', (spec) => ({ ...spec, paused: false }));
    const d = await rolledOut('web');
    expect(setsOf(d).find((rs) => rs.spec?.replicas === 4)?.spec?.template?.spec?.containers[0]?.image).toBe(
      'busybox:1.37',
    );
  });

  it('keeps only revisionHistoryLimit old ReplicaSets', async () => {
    await start();
    await deployments().create(deployment('web', { spec: { replicas: 1, revisionHistoryLimit: 1 } }));
    await rolledOut('web');
    for (const tag of ['1.37', '1.38', '1.39']) {
      await edit('web', withImage(`busybox:${tag}`));
      await rolledOut('web');
    }
    await waitFor('old sets cleaned', async () => setsOf(await get('web')).length === 2);
    const revisions = setsOf(await get('web')).map((rs) => rs.metadata.annotations?.[revisionAnnotation]);
    expect(revisions.sort()).toEqual(['3', '4']);
  });

  it('reports ProgressDeadlineExceeded when new pods never become ready', async () => {
    await start({ ready: (p) => p.spec?.containers[0]?.image !== 'busybox:broken' });
    await deployments().create(deployment('web', { spec: { replicas: 2, progressDeadlineSeconds: 1 } }));
    await rolledOut('web');
    await edit('web', withImage('busybox:broken'));
    const cond = await waitFor(
      'deadline exceeded',
      async () => (await get('web')).status?.conditions?.find((c) => c.reason === 'ProgressDeadlineExceeded'),
      8_000,
    );
    expect(cond).toMatchObject({ type: 'Progressing', status: 'False' });
    expect(cond.message).toMatch(/has timed out progressing/);
  });

  it('scales a rollout in progress proportionally across its ReplicaSets', async () => {
    await start({ ready: (p) => p.spec?.containers[0]?.image !== 'busybox:broken' });
    await deployments().create(
      deployment('web', {
        spec: {
          replicas: 10,
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } },
        },
      }),
    );
    await rolledOut('web');
    await edit('web', withImage('busybox:broken'));
    // New pods never become ready: the rollout stops at old 8, new 5.
    await waitFor('stuck at 8 + 5', async () => {
      const sizes = setsOf(await get('web')).map((rs) => rs.spec?.replicas);
      return sizes.sort((a, b) => (a ?? 0) - (b ?? 0)).join() === '5,8';
    });
    await edit('web', (spec) => ({ ...spec, replicas: 15 }));
    await waitFor('proportional: old 11, new 7', async () => {
      const sizes = setsOf(await get('web')).map((rs) => rs.spec?.replicas);
      return sizes.sort((a, b) => (a ?? 0) - (b ?? 0)).join() === '7,11';
    });
  });
});
