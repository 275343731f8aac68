/**
 * The garbage collector: deletes objects whose owners are all gone (background cascade),
 * deletes the dependents of an owner being deleted in the foreground and lets the owner
 * go once no dependent blocks it, and orphans the dependents of an owner deleted with
 * propagationPolicy Orphan. An owner missing from the cache is looked up on the API
 * server before anything is deleted for its absence: caches of different resources
 * are not in step, and a dependent can be seen before its owner.
 * https://kubernetes.io/docs/concepts/architecture/garbage-collection/
 */
import {
  findResource,
  foregroundFinalizer,
  isNotFound,
  type KubeObject,
  type OwnerReference,
  orphanFinalizer,
  type ResourceClient,
  type ResourceInfo,
  type ResourceRef,
  resourceForKind,
} from '@flotilla/api';
import { byOwnerUid, type ControllerContext, ownerUidIndex } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler } from '../controller.ts';
import type { IndexFunc } from '../informer/cache.ts';
import type { Informer } from '../informer/informer.ts';
import { sameJson } from '../json.ts';
import {
  configMapsResource,
  deploymentsResource,
  endpointSlicesResource,
  endpointsResource,
  keyFor,
  leasesResource,
  nodesResource,
  persistentVolumeClaimsResource,
  persistentVolumesResource,
  podsResource,
  replicaSetsResource,
  secretsResource,
  servicesResource,
} from '../resources.ts';

/** The resources whose objects the collector tracks as owners and dependents. */
export const defaultCollectedResources: readonly ResourceRef[] = [
  podsResource,
  replicaSetsResource,
  deploymentsResource,
  servicesResource,
  endpointsResource,
  endpointSlicesResource,
  configMapsResource,
  secretsResource,
  persistentVolumeClaimsResource,
  persistentVolumesResource,
  nodesResource,
  leasesResource,
];

export type GarbageCollectorOptions = { readonly resources?: readonly ResourceRef[] };

const uidIndex = 'uid';
const byUid: IndexFunc<KubeObject> = (o) => (o.metadata.uid ? [o.metadata.uid] : []);

type Monitor = {
  readonly info: ResourceInfo;
  readonly informer: Informer<KubeObject>;
  readonly client: ResourceClient<KubeObject>;
};

/** Owner state, as the collector classifies each owner reference. */
type OwnerState = 'solid' | 'dangling' | 'waiting' | 'unknown';

const monitorKey = (info: { group: string; plural: string }) => `${info.group}/${info.plural}`;

export class GarbageCollector implements Reconciler {
  readonly name = 'garbage-collector';
  private readonly monitors = new Map<string, Monitor>();
  private readonly ctx: ControllerContext;

  constructor(ctx: ControllerContext, options: GarbageCollectorOptions = {}) {
    this.ctx = ctx;
    for (const ref of options.resources ?? defaultCollectedResources) {
      const info = findResource(ref.group, ref.version, ref.resource);
      if (info === undefined) continue;
      const informer = ctx.informers.informer<KubeObject>(ref, {
        [ownerUidIndex]: byOwnerUid,
        [uidIndex]: byUid,
      });
      this.monitors.set(monitorKey(info), { info, informer, client: ctx.client.resource<KubeObject>(ref) });
    }
  }

  watch(enqueue: Enqueue): () => void {
    const offs: (() => void)[] = [];
    for (const m of this.monitors.values()) {
      const item = (o: KubeObject) => itemKey(m.info, o);
      offs.push(
        m.informer.addHandler({
          onAdd: (o) => {
            if ((o.metadata.ownerReferences ?? []).length > 0 || hasGcFinalizer(o)) enqueue.add(item(o));
          },
          onUpdate: (prev, o) => {
            const changed =
              prev === o ||
              !sameJson(prev.metadata.ownerReferences, o.metadata.ownerReferences) ||
              prev.metadata.deletionTimestamp !== o.metadata.deletionTimestamp ||
              !sameJson(prev.metadata.finalizers, o.metadata.finalizers);
            if (changed && ((o.metadata.ownerReferences ?? []).length > 0 || hasGcFinalizer(o)))
              enqueue.add(item(o));
          },
          onDelete: (o) => {
            // Its dependents may now be dangling; its owners may be waiting for it.
            for (const d of this.dependentsOf(o.metadata.uid ?? '')) enqueue.add(d.key);
            for (const ref of o.metadata.ownerReferences ?? []) {
              for (const owner of this.byUid(ref.uid)) enqueue.add(owner.key);
            }
          },
        }),
      );
    }
    return () => {
      for (const off of offs) off();
    };
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const found = this.lookup(key);
    if (found === undefined) return done;
    const { monitor, obj } = found;
    const finalizers = obj.metadata.finalizers ?? [];
    if (obj.metadata.deletionTimestamp !== undefined && finalizers.includes(orphanFinalizer)) {
      await this.orphanDependents(monitor, obj);
      return done;
    }
    if (obj.metadata.deletionTimestamp !== undefined && finalizers.includes(foregroundFinalizer)) {
      await this.deleteDependentsFirst(monitor, obj);
    }
    if ((obj.metadata.ownerReferences ?? []).length > 0) await this.checkOwners(monitor, obj);
    return done;
  }

  // ---- owners ----------------------------------------------------------------------------------

