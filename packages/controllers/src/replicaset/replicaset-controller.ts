/**
 * The ReplicaSet controller: keeps `spec.replicas` active pods that match the selector
 * and are owned by the ReplicaSet, adopting matching orphans and releasing pods that no
 * longer match, and reports what it counts in the status.
 * https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/
 */
import {
  controllerOf,
  controllerRef,
  isAlreadyExists,
  isNotFound,
  isPodActive,
  isPodAvailable,
  isPodReady,
  labelSelectorFromStruct,
  matchesLabels,
  type Pod,
  type ReplicaSet,
  type ReplicaSetCondition,
  type ReplicaSetStatus,
  type ResourceClient,
  type Selector,
  timeFromMs,
  withCondition,
} from '@flotilla/api';
import { byControllerUid, type ControllerContext, controllerUidIndex, recorderFor } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler, requeueAfter } from '../controller.ts';
import { NotLeaderError } from '../errors.ts';
import type { EventRecorder } from '../event-recorder.ts';
import { Expectations } from '../expectations.ts';
import { namespaceIndex } from '../informer/cache.ts';
import type { Informer } from '../informer/informer.ts';
import { sameJson } from '../json.ts';
import { keyFor, keyOf, podsResource, replicaSetsResource } from '../resources.ts';
import { podsToDelete } from './pod-ranking.ts';

/** Most pods created or deleted in one reconcile (Kubernetes' burstReplicas). */
export const burstReplicas = 500;
/** Creates start one at a time and double while they succeed, up to this many at once. */
export const maxCreatesInFlight = 128;

export type ReplicaSetControllerOptions = {
  readonly expectationsTimeoutMs?: number;
};

export class ReplicaSetController implements Reconciler {
  readonly name = 'replicaset';
  private readonly rsInformer: Informer<ReplicaSet>;
  private readonly podInformer: Informer<Pod>;
  private readonly pods: ResourceClient<Pod>;
  private readonly replicaSets: ResourceClient<ReplicaSet>;
  private readonly expectations: Expectations;
  private readonly events: EventRecorder;
  private readonly now: () => number;

  constructor(ctx: ControllerContext, options: ReplicaSetControllerOptions = {}) {
    this.rsInformer = ctx.informers.informer<ReplicaSet>(replicaSetsResource);
    this.podInformer = ctx.informers.informer<Pod>(podsResource, { [controllerUidIndex]: byControllerUid });
    this.pods = ctx.client.resource<Pod>(podsResource);
    this.replicaSets = ctx.client.resource<ReplicaSet>(replicaSetsResource);
    this.expectations = new Expectations(ctx.now, options.expectationsTimeoutMs);
    this.events = recorderFor(ctx, 'replicaset-controller');
    this.now = ctx.now;
  }

  watch(enqueue: Enqueue): () => void {
    const offRs = this.rsInformer.addHandler({
      onAdd: (rs) => enqueue.add(keyOf(rs)),
      onUpdate: (_, rs) => enqueue.add(keyOf(rs)),
      onDelete: (rs) => {
        this.expectations.forget(keyOf(rs));
        enqueue.add(keyOf(rs));
      },
    });
    const offPods = this.podInformer.addHandler({
      onAdd: (pod) => {
        const owner = this.ownerKey(pod);
        if (owner === undefined) return this.enqueueMatching(pod, enqueue);
        if (pod.metadata.deletionTimestamp === undefined) this.expectations.creationObserved(owner);
        else this.expectations.deletionObserved(owner, keyOf(pod));
        enqueue.add(owner);
      },
      onUpdate: (prev, pod) => {
        if (prev.metadata.resourceVersion === pod.metadata.resourceVersion) return;
        const owner = this.ownerKey(pod);
        const prevOwner = this.ownerKey(prev);
        if (pod.metadata.deletionTimestamp !== undefined && prev.metadata.deletionTimestamp === undefined) {
          // Graceful deletion started: for the owner the pod is gone now.
          if (owner !== undefined) this.expectations.deletionObserved(owner, keyOf(pod));
        }
        if (prevOwner !== undefined && prevOwner !== owner) enqueue.add(prevOwner);
        if (owner === undefined) return this.enqueueMatching(pod, enqueue);
        enqueue.add(owner);
        // A pod that just became ready turns available after minReadySeconds.
        const rs = this.rsInformer.cache.get(owner);
        const minReady = rs?.spec?.minReadySeconds ?? 0;
        if (minReady > 0 && !isPodReady(prev) && isPodReady(pod))
          enqueue.addAfter(owner, minReady * 1000 + 1);
      },
      onDelete: (pod) => {
        const owner = this.ownerKey(pod);
        if (owner === undefined) return;
        this.expectations.deletionObserved(owner, keyOf(pod));
        enqueue.add(owner);
      },
    });
    return () => {
      offRs();
      offPods();
    };
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const rs = this.rsInformer.cache.get(key);
    if (rs === undefined) {
      this.expectations.forget(key);
      return done;
    }
    const selector = labelSelectorFromStruct(rs.spec?.selector);
    const needsSync = this.expectations.satisfied(key);
    const owned = await this.claimPods(rs, selector);
    let failure: ReplicaSetCondition | undefined;
    if (needsSync && rs.metadata.deletionTimestamp === undefined) {
      failure = await this.manageReplicas(rs, owned);
    }
    const status = this.statusOf(rs, owned, failure);
    if (!sameJson(status, rs.status)) {
      await this.replicaSets.updateStatus({ ...rs, status });
    }
    const minReady = rs.spec?.minReadySeconds ?? 0;
    const replicas = rs.spec?.replicas ?? 1;
    if (minReady > 0 && status.readyReplicas === replicas && status.availableReplicas !== replicas) {
      return requeueAfter(minReady * 1000);
    }
    return done;
  }

