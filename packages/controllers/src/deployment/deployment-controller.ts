/**
 * The Deployment controller: rolls a Deployment's pod template out through ReplicaSets,
 * one per template, named and labelled by the template's hash and numbered by revision
 * annotations. RollingUpdate grows the new ReplicaSet and shrinks the old ones within
 * maxSurge and maxUnavailable; Recreate removes every old pod first. A template equal to
 * an old ReplicaSet's (what `kubectl rollout undo` writes) makes that ReplicaSet the new
 * one again under the next revision. Paused Deployments only scale. Old ReplicaSets
 * beyond revisionHistoryLimit are deleted. Each reconcile takes one step and returns;
 * the ReplicaSets' updates bring it back.
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/
 */
import {
  controllerOf,
  controllerRef,
  type Deployment,
  type DeploymentStatus,
  isAlreadyExists,
  isNotFound,
  isPodTerminal,
  labelSelectorFromStruct,
  matchesLabels,
  type Pod,
  type ReplicaSet,
  type ResourceClient,
} from '@flotilla/api';
import { byControllerUid, type ControllerContext, controllerUidIndex, recorderFor } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler, requeueAfter } from '../controller.ts';
import type { EventRecorder } from '../event-recorder.ts';
import { namespaceIndex } from '../informer/cache.ts';
import type { Informer } from '../informer/informer.ts';
import { sameJson } from '../json.ts';
import { deploymentsResource, keyFor, keyOf, podsResource, replicaSetsResource } from '../resources.ts';
import {
  calculateStatus,
  conditionOf,
  isComplete,
  isProgressing,
  newCondition,
  progressDeadlineInMs,
  reasons,
  removeCondition,
  setCondition,
} from './deployment-status.ts';
import {
  activeOrLatest,
  annotationsNotCopied,
  availableIn,
  byCreation,
  desiredReplicasOf,
  isActive,
  isSaturated,
  maxRevision,
  maxUnavailable,
  newReplicaSetSize,
  podTemplateHashLabel,
  proportionalSizes,
  replicasAnnotations,
  replicasOf,
  revisionAnnotation,
  revisionHistoryAnnotation,
  revisionOf,
  sumOf,
} from './rollout-math.ts';
import { sameTemplate, templateHash } from './template-hash.ts';

type Sets = { readonly newSet: ReplicaSet | undefined; readonly oldSets: readonly ReplicaSet[] };

export class DeploymentController implements Reconciler {
  readonly name = 'deployment';
  private readonly deployInformer: Informer<Deployment>;
  private readonly rsInformer: Informer<ReplicaSet>;
  private readonly podInformer: Informer<Pod>;
  private readonly deployments: ResourceClient<Deployment>;
  private readonly replicaSets: ResourceClient<ReplicaSet>;
  private readonly events: EventRecorder;
  private readonly now: () => number;

  constructor(ctx: ControllerContext) {
    this.deployInformer = ctx.informers.informer<Deployment>(deploymentsResource);
    this.rsInformer = ctx.informers.informer<ReplicaSet>(replicaSetsResource, {
      [controllerUidIndex]: byControllerUid,
    });
    this.podInformer = ctx.informers.informer<Pod>(podsResource, { [controllerUidIndex]: byControllerUid });
    this.deployments = ctx.client.resource<Deployment>(deploymentsResource);
    this.replicaSets = ctx.client.resource<ReplicaSet>(replicaSetsResource);
    this.events = recorderFor(ctx, 'deployment-controller');
    this.now = ctx.now;
  }

