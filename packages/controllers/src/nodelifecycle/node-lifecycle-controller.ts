/**
 * The node lifecycle controller: a node not heard from (Lease renewals, status
 * heartbeats) for the grace period gets its Ready condition set to Unknown and its pods
 * marked not ready; nodes whose Ready condition is False or Unknown carry the
 * `node.kubernetes.io/not-ready` or `unreachable` taints, NoSchedule (keep new pods off)
 * and NoExecute (the taint eviction controller then evicts their pods), and lose them
 * when Ready is True again.
 * https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller
 * https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
 */
import {
  isPodReady,
  type Node,
  type NodeCondition,
  nodeCondition,
  type Pod,
  type ResourceClient,
  type Taint,
  taintNodeNotReady,
  taintNodeUnreachable,
  timeFromMs,
  withCondition,
} from '@flotilla/api';
import { byNodeName, type ControllerContext, nodeNameIndex, recorderFor } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler, requeueAfter } from '../controller.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Informer } from '../informer/informer.ts';
import { keyOf, nodesResource, podsResource } from '../resources.ts';
import type { NodeHeartbeats } from './node-heartbeats.ts';

/** Kubernetes' --node-monitor-grace-period. */
export const defaultNodeMonitorGracePeriodMs = 40_000;

export type NodeLifecycleOptions = {
  readonly heartbeats: NodeHeartbeats;
  readonly nodeMonitorGracePeriodMs?: number;
};

/** The conditions the kubelet reports that go Unknown with it. */
const reportedConditions = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

/** The taints a node should carry for its Ready condition: [key, effect] pairs. */
function wantedTaints(ready: NodeCondition | undefined): ReadonlySet<string> {
  const key =
    ready === undefined || ready.status === 'Unknown'
      ? taintNodeUnreachable
      : ready.status === 'False'
        ? taintNodeNotReady
        : undefined;
  return new Set(key === undefined ? [] : [`${key}:NoSchedule`, `${key}:NoExecute`]);
}

const managed = new Set([taintNodeNotReady, taintNodeUnreachable]);

export class NodeLifecycleController implements Reconciler {
  readonly name = 'node-lifecycle';
  private readonly nodeInformer: Informer<Node>;
  private readonly podInformer: Informer<Pod>;
  private readonly nodes: ResourceClient<Node>;
  private readonly pods: ResourceClient<Pod>;
  private readonly heartbeats: NodeHeartbeats;
  private readonly graceMs: number;
  private readonly events: EventRecorder;
  private readonly now: () => number;

  constructor(ctx: ControllerContext, options: NodeLifecycleOptions) {
    this.nodeInformer = ctx.informers.informer<Node>(nodesResource);
    this.podInformer = ctx.informers.informer<Pod>(podsResource, { [nodeNameIndex]: byNodeName });
    this.nodes = ctx.client.resource<Node>(nodesResource);
    this.pods = ctx.client.resource<Pod>(podsResource);
    this.heartbeats = options.heartbeats;
    this.graceMs = options.nodeMonitorGracePeriodMs ?? defaultNodeMonitorGracePeriodMs;
    this.events = recorderFor(ctx, 'node-controller');
    this.now = ctx.now;
  }

  watch(enqueue: Enqueue): () => void {
    const offNodes = this.nodeInformer.addHandler({
      onAdd: (n) => enqueue.add(keyOf(n)),
      onUpdate: (_, n) => enqueue.add(keyOf(n)),
    });
    const offBeats = this.heartbeats.onHeartbeat((node) => enqueue.add(node));
    return () => {
      offNodes();
      offBeats();
    };
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    let node = this.nodeInformer.cache.get(key);
    if (node === undefined) return done;
    const nowMs = this.now();
    const silentForMs = nowMs - this.heartbeats.lastHeardMs(key);
    const ready = nodeCondition(node, 'Ready');
    if (silentForMs >= this.graceMs && ready?.status !== 'Unknown') {
      node = await this.markUnknown(node, nowMs);
      this.events.record(node, 'Normal', 'NodeNotReady', `Node ${key} status is now: NodeNotReady`);
    }
    node = await this.syncTaints(node, nowMs);
    const readyNow = nodeCondition(node, 'Ready');
    if (readyNow?.status !== 'True') await this.markPodsNotReady(key, nowMs);
    // Come back when the grace period would run out without another heartbeat.
    return silentForMs < this.graceMs ? requeueAfter(this.graceMs - silentForMs) : done;
  }

  private async markUnknown(node: Node, nowMs: number): Promise<Node> {
    const now = timeFromMs(nowMs);
    let conditions = [...(node.status?.conditions ?? [])];
    if (nodeCondition(node, 'Ready') === undefined) {
      conditions.push({
        type: 'Ready',
        status: 'Unknown',
        reason: 'NodeStatusNeverUpdated',
        message: 'Kubelet never posted node status.',
        lastHeartbeatTime: timeFromMs(nowMs),
        lastTransitionTime: now,
      });
    }
    conditions = conditions.map((c) =>
      reportedConditions.includes(c.type) && c.status !== 'Unknown'
        ? {
            ...c,
            status: 'Unknown',
            reason: 'NodeStatusUnknown',
            message: 'Kubelet stopped posting node status.',
            lastTransitionTime: now,
          }
        : c,
    );
    return this.nodes.updateStatus({ ...node, status: { ...node.status, conditions } });
  }

  private async syncTaints(node: Node, nowMs: number): Promise<Node> {
    const wanted = wantedTaints(nodeCondition(node, 'Ready'));
    const taints = node.spec?.taints ?? [];
    const kept = taints.filter((t) => !managed.has(t.key) || wanted.has(`${t.key}:${t.effect}`));
    const have = new Set(kept.filter((t) => managed.has(t.key)).map((t) => `${t.key}:${t.effect}`));
    const added: Taint[] = [...wanted]
      .filter((w) => !have.has(w))
      .map((w) => {
        const [key, effect] = w.split(':') as [string, Taint['effect']];
        return effect === 'NoExecute' ? { key, effect, timeAdded: timeFromMs(nowMs) } : { key, effect };
      });
    if (added.length === 0 && kept.length === taints.length) return node;
    const next = [...kept, ...added];
    const { taints: _old, ...spec } = node.spec ?? {};
    return this.nodes.update({ ...node, spec: next.length === 0 ? spec : { ...spec, taints: next } });
  }

  /** Pods on a node that is not ready are not ready either (Kubernetes' MarkPodsNotReady). */
  private async markPodsNotReady(node: string, nowMs: number): Promise<void> {
    for (const pod of this.podInformer.cache.byIndex(nodeNameIndex, node)) {
      if (!isPodReady(pod) || pod.metadata.deletionTimestamp !== undefined) continue;
      const conditions = withCondition(pod.status?.conditions, {
        type: 'Ready',
        status: 'False',
        lastTransitionTime: timeFromMs(nowMs),
      });
      await this.pods.updateStatus({ ...pod, status: { ...pod.status, conditions } });
    }
  }
}