  /** The key of the ReplicaSet controlling `pod`, if a ReplicaSet does. */
  private ownerKey(pod: Pod): string | undefined {
    const ref = controllerOf(pod);
    if (ref === undefined || ref.kind !== 'ReplicaSet') return undefined;
    const key = keyFor(pod.metadata.namespace, ref.name);
    const rs = this.rsInformer.cache.get(key);
    return rs === undefined || rs.metadata.uid === ref.uid ? key : undefined;
  }

  /** An orphan pod: every ReplicaSet whose selector matches it may adopt it. */
  private enqueueMatching(pod: Pod, enqueue: Enqueue): void {
    if (pod.metadata.deletionTimestamp !== undefined) return;
    for (const rs of this.rsInformer.cache.byIndex(namespaceIndex, pod.metadata.namespace ?? '')) {
      if (matchesLabels(labelSelectorFromStruct(rs.spec?.selector), pod.metadata.labels))
        enqueue.add(keyOf(rs));
    }
  }

  /**
   * The active pods this ReplicaSet owns after adopting matching orphans and releasing
   * owned pods that no longer match (Kubernetes' PodControllerRefManager).
   */
  private async claimPods(rs: ReplicaSet, selector: Selector): Promise<Pod[]> {
    const uid = rs.metadata.uid ?? '';
    const owned: Pod[] = [];
    for (const pod of this.podInformer.cache.byIndex(controllerUidIndex, uid)) {
      if (pod.metadata.namespace !== rs.metadata.namespace) continue;
      if (matchesLabels(selector, pod.metadata.labels)) {
        if (isPodActive(pod)) owned.push(pod);
      } else if (rs.metadata.deletionTimestamp === undefined) {
        await this.release(pod, uid);
      }
    }
    if (rs.metadata.deletionTimestamp !== undefined) return owned;
    for (const pod of this.podInformer.cache.byIndex(namespaceIndex, rs.metadata.namespace ?? '')) {
      if (controllerOf(pod) !== undefined || !isPodActive(pod)) continue;
      if (!matchesLabels(selector, pod.metadata.labels)) continue;
      const adopted = await this.adopt(pod, rs);
      if (adopted !== undefined) owned.push(adopted);
    }
    return owned;
  }