  watch(enqueue: Enqueue): () => void {
    const offDeploy = this.deployInformer.addHandler({
      onAdd: (d) => enqueue.add(keyOf(d)),
      onUpdate: (_, d) => enqueue.add(keyOf(d)),
      onDelete: (d) => enqueue.add(keyOf(d)),
    });
    const onSet = (rs: ReplicaSet) => {
      const owner = this.ownerOf(rs);
      if (owner !== undefined) enqueue.add(owner);
      else if (rs.metadata.deletionTimestamp === undefined) this.enqueueMatching(rs, enqueue);
    };
    const offRs = this.rsInformer.addHandler({
      onAdd: onSet,
      onUpdate: (prev, rs) => {
        const prevOwner = this.ownerOf(prev);
        if (prevOwner !== undefined && prevOwner !== this.ownerOf(rs)) enqueue.add(prevOwner);
        onSet(rs);
      },
      onDelete: (rs) => {
        const owner = this.ownerOf(rs);
        if (owner !== undefined) enqueue.add(owner);
      },
    });
    // Recreate waits for every old pod to be gone: their deletions move it on.
    const offPods = this.podInformer.addHandler({
      onDelete: (pod) => {
        const ref = controllerOf(pod);
        if (ref?.kind !== 'ReplicaSet') return;
        const rs = this.rsInformer.cache.get(keyFor(pod.metadata.namespace, ref.name));
        const owner = rs === undefined ? undefined : this.ownerOf(rs);
        if (owner === undefined) return;
        if (this.deployInformer.cache.get(owner)?.spec?.strategy?.type === 'Recreate') enqueue.add(owner);
      },
    });
    return () => {
      offDeploy();
      offRs();
      offPods();
    };
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    let d = this.deployInformer.cache.get(key);
    if (d === undefined) return done;
    const selector = d.spec?.selector ?? {};
    if (
      Object.keys(selector.matchLabels ?? {}).length === 0 &&
      (selector.matchExpressions ?? []).length === 0
    ) {
      // An empty selector would select every pod of the namespace: refuse, as Kubernetes does.
      this.events.record(
        d,
        'Warning',
        'SelectingAll',
        'This deployment is selecting all pods. A non-empty selector is required.',
      );
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        await this.deployments.updateStatus({
          ...d,
          status: { ...d.status, observedGeneration: d.metadata.generation ?? 0 },
        });
      }
      return done;
    }
    const sets = await this.claimReplicaSets(d);
    if (d.metadata.deletionTimestamp !== undefined) {
      const found = this.splitSets(d, sets);
      await this.syncStatus(d, [...found.oldSets, ...(found.newSet ? [found.newSet] : [])], found.newSet);
      return done;
    }
    d = await this.checkPaused(d);
    if (d.spec?.paused === true || this.isScalingEvent(d, sets)) return this.syncScale(d, sets);
    return d.spec?.strategy?.type === 'Recreate'
      ? this.rolloutRecreate(d, sets)
      : this.rolloutRolling(d, sets);
  }

  // ---- ownership ------------------------------------------------------------------------------

  private ownerOf(rs: ReplicaSet): string | undefined {
    const ref = controllerOf(rs);
    if (ref?.kind !== 'Deployment') return undefined;
    const key = keyFor(rs.metadata.namespace, ref.name);
    const d = this.deployInformer.cache.get(key);
    return d === undefined || d.metadata.uid === ref.uid ? key : undefined;
  }

  private enqueueMatching(rs: ReplicaSet, enqueue: Enqueue): void {
    for (const d of this.deployInformer.cache.byIndex(namespaceIndex, rs.metadata.namespace ?? '')) {
      if (matchesLabels(labelSelectorFromStruct(d.spec?.selector), rs.metadata.labels)) enqueue.add(keyOf(d));
    }
  }

  /** The ReplicaSets this Deployment owns, after adopting matching orphans and releasing strays. */
  private async claimReplicaSets(d: Deployment): Promise<ReplicaSet[]> {
    const selector = labelSelectorFromStruct(d.spec?.selector);
    const uid = d.metadata.uid ?? '';
    const owned: ReplicaSet[] = [];
    for (const rs of this.rsInformer.cache.byIndex(controllerUidIndex, uid)) {
      if (rs.metadata.namespace !== d.metadata.namespace) continue;
      if (matchesLabels(selector, rs.metadata.labels)) owned.push(rs);
      else if (d.metadata.deletionTimestamp === undefined) {
        const refs = (rs.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
        await this.ignoreGone(
          this.replicaSets.update({ ...rs, metadata: { ...rs.metadata, ownerReferences: refs } }),
        );
      }
    }
    if (d.metadata.deletionTimestamp !== undefined) return owned;
    for (const rs of this.rsInformer.cache.byIndex(namespaceIndex, d.metadata.namespace ?? '')) {
      if (controllerOf(rs) !== undefined || rs.metadata.deletionTimestamp !== undefined) continue;
      if (!matchesLabels(selector, rs.metadata.labels)) continue;
      const refs = [...(rs.metadata.ownerReferences ?? []), controllerRef(d)];
      const adopted = await this.ignoreGone(
        this.replicaSets.update({ ...rs, metadata: { ...rs.metadata, ownerReferences: refs } }),
      );
      if (adopted !== undefined) owned.push(adopted);
    }
    return owned;
  }

  private async ignoreGone<T>(write: Promise<T>): Promise<T | undefined> {
    try {
      return await write;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The ReplicaSet whose template is the Deployment's (the oldest if several), and the rest. */
  private splitSets(d: Deployment, sets: readonly ReplicaSet[]): Sets {
    const sorted = [...sets].sort(byCreation);
    const newSet = sorted.find((rs) => sameTemplate(rs.spec?.template, d.spec?.template));
    return { newSet, oldSets: sorted.filter((rs) => rs !== newSet) };
  }

  // ---- revisions and the new ReplicaSet --------------------------------------------------------

  /**
   * The new and old ReplicaSets with revisions in order: the new one carries the highest
   * revision (bumped when an old template comes back, its former revisions kept in
   * revision-history), and the Deployment carries the new one's revision. With `create`,
   * a missing new ReplicaSet is created at the size the rollout allows.
   */
  private async syncRevision(
    d: Deployment,
    sets: readonly ReplicaSet[],
    create: boolean,
  ): Promise<Sets & { readonly d: Deployment }> {
    const found = this.splitSets(d, sets);
    const newRevision = maxRevision(found.oldSets) + 1;
    let newSet = found.newSet;
    if (newSet !== undefined) {
      const annotations = this.newSetAnnotations(d, newSet, newRevision);
      const minReady = d.spec?.minReadySeconds ?? 0;
      if (annotations !== undefined || (newSet.spec?.minReadySeconds ?? 0) !== minReady) {
        newSet = await this.replicaSets.update({
          ...newSet,
          metadata: { ...newSet.metadata, annotations: annotations ?? newSet.metadata.annotations ?? {} },
          spec: { ...newSet.spec!, minReadySeconds: minReady },
        });
      }
      d = await this.setRevision(d, String(revisionOf(newSet)));
      if (
        d.spec?.progressDeadlineSeconds !== undefined &&
        conditionOf(d.status, 'Progressing') === undefined
      ) {
        const cond = newCondition(
          'Progressing',
          'True',
          reasons.foundNewReplicaSet,
          `Found new replica set "${newSet.metadata.name}"`,
          this.now(),
        );
        d = await this.deployments.updateStatus({ ...d, status: setCondition(d.status ?? {}, cond) });
      }
      return { newSet, oldSets: found.oldSets, d };
    }
    if (!create) return { newSet: undefined, oldSets: found.oldSets, d };
    const created = await this.createNewSet(d, found.oldSets, newRevision);
    return { newSet: created.rs, oldSets: found.oldSets, d: created.d };
  }

  /** The annotations the new ReplicaSet should have, or undefined when it has them. */
  private newSetAnnotations(
    d: Deployment,
    rs: ReplicaSet,
    newRevision: number,
  ): Readonly<Record<string, string>> | undefined {
    const next: Record<string, string> = { ...(rs.metadata.annotations ?? {}) };
    let changed = false;
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
      if (annotationsNotCopied.has(k) || next[k] === v) continue;
      next[k] = v;
      changed = true;
    }
    const had = rs.metadata.annotations?.[revisionAnnotation];
    if (revisionOf(rs) < newRevision) {
      next[revisionAnnotation] = String(newRevision);
      changed = true;
      // An old template came back (a rollback): remember the revisions it served before.
      if (had !== undefined) {
        const history = next[revisionHistoryAnnotation];
        next[revisionHistoryAnnotation] = history ? `${history},${had}` : had;
      }
    }
    return changed ? next : undefined;
  }

  private async setRevision(d: Deployment, revision: string): Promise<Deployment> {
    if (d.metadata.annotations?.[revisionAnnotation] === revision) return d;
    return this.deployments.update({
      ...d,
      metadata: {
        ...d.metadata,
        annotations: { ...(d.metadata.annotations ?? {}), [revisionAnnotation]: revision },
      },
    });
  }

  private async createNewSet(
    d: Deployment,
    oldSets: readonly ReplicaSet[],
    revision: number,
  ): Promise<{ rs: ReplicaSet; d: Deployment }> {
    const collisions = d.status?.collisionCount ?? 0;
    const hash = templateHash(d.spec?.template, collisions);
    const template = d.spec?.template ?? {};
    const labels = { ...(template.metadata?.labels ?? {}), [podTemplateHashLabel]: hash };
    const copied = Object.fromEntries(
      Object.entries(d.metadata.annotations ?? {}).filter(([k]) => !annotationsNotCopied.has(k)),
    );
    const replicas = newReplicaSetSize(d, oldSets, undefined);
    const rs: ReplicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace ?? 'default',
        labels,
        annotations: { ...copied, [revisionAnnotation]: String(revision), ...replicasAnnotations(d) },
        ownerReferences: [controllerRef(d)],
      },
      spec: {
        replicas,
        minReadySeconds: d.spec?.minReadySeconds ?? 0,
        selector: {
          ...d.spec?.selector,
          matchLabels: { ...(d.spec?.selector.matchLabels ?? {}), [podTemplateHashLabel]: hash },
        },
        template: { ...template, metadata: { ...template.metadata, labels } },
      },
    };
    let created: ReplicaSet;
    try {
      created = await this.replicaSets.create(rs);
    } catch (err) {
      if (isAlreadyExists(err)) {
        const existing = await this.replicaSets.get(rs.metadata.name ?? '', rs.metadata.namespace);
        if (
          controllerOf(existing)?.uid === d.metadata.uid &&
          sameTemplate(existing.spec?.template, d.spec?.template)
        ) {
          return { rs: existing, d };
        }
        // Another template hashed to the same name: count the collision, the next hash differs.
        await this.deployments.updateStatus({
          ...d,
          status: { ...d.status, collisionCount: collisions + 1 },
        });
        throw err;
      }
      if (d.spec?.progressDeadlineSeconds !== undefined) {
        const cond = newCondition(
          'Progressing',
          'False',
          reasons.createError,
          (err as Error).message,
          this.now(),
        );
        await this.deployments.updateStatus({ ...d, status: setCondition(d.status ?? {}, cond) });
      }
      throw err;
    }
    if (replicas > 0) {
      this.events.record(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled up replica set ${created.metadata.name} to ${replicas}`,
      );
    }
    d = await this.setRevision(d, String(revision));
    if (d.spec?.progressDeadlineSeconds !== undefined) {
      const cond = newCondition(
        'Progressing',
        'True',
        reasons.newReplicaSetCreated,
        `Created new replica set "${created.metadata.name}"`,
        this.now(),
      );
      d = await this.deployments.updateStatus({ ...d, status: setCondition(d.status ?? {}, cond) });
    }
    return { rs: created, d };
  }

  // ---- scaling -------------------------------------------------------------------------------

  /** Sets a ReplicaSet's size (and its replica annotations); returns the stored set. */
  private async scaleSet(rs: ReplicaSet, size: number, d: Deployment): Promise<ReplicaSet> {
    const annotations = replicasAnnotations(d);
    const sizeChanges = replicasOf(rs) !== size;
    const annotationsChange = Object.entries(annotations).some(
      ([k, v]) => rs.metadata.annotations?.[k] !== v,
    );
    if (!sizeChanges && !annotationsChange) return rs;
    const updated = await this.replicaSets.update({
      ...rs,
      metadata: { ...rs.metadata, annotations: { ...(rs.metadata.annotations ?? {}), ...annotations } },
      spec: { ...rs.spec!, replicas: size },
    });
    if (sizeChanges) {
      const direction = size > replicasOf(rs) ? 'up' : 'down';
      this.events.record(
        d,
        'Normal',
        'ScalingReplicaSet',
        `Scaled ${direction} replica set ${rs.metadata.name} to ${size} from ${replicasOf(rs)}`,
      );
    }
    return updated;
  }

  /** The Deployment's size changed since its active ReplicaSets were annotated. */
  private isScalingEvent(d: Deployment, sets: readonly ReplicaSet[]): boolean {
    return sets.some((rs) => {
      if (!isActive(rs)) return false;
      const desired = desiredReplicasOf(rs);
      return desired !== undefined && desired !== replicasOf(d);
    });
  }

  /** Paused or resized: scale the ReplicaSets without rolling anything out. */
  private async syncScale(d: Deployment, sets: readonly ReplicaSet[]): Promise<ReconcileResult> {
    const synced = await this.syncRevision(d, sets, false);
    d = synced.d;
    const oldSets = [...synced.oldSets];
    let newSet = synced.newSet;
    const single = activeOrLatest(newSet, oldSets);
    if (single !== undefined) {
      const scaled = await this.scaleSet(single, replicasOf(d), d);
      if (single === newSet) newSet = scaled;
      else oldSets[oldSets.indexOf(single)] = scaled;
    } else if (isSaturated(d, newSet)) {
      for (const [i, rs] of oldSets.entries()) if (isActive(rs)) oldSets[i] = await this.scaleSet(rs, 0, d);
    } else {
      const active = [...oldSets, ...(newSet === undefined ? [] : [newSet])].filter(isActive);
      const sizes = proportionalSizes(d, active);
      for (const rs of active) {
        const scaled = await this.scaleSet(rs, sizes.get(rs.metadata.name ?? '') ?? replicasOf(rs), d);
        if (rs === newSet) newSet = scaled;
        else oldSets[oldSets.indexOf(rs)] = scaled;
      }
    }
    if (d.spec?.paused === true) await this.cleanup(d, oldSets);
    return this.syncStatus(d, [...oldSets, ...(newSet === undefined ? [] : [newSet])], newSet);
  }

  // ---- strategies ------------------------------------------------------------------------------

  private async rolloutRolling(d: Deployment, sets: readonly ReplicaSet[]): Promise<ReconcileResult> {
    const synced = await this.syncRevision(d, sets, true);
    d = synced.d;
    let newSet = synced.newSet!;
    let oldSets = [...synced.oldSets];
    // Grow the new ReplicaSet as far as maxSurge allows.
    if (replicasOf(newSet) !== replicasOf(d)) {
      const size =
        replicasOf(newSet) > replicasOf(d)
          ? replicasOf(d)
          : newReplicaSetSize(d, [...oldSets, newSet], newSet);
      const scaled = await this.scaleSet(newSet, size, d);
      if (replicasOf(scaled) !== replicasOf(newSet)) {
        return this.syncRolloutStatus(d, [...oldSets, scaled], scaled);
      }
      newSet = scaled;
    }
    // Shrink old ReplicaSets as far as maxUnavailable allows.
    const shrunk = await this.shrinkOldSets(d, newSet, oldSets);
    oldSets = shrunk.oldSets;
    if (shrunk.scaledDown) return this.syncRolloutStatus(d, [...oldSets, newSet], newSet);
    if (isComplete(d, calculateStatus(d, [...oldSets, newSet], newSet, this.now()))) {
      oldSets = await this.cleanup(d, oldSets);
    }
    return this.syncRolloutStatus(d, [...oldSets, newSet], newSet);
  }

  /**
   * Kubernetes' reconcileOldReplicaSets: first drop pods of old sets that are not
   * available (that costs no availability), then available ones while more than
   * `replicas - maxUnavailable` pods stay available.
   */
  private async shrinkOldSets(
    d: Deployment,
    newSet: ReplicaSet,
    oldSets: ReplicaSet[],
  ): Promise<{ oldSets: ReplicaSet[]; scaledDown: boolean }> {
    const sorted = [...oldSets].sort(byCreation);
    if (sumOf(sorted, replicasOf) === 0) return { oldSets, scaledDown: false };
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    const newUnavailable = replicasOf(newSet) - (newSet.status?.availableReplicas ?? 0);
    const maxScaledDown = sumOf([...sorted, newSet], replicasOf) - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return { oldSets, scaledDown: false };
    let total = 0;
    for (const [i, rs] of sorted.entries()) {
      if (total >= maxScaledDown) break;
      const unhealthy = replicasOf(rs) - availableIn(rs);
      if (replicasOf(rs) === 0 || unhealthy <= 0) continue;
      const by = Math.min(maxScaledDown - total, unhealthy);
      sorted[i] = await this.scaleSet(rs, replicasOf(rs) - by, d);
      total += by;
    }
    const available = sumOf([...sorted, newSet], availableIn);
    let allowed = available - minAvailable;
    for (const [i, rs] of sorted.entries()) {
      if (allowed <= 0) break;
      const current = sorted[i] ?? rs;
      if (replicasOf(current) === 0) continue;
      const by = Math.min(replicasOf(current), allowed);
      sorted[i] = await this.scaleSet(current, replicasOf(current) - by, d);
      allowed -= by;
      total += by;
    }
    return { oldSets: sorted, scaledDown: total > 0 };
  }

  private async rolloutRecreate(d: Deployment, sets: readonly ReplicaSet[]): Promise<ReconcileResult> {
    const synced = await this.syncRevision(d, sets, false);
    d = synced.d;
    let newSet = synced.newSet;
    let oldSets = [...synced.oldSets];
    let scaledDown = false;
    for (const [i, rs] of oldSets.entries()) {
      if (!isActive(rs)) continue;
      oldSets[i] = await this.scaleSet(rs, 0, d);
      scaledDown = true;
    }
    const all = () => [...oldSets, ...(newSet === undefined ? [] : [newSet])];
    if (scaledDown || this.oldPodsRunning(oldSets)) return this.syncRolloutStatus(d, all(), newSet);
    if (newSet === undefined) {
      const created = await this.syncRevision(d, sets, true);
      d = created.d;
      newSet = created.newSet;
      oldSets = [...created.oldSets];
    }
    if (newSet !== undefined) newSet = await this.scaleSet(newSet, replicasOf(d), d);
    if (isComplete(d, d.status ?? {})) oldSets = await this.cleanup(d, oldSets);
    return this.syncRolloutStatus(d, all(), newSet);
  }

  /** Some pod of an old ReplicaSet has not finished (terminating pods count). */
  private oldPodsRunning(oldSets: readonly ReplicaSet[]): boolean {
    if (sumOf(oldSets, (rs) => rs.status?.replicas ?? 0) > 0) return true;
    return oldSets.some((rs) =>
      this.podInformer.cache
        .byIndex(controllerUidIndex, rs.metadata.uid ?? '')
        .some((p) => !isPodTerminal(p)),
    );
  }

  /** Deletes the oldest empty ReplicaSets beyond revisionHistoryLimit; returns the rest. */
  private async cleanup(d: Deployment, oldSets: ReplicaSet[]): Promise<ReplicaSet[]> {
    const limit = d.spec?.revisionHistoryLimit;
    if (limit === undefined) return oldSets;
    const cleanable = oldSets.filter(
      (rs) =>
        replicasOf(rs) === 0 &&
        (rs.status?.replicas ?? 0) === 0 &&
        (rs.status?.observedGeneration ?? 0) >= (rs.metadata.generation ?? 0) &&
        rs.metadata.deletionTimestamp === undefined,
    );
    const excess = cleanable.length - limit;
    if (excess <= 0) return oldSets;
    const doomed = cleanable.sort((a, b) => revisionOf(a) - revisionOf(b)).slice(0, excess);
    for (const rs of doomed) {
      await this.ignoreGone(
        this.replicaSets.delete(rs.metadata.name ?? '', {
          namespace: rs.metadata.namespace ?? 'default',
          preconditions: { uid: rs.metadata.uid ?? '' },
        }),
      );
    }
    return oldSets.filter((rs) => !doomed.includes(rs));
  }

  // ---- status --------------------------------------------------------------------------------

  private async checkPaused(d: Deployment): Promise<Deployment> {
    if (d.spec?.progressDeadlineSeconds === undefined) return d;
    const cond = conditionOf(d.status, 'Progressing');
    if (cond?.reason === reasons.timedOut) return d;
    const pausedShown = cond?.reason === reasons.paused;
    let next: DeploymentStatus | undefined;
    if (d.spec.paused === true && !pausedShown) {
      next = setCondition(
        d.status ?? {},
        newCondition('Progressing', 'Unknown', reasons.paused, 'Deployment is paused', this.now()),
      );
    } else if (d.spec.paused !== true && pausedShown) {
      next = setCondition(
        d.status ?? {},
        newCondition('Progressing', 'Unknown', reasons.resumed, 'Deployment is resumed', this.now()),
      );
    }
    return next === undefined ? d : this.deployments.updateStatus({ ...d, status: next });
  }

  /** Counts only (paused, scaling, being deleted). */
  private async syncStatus(
    d: Deployment,
    all: readonly ReplicaSet[],
    newSet: ReplicaSet | undefined,
  ): Promise<ReconcileResult> {
    const status = calculateStatus(d, all, newSet, this.now());
    if (!sameJson(status, d.status ?? {})) await this.deployments.updateStatus({ ...d, status });
    return done;
  }

  /** Counts and the Progressing and ReplicaFailure conditions; requeues to catch the progress deadline. */
  private async syncRolloutStatus(
    d: Deployment,
    all: readonly ReplicaSet[],
    newSet: ReplicaSet | undefined,
  ): Promise<ReconcileResult> {
    const nowMs = this.now();
    let status = calculateStatus(d, all, newSet, nowMs);
    const what =
      newSet === undefined ? `Deployment "${d.metadata.name}"` : `ReplicaSet "${newSet.metadata.name}"`;
    if (d.spec?.progressDeadlineSeconds === undefined) {
      status = removeCondition(status, 'Progressing');
    } else {
      const current = conditionOf(d.status, 'Progressing');
      const completeShown =
        status.replicas === status.updatedReplicas && current?.reason === reasons.newReplicaSetAvailable;
      if (!completeShown) {
        if (isComplete(d, status)) {
          status = setCondition(
            status,
            newCondition(
              'Progressing',
              'True',
              reasons.newReplicaSetAvailable,
              `${what} has successfully progressed.`,
              nowMs,
            ),
          );
        } else if (isProgressing(d, status)) {
          // Progress refreshes lastUpdateTime even when status and reason stay the same.
          let cond = newCondition(
            'Progressing',
            'True',
            reasons.replicaSetUpdated,
            `${what} is progressing.`,
            nowMs,
          );
          if (current?.status === 'True' && current.lastTransitionTime !== undefined) {
            cond = { ...cond, lastTransitionTime: current.lastTransitionTime };
          }
          status = setCondition(removeCondition(status, 'Progressing'), cond);
        } else if ((progressDeadlineInMs(d, status, nowMs) ?? 1) <= 0) {
          status = setCondition(
            status,
            newCondition(
              'Progressing',
              'False',
              reasons.timedOut,
              `${what} has timed out progressing.`,
              nowMs,
            ),
          );
        }
      }
    }
    const failure = all.flatMap((rs) => rs.status?.conditions ?? []).find((c) => c.type === 'ReplicaFailure');
    status =
      failure === undefined
        ? removeCondition(status, 'ReplicaFailure')
        : setCondition(status, {
            type: 'ReplicaFailure',
            status: failure.status,
            ...(failure.reason === undefined ? {} : { reason: failure.reason }),
            ...(failure.message === undefined ? {} : { message: failure.message }),
            ...(failure.lastTransitionTime === undefined
              ? {}
              : {
                  lastTransitionTime: failure.lastTransitionTime,
                  lastUpdateTime: failure.lastTransitionTime,
                }),
          });
    if (!sameJson(status, d.status ?? {})) {
      d = await this.deployments.updateStatus({ ...d, status });
    }
    if (isComplete(d, status)) return done;
    const leftMs = progressDeadlineInMs(d, status, nowMs);
    return leftMs !== undefined && leftMs > 0 ? requeueAfter(leftMs + 1000) : done;
  }
}