  /** Deletes `obj` if every owner is gone, or drops the references to the owners that are. */
  private async checkOwners(monitor: Monitor, obj: KubeObject): Promise<void> {
    const refs = obj.metadata.ownerReferences ?? [];
    const states = await Promise.all(refs.map((r) => this.ownerState(obj, r)));
    if (states.includes('unknown')) return;
    const dangling = refs.filter((_, i) => states[i] === 'dangling');
    if (dangling.length === 0) return;
    if (states.includes('solid')) {
      // Other owners remain: only forget the ones that are gone.
      const kept = refs.filter((_, i) => states[i] !== 'dangling');
      await this.ignoreGone(
        monitor.client.update({ ...obj, metadata: { ...obj.metadata, ownerReferences: kept } }),
      );
      return;
    }
    if (obj.metadata.deletionTimestamp !== undefined) return;
    // An owner deleted in the foreground waits for this one: cascade the same way.
    const policy = states.includes('waiting')
      ? 'Foreground'
      : (obj.metadata.finalizers ?? []).includes(orphanFinalizer)
        ? 'Orphan'
        : 'Background';
    await this.ignoreGone(
      monitor.client.delete(obj.metadata.name ?? '', {
        ...(obj.metadata.namespace === undefined ? {} : { namespace: obj.metadata.namespace }),
        propagationPolicy: policy,
        preconditions: { uid: obj.metadata.uid ?? '' },
      }),
    );
  }

  private async ownerState(dependent: KubeObject, ref: OwnerReference): Promise<OwnerState> {
    const info = resourceForKind(ref.apiVersion, ref.kind);
    if (info === undefined) return 'unknown';
    const namespace = info.namespaced ? dependent.metadata.namespace : undefined;
    const monitor = this.monitors.get(monitorKey(info));
    let owner = monitor?.informer.cache.get(keyFor(namespace, ref.name));
    if (owner?.metadata.uid !== ref.uid) {
      // Absent from the cache (or another object of the same name): ask the API server.
      try {
        owner = await this.ctx.client
          .resource<KubeObject>({ group: info.group, version: info.version, resource: info.plural })
          .get(ref.name, namespace);
      } catch (err) {
        if (isNotFound(err)) return 'dangling';
        throw err;
      }
      if (owner.metadata.uid !== ref.uid) return 'dangling';
    }
    const deletingForeground =
      owner.metadata.deletionTimestamp !== undefined &&
      (owner.metadata.finalizers ?? []).includes(foregroundFinalizer);
    return deletingForeground ? 'waiting' : 'solid';
  }

  // ---- foreground and orphan ----------------------------------------------------------------------

  /**
   * Foreground deletion: delete every dependent, and remove the owner's finalizer once no
   * dependent that blocks owner deletion remains.
   */
  private async deleteDependentsFirst(monitor: Monitor, owner: KubeObject): Promise<void> {
    const uid = owner.metadata.uid ?? '';
    const dependents = this.dependentsOf(uid);
    for (const d of dependents) {
      if (d.obj.metadata.deletionTimestamp !== undefined) continue;
      await this.ignoreGone(
        d.monitor.client.delete(d.obj.metadata.name ?? '', {
          ...(d.obj.metadata.namespace === undefined ? {} : { namespace: d.obj.metadata.namespace }),
          propagationPolicy: 'Foreground',
          preconditions: { uid: d.obj.metadata.uid ?? '' },
        }),
      );
    }
    const blocking = dependents.some((d) =>
      (d.obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid && r.blockOwnerDeletion === true),
    );
    if (!blocking) await this.removeFinalizer(monitor, owner, foregroundFinalizer);
  }

  /** Orphan deletion: take the owner out of every dependent's references, then let it go. */
  private async orphanDependents(monitor: Monitor, owner: KubeObject): Promise<void> {
    const uid = owner.metadata.uid ?? '';
    for (const d of this.dependentsOf(uid)) {
      const refs = (d.obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
      await this.ignoreGone(
        d.monitor.client.update({ ...d.obj, metadata: { ...d.obj.metadata, ownerReferences: refs } }),
      );
    }
    await this.removeFinalizer(monitor, owner, orphanFinalizer);
  }

  private async removeFinalizer(monitor: Monitor, obj: KubeObject, finalizer: string): Promise<void> {
    const finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    await this.ignoreGone(monitor.client.update({ ...obj, metadata: { ...obj.metadata, finalizers } }));
  }

  // ---- lookups -------------------------------------------------------------------------------

  private dependentsOf(uid: string): { key: string; monitor: Monitor; obj: KubeObject }[] {
    const out: { key: string; monitor: Monitor; obj: KubeObject }[] = [];
    if (uid === '') return out;
    for (const m of this.monitors.values()) {
      for (const obj of m.informer.cache.byIndex(ownerUidIndex, uid))
        out.push({ key: itemKey(m.info, obj), monitor: m, obj });
    }
    return out;
  }

  private byUid(uid: string): { key: string }[] {
    const out: { key: string }[] = [];
    for (const m of this.monitors.values()) {
      for (const obj of m.informer.cache.byIndex(uidIndex, uid)) out.push({ key: itemKey(m.info, obj) });
    }
    return out;
  }

  private lookup(key: string): { monitor: Monitor; obj: KubeObject } | undefined {
    const [group, plural, namespace, name] = key.split('|') as [string, string, string, string];
    const monitor = this.monitors.get(`${group}/${plural}`);
    const obj = monitor?.informer.cache.get(keyFor(namespace, name));
    return monitor === undefined || obj === undefined ? undefined : { monitor, obj };
  }

  private async ignoreGone(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

function itemKey(info: ResourceInfo, obj: KubeObject): string {
  return `${info.group}|${info.plural}|${obj.metadata.namespace ?? ''}|${obj.metadata.name ?? ''}`;
}

function hasGcFinalizer(obj: KubeObject): boolean {
  const f = obj.metadata.finalizers ?? [];
  return f.includes(orphanFinalizer) || f.includes(foregroundFinalizer);
}
