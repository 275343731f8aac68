/**
 * The taint eviction controller: a pod on a node with a NoExecute taint it does not
 * tolerate is deleted at once; one it tolerates for tolerationSeconds is deleted that
 * long after the taint was added; one it tolerates without a limit stays. Pods without
 * their own toleration of the not-ready and unreachable taints get the one Kubernetes'
 * DefaultTolerationSeconds admission plugin gives every pod (300 s by default).
 * https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
 */
import {
  isNotFound,
  type Node,
  type Pod,
  type ResourceClient,
  type Taint,
  type Toleration,
  taintNodeNotReady,
  taintNodeUnreachable,
  timeToMs,
  toleratesTaint,
  tolerationSecondsFor,
} from '@flotilla/api';
import { byNodeName, type ControllerContext, nodeNameIndex, recorderFor } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler, requeueAfter } from '../controller.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Informer } from '../informer/informer.ts';
import { canonicalJson } from '../json.ts';
import { keyOf, nodesResource, podsResource, splitKey } from '../resources.ts';

export const defaultTolerationSeconds = 300;

export type TaintEvictionOptions = {
  /** How long pods without their own toleration stay on a not-ready or unreachable node. */
  readonly defaultTolerationSeconds?: number;
};

export class TaintEvictionController implements Reconciler {
  readonly name = 'taint-eviction';
  private readonly nodeInformer: Informer<Node>;
  private readonly podInformer: Informer<Pod>;
  private readonly pods: ResourceClient<Pod>;
  private readonly defaultSeconds: number;
  private readonly events: EventRecorder;
  private readonly now: () => number;

  constructor(ctx: ControllerContext, options: TaintEvictionOptions = {}) {
    this.nodeInformer = ctx.informers.informer<Node>(nodesResource);
    this.podInformer = ctx.informers.informer<Pod>(podsResource, { [nodeNameIndex]: byNodeName });
    this.pods = ctx.client.resource<Pod>(podsResource);
    this.defaultSeconds = options.defaultTolerationSeconds ?? defaultTolerationSeconds;
    this.events = recorderFor(ctx, 'taint-eviction-controller');
    this.now = ctx.now;
  }

  watch(enqueue: Enqueue): () => void {
    const noExecute = (n: Node | undefined) =>
      canonicalJson((n?.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute'));
    const enqueuePods = (node: Node) => {
      for (const p of this.podInformer.cache.byIndex(nodeNameIndex, node.metadata.name ?? ''))
        enqueue.add(keyOf(p));
    };
    const offNodes = this.nodeInformer.addHandler({
      onAdd: (n) => {
        if (noExecute(n) !== '[]') enqueuePods(n);
      },
      onUpdate: (prev, n) => {
        if (noExecute(prev) !== noExecute(n)) enqueuePods(n);
      },
    });
    const offPods = this.podInformer.addHandler({
      onAdd: (p) => {
        if (p.spec?.nodeName) enqueue.add(keyOf(p));
      },
      onUpdate: (prev, p) => {
        if (p.spec?.nodeName && (prev.spec?.nodeName !== p.spec.nodeName || prev === p))
          enqueue.add(keyOf(p));
      },
    });
    return () => {
      offNodes();
      offPods();
    };
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const pod = this.podInformer.cache.get(key);
    if (pod === undefined || pod.metadata.deletionTimestamp !== undefined || !pod.spec?.nodeName) return done;
    const node = this.nodeInformer.cache.get(pod.spec.nodeName);
    const taints = (node?.spec?.taints ?? []).filter((t) => t.effect === 'NoExecute');
    if (taints.length === 0) return done;
    const nowMs = this.now();
    const evictAtMs = this.evictionTime(pod, taints);
    if (evictAtMs === undefined) return done;
    if (evictAtMs > nowMs) return requeueAfter(evictAtMs - nowMs);
    this.events.record(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${key}`);
    try {
      await this.pods.delete(name, { namespace, preconditions: { uid: pod.metadata.uid ?? '' } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return done;
  }

  /** When the pod must go (ms), or undefined if it may stay on every taint it sees. */
  private evictionTime(pod: Pod, taints: readonly Taint[]): number | undefined {
    const tolerations = this.tolerationsOf(pod);
    let at: number | undefined;
    for (const taint of taints) {
      const seconds = tolerationSecondsFor(taint, tolerations);
      if (seconds === undefined) continue;
      const added = timeToMs(taint.timeAdded) ?? this.now();
      const due = seconds === 0 ? 0 : added + seconds * 1000;
      at = at === undefined ? due : Math.min(at, due);
    }
    return at;
  }

  /** The pod's tolerations plus the defaults the DefaultTolerationSeconds admission plugin adds. */
  private tolerationsOf(pod: Pod): readonly Toleration[] {
    const own = pod.spec?.tolerations ?? [];
    const extra: Toleration[] = [];
    for (const key of [taintNodeNotReady, taintNodeUnreachable]) {
      const taint: Taint = { key, effect: 'NoExecute' };
      if (!own.some((t) => toleratesTaint(t, taint))) {
        extra.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: this.defaultSeconds });
      }
    }
    return [...own, ...extra];
  }
}
