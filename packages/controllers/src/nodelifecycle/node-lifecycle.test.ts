import {
  isNotFound,
  type Lease,
  microTimeFromMs,
  type Node,
  nodeCondition,
  type Pod,
  type Toleration,
  timeFromMs,
  timeToMs,
  withCondition,
} from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { leasesResource, nodeLeaseNamespace, nodesResource, podsResource } from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { lease, node, pod } from '../testing/objects.ts';
import { waitFor } from '../testing/wait.ts';
import { NodeHeartbeats } from './node-heartbeats.ts';
import { NodeLifecycleController } from './node-lifecycle-controller.ts';
import { TaintEvictionController } from './taint-eviction-controller.ts';

let h: Harness;
const timers: NodeJS.Timeout[] = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  await h.stop();
});

/** Renews `name`'s Lease every 100 ms while `alive()`; the kubelet posts Ready when it comes back. */
function heartbeat(name: string, alive: () => boolean): void {
  const leases = h.api.resource<Lease>(leasesResource);
  const nodes = h.api.resource<Node>(nodesResource);
  timers.push(
    setInterval(async () => {
      if (!alive()) return;
      const l = await leases.get(name, nodeLeaseNamespace);
      await leases.update({ ...l, spec: { ...l.spec, renewTime: microTimeFromMs(Date.now()) } });
      const n = await nodes.get(name);
      if (nodeCondition(n, 'Ready')?.status !== 'True') {
        const conditions = withCondition(n.status?.conditions, {
          type: 'Ready',
          status: 'True',
          lastHeartbeatTime: timeFromMs(Date.now()),
          lastTransitionTime: timeFromMs(Date.now()),
        });
        await nodes.updateStatus({ ...n, status: { ...n.status, conditions } });
      }
    }, 100),
  );
}

const unreachable = (seconds?: number): Toleration => ({
  key: 'node.kubernetes.io/unreachable',
  operator: 'Exists',
  effect: 'NoExecute',
  ...(seconds === undefined ? {} : { tolerationSeconds: seconds }),
});

describe('node lifecycle and taint eviction', () => {
  it('marks a silent node Unknown, taints it, and evicts its pods by their tolerations', async () => {
    h = new Harness();
    const heartbeats = new NodeHeartbeats(h.informers, Date.now);
    for (const n of ['n1', 'n2']) {
      await h.api.resource<Node>(nodesResource).create(node(n));
      await h.api.resource<Lease>(leasesResource).create(lease(n, nodeLeaseNamespace, { holderIdentity: n }));
    }
    const pods = h.api.resource<Pod>(podsResource);
    const place = async (name: string, on: string, tolerations: Toleration[] = []) => {
      await pods.create(pod(name, { spec: { tolerations } }));
      await h.api.bind('default', name, on);
    };
    await place('plain', 'n1');
    await place('forever', 'n1', [unreachable()]);
    await place('never', 'n1', [unreachable(0)]);
    await place('elsewhere', 'n2');
    h.kubelet({ boundOnly: true });
    let n1Alive = true;
    heartbeat('n1', () => n1Alive);
    heartbeat('n2', () => true);
    await h.run(
      (ctx) => new NodeLifecycleController(ctx, { heartbeats, nodeMonitorGracePeriodMs: 600 }),
      (ctx) => new TaintEvictionController(ctx, { defaultTolerationSeconds: 2 }),
    );
    await waitFor('pods running', async () =>
      (await pods.list()).items.every((p) => p.status?.phase === 'Running'),
    );
    await new Promise((r) => setTimeout(r, 800));
    expect(nodeCondition(await h.api.resource<Node>(nodesResource).get('n1'), 'Ready')?.status).toBe('True');

    const silentAt = Date.now();
    n1Alive = false;
    const n1 = await waitFor('n1 unknown', async () => {
      const n = await h.api.resource<Node>(nodesResource).get('n1');
      return nodeCondition(n, 'Ready')?.status === 'Unknown' && (n.spec?.taints ?? []).length === 2
        ? n
        : undefined;
    });
    expect(Date.now() - silentAt).toBeGreaterThanOrEqual(600 - 100);
    expect(nodeCondition(n1, 'Ready')).toMatchObject({ reason: 'NodeStatusUnknown' });
    expect(n1.spec?.taints?.map((t) => `${t.key}:${t.effect}`).sort()).toEqual([
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/unreachable:NoSchedule',
    ]);
    // Evicted: marked for deletion, or already removed by the kubelet stand-in.
    const deleting = async (name: string) => {
      try {
        return (await pods.get(name)).metadata.deletionTimestamp !== undefined;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    };
    await waitFor('never evicted', () => deleting('never'), 1_000);
    expect(await deleting('plain')).toBe(false);
    const taintedAt = timeToMs(n1.spec?.taints?.find((t) => t.effect === 'NoExecute')?.timeAdded) ?? 0;
    await waitFor('plain evicted after its default toleration', () => deleting('plain'), 4_000);
    expect(Date.now()).toBeGreaterThanOrEqual(taintedAt + 2_000);
    expect(await deleting('forever')).toBe(false);
    expect(await deleting('elsewhere')).toBe(false);
    expect((await pods.get('forever')).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe(
      'False',
    );
    const n2 = await h.api.resource<Node>(nodesResource).get('n2');
    expect(n2.spec?.taints ?? []).toEqual([]);

    n1Alive = true;
    await waitFor(
      'taints removed',
      async () => ((await h.api.resource<Node>(nodesResource).get('n1')).spec?.taints ?? []).length === 0,
    );
  });
});