  private async adopt(pod: Pod, rs: ReplicaSet): Promise<Pod | undefined> {
    try {
      return await this.pods.update({
        ...pod,
        metadata: {
          ...pod.metadata,
          ownerReferences: [...(pod.metadata.ownerReferences ?? []), controllerRef(rs)],
        },
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async release(pod: Pod, uid: string): Promise<void> {
    try {
      await this.pods.update({
        ...pod,
        metadata: {
          ...pod.metadata,
          ownerReferences: (pod.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid),
        },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Creates or deletes pods toward spec.replicas; a failure comes back as a ReplicaFailure condition. */
  private async manageReplicas(
    rs: ReplicaSet,
    owned: readonly Pod[],
  ): Promise<ReplicaSetCondition | undefined> {
    const key = keyOf(rs);
    const want = rs.spec?.replicas ?? 1;
    const diff = owned.length - want;
    if (diff < 0) {
      const count = Math.min(-diff, burstReplicas);
      this.expectations.expectCreations(key, count);
      const { created, error } = await this.createPods(rs, count);
      if (created < count) this.expectations.lowerCreations(key, count - created);
      if (error !== undefined) {
        this.events.record(rs, 'Warning', 'FailedCreate', `Error creating: ${error.message}`);
        return failureCondition('FailedCreate', error.message, this.now());
      }
    } else if (diff > 0) {
      const victims = podsToDelete(owned, Math.min(diff, burstReplicas));
      this.expectations.expectDeletions(
        key,
        victims.map((p) => keyOf(p)),
      );
      const results = await Promise.allSettled(victims.map((p) => this.deletePod(p)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      results.forEach((r, i) => {
        const victim = victims[i];
        if (r.status === 'rejected' && victim !== undefined)
          this.expectations.deletionObserved(key, keyOf(victim));
      });
      if (failed !== undefined) {
        const message = (failed.reason as Error).message;
        this.events.record(rs, 'Warning', 'FailedDelete', `Error deleting: ${message}`);
        if (failed.reason instanceof NotLeaderError) throw failed.reason;
        return failureCondition('FailedDelete', message, this.now());
      }
    }
    return undefined;
  }

  /** Creates in batches of 1, 2, 4, ... and stops at the first batch with a failure. */
  private async createPods(rs: ReplicaSet, count: number): Promise<{ created: number; error?: Error }> {
    let created = 0;
    let batch = 1;
    while (created < count) {
      const size = Math.min(batch, count - created, maxCreatesInFlight);
      const results = await Promise.allSettled(Array.from({ length: size }, () => this.createPod(rs)));
      const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      created += size - failures.length;
      const first = failures[0];
      if (first !== undefined) {
        const error = first.reason as Error;
        if (error instanceof NotLeaderError) throw error;
        return { created, error };
      }
      batch *= 2;
    }
    return { created };
  }

  private async createPod(rs: ReplicaSet): Promise<void> {
    const template = rs.spec?.template;
    const meta = template?.metadata ?? {};
    try {
      await this.pods.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: `${rs.metadata.name}-`,
          namespace: rs.metadata.namespace ?? 'default',
          ...(meta.labels === undefined ? {} : { labels: meta.labels }),
          ...(meta.annotations === undefined ? {} : { annotations: meta.annotations }),
          ...(meta.finalizers === undefined ? {} : { finalizers: meta.finalizers }),
          ownerReferences: [controllerRef(rs)],
        },
        spec: template?.spec ?? { containers: [] },
      });
    } catch (err) {
      // A generated name can collide; the next reconcile creates what is still missing.
      if (isAlreadyExists(err)) return;
      throw err;
    }
  }

  private async deletePod(pod: Pod): Promise<void> {
    try {
      await this.pods.delete(pod.metadata.name ?? '', {
        namespace: pod.metadata.namespace ?? 'default',
        preconditions: { uid: pod.metadata.uid ?? '' },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private statusOf(
    rs: ReplicaSet,
    owned: readonly Pod[],
    failure: ReplicaSetCondition | undefined,
  ): ReplicaSetStatus {
    const nowMs = this.now();
    const minReady = rs.spec?.minReadySeconds ?? 0;
    const templateLabels = labelSelectorFromStruct({
      matchLabels: rs.spec?.template?.metadata?.labels ?? {},
    });
    let conditions = (rs.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
    if (failure !== undefined) conditions = withCondition(rs.status?.conditions, failure);
    return {
      replicas: owned.length,
      fullyLabeledReplicas: owned.filter((p) => matchesLabels(templateLabels, p.metadata.labels)).length,
      readyReplicas: owned.filter(isPodReady).length,
      availableReplicas: owned.filter((p) => isPodAvailable(p, minReady, nowMs)).length,
      observedGeneration: rs.metadata.generation ?? 0,
      ...(conditions.length === 0 ? {} : { conditions }),
    };
  }
}

function failureCondition(reason: string, message: string, nowMs: number): ReplicaSetCondition {
  return { type: 'ReplicaFailure', status: 'True', reason, message, lastTransitionTime: timeFromMs(nowMs) };
}
