/**
 * The PersistentVolume binder (the binding half of Kubernetes' persistentvolume
 * controller): a pending claim is bound to the smallest available volume of its storage
 * class that offers its access modes, volume mode and requested capacity and matches its
 * selector (or to the volume it names); the volume's claimRef is written first, so two
 * claims can never take one volume. A volume whose claim is gone is Released, and
 * deleted when its reclaim policy is Delete.
 * https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding
 */
import {
  compareQuantities,
  isNotFound,
  labelSelectorFromStruct,
  matchesLabels,
  type PersistentVolume,
  type PersistentVolumeClaim,
  parseQuantity,
  type ResourceClient,
} from '@flotilla/api';
import { type ControllerContext, recorderFor } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler } from '../controller.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Informer } from '../informer/informer.ts';
import { keyFor, keyOf, persistentVolumeClaimsResource, persistentVolumesResource } from '../resources.ts';

export const boundByControllerAnnotation = 'pv.kubernetes.io/bound-by-controller';
export const bindCompletedAnnotation = 'pv.kubernetes.io/bind-completed';

const claimKey = (key: string) => `claim:${key}`;
const volumeKey = (name: string) => `volume:${name}`;

function storageOf(list: Readonly<Record<string, string>> | undefined) {
  const v = list?.storage;
  return v === undefined ? undefined : parseQuantity(v);
}

/** The volume offers what the claim asks for (class, mode, access modes, size, labels). */
export function volumeFits(pv: PersistentVolume, claim: PersistentVolumeClaim): boolean {
  if ((pv.spec?.storageClassName ?? '') !== (claim.spec?.storageClassName ?? '')) return false;
  if ((pv.spec?.volumeMode ?? 'Filesystem') !== (claim.spec?.volumeMode ?? 'Filesystem')) return false;
  const modes = pv.spec?.accessModes ?? [];
  if (!(claim.spec?.accessModes ?? []).every((m) => modes.includes(m))) return false;
  const want = storageOf(claim.spec?.resources?.requests);
  const have = storageOf(pv.spec?.capacity);
  if (want !== undefined && (have === undefined || compareQuantities(have, want) < 0)) return false;
  if (claim.spec?.selector !== undefined) {
    return matchesLabels(labelSelectorFromStruct(claim.spec.selector), pv.metadata.labels);
  }
  return true;
}

export class PersistentVolumeBinder implements Reconciler {
  readonly name = 'persistentvolume-binder';
  private readonly claimsInformer: Informer<PersistentVolumeClaim>;
  private readonly volumesInformer: Informer<PersistentVolume>;
  private readonly claims: ResourceClient<PersistentVolumeClaim>;
  private readonly volumes: ResourceClient<PersistentVolume>;
  private readonly events: EventRecorder;

  constructor(ctx: ControllerContext) {
    this.claimsInformer = ctx.informers.informer<PersistentVolumeClaim>(persistentVolumeClaimsResource);
    this.volumesInformer = ctx.informers.informer<PersistentVolume>(persistentVolumesResource);
    this.claims = ctx.client.resource<PersistentVolumeClaim>(persistentVolumeClaimsResource);
    this.volumes = ctx.client.resource<PersistentVolume>(persistentVolumesResource);
    this.events = recorderFor(ctx, 'persistentvolume-controller');
  }

  watch(enqueue: Enqueue): () => void {
    const offClaims = this.claimsInformer.addHandler({
      onAdd: (c) => enqueue.add(claimKey(keyOf(c))),
      onUpdate: (_, c) => enqueue.add(claimKey(keyOf(c))),
      onDelete: (c) => {
        if (c.spec?.volumeName) enqueue.add(volumeKey(c.spec.volumeName));
      },
    });
    const pendingClaims = () => {
      for (const c of this.claimsInformer.cache.values()) {
        if (!c.spec?.volumeName) enqueue.add(claimKey(keyOf(c)));
      }
    };
    const offVolumes = this.volumesInformer.addHandler({
      onAdd: (v) => {
        enqueue.add(volumeKey(keyOf(v)));
        pendingClaims();
      },
      onUpdate: (_, v) => {
        enqueue.add(volumeKey(keyOf(v)));
        if (v.spec?.claimRef === undefined) pendingClaims();
      },
    });
    return () => {
      offClaims();
      offVolumes();
    };
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    if (key.startsWith('claim:')) await this.syncClaim(key.slice('claim:'.length));
    else await this.syncVolume(key.slice('volume:'.length));
    return done;
  }

  private async syncClaim(key: string): Promise<void> {
    const claim = this.claimsInformer.cache.get(key);
    if (claim === undefined || claim.metadata.deletionTimestamp !== undefined) return;
    const named = claim.spec?.volumeName;
    if (named) {
      const pv = this.volumesInformer.cache.get(named);
      if (pv === undefined) {
        await this.claimPhase(claim, claim.status?.phase === 'Bound' ? 'Lost' : 'Pending');
        return;
      }
      const ref = pv.spec?.claimRef;
      if (ref === undefined) await this.bind(pv, claim);
      else if (ref.name === claim.metadata.name && ref.namespace === claim.metadata.namespace) {
        await this.completeClaim(pv, claim);
      } else await this.claimPhase(claim, 'Pending');
      return;
    }
    const pv = this.bestMatch(claim);
    if (pv === undefined) {
      const cls = claim.spec?.storageClassName;
      this.events.record(
        claim,
        'Normal',
        'FailedBinding',
        cls
          ? `no persistent volumes available for this claim and storage class "${cls}"`
          : 'no persistent volumes available for this claim and no storage class is set',
      );
      await this.claimPhase(claim, 'Pending');
      return;
    }
    await this.bind(pv, claim);
  }

  /** The smallest fitting volume, preferring one already reserved for this claim. */
  private bestMatch(claim: PersistentVolumeClaim): PersistentVolume | undefined {
    let best: PersistentVolume | undefined;
    for (const pv of this.volumesInformer.cache.values()) {
      if (pv.metadata.deletionTimestamp !== undefined || !volumeFits(pv, claim)) continue;
      const ref = pv.spec?.claimRef;
      if (ref !== undefined) {
        const ours = ref.name === claim.metadata.name && ref.namespace === claim.metadata.namespace;
        if (!ours || (ref.uid && ref.uid !== claim.metadata.uid)) continue;
        return pv;
      }
      if (pv.status?.phase !== undefined && pv.status.phase !== 'Available' && pv.status.phase !== 'Pending')
        continue;
      const size = storageOf(pv.spec?.capacity);
      const bestSize = storageOf(best?.spec?.capacity);
      if (
        best === undefined ||
        (size !== undefined && bestSize !== undefined && compareQuantities(size, bestSize) < 0)
      ) {
        best = pv;
      }
    }
    return best;
  }

  /** The volume's claimRef first (a conflict there means someone else won), then the claim. */
  private async bind(pv: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    let volume = pv;
    if (pv.spec?.claimRef?.uid !== claim.metadata.uid) {
      volume = await this.volumes.update({
        ...pv,
        metadata: {
          ...pv.metadata,
          annotations: { ...(pv.metadata.annotations ?? {}), [boundByControllerAnnotation]: 'yes' },
        },
        spec: {
          ...pv.spec,
          claimRef: {
            kind: 'PersistentVolumeClaim',
            apiVersion: 'v1',
            namespace: claim.metadata.namespace ?? 'default',
            name: claim.metadata.name ?? '',
            uid: claim.metadata.uid ?? '',
            resourceVersion: claim.metadata.resourceVersion ?? '',
          },
        },
      });
    }
    if (volume.status?.phase !== 'Bound') {
      volume = await this.volumes.updateStatus({ ...volume, status: { ...volume.status, phase: 'Bound' } });
    }
    await this.completeClaim(volume, claim);
  }

  private async completeClaim(pv: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    let c = claim;
    const annotations = c.metadata.annotations ?? {};
    if (c.spec?.volumeName !== pv.metadata.name || annotations[bindCompletedAnnotation] !== 'yes') {
      c = await this.claims.update({
        ...c,
        metadata: {
          ...c.metadata,
          annotations: {
            ...annotations,
            [bindCompletedAnnotation]: 'yes',
            ...(c.spec?.volumeName ? {} : { [boundByControllerAnnotation]: 'yes' }),
          },
        },
        spec: { ...c.spec, volumeName: pv.metadata.name ?? '' },
      });
    }
    const status = {
      phase: 'Bound' as const,
      ...(pv.spec?.accessModes === undefined ? {} : { accessModes: pv.spec.accessModes }),
      ...(pv.spec?.capacity === undefined ? {} : { capacity: pv.spec.capacity }),
    };
    if (c.status?.phase !== 'Bound')
      await this.claims.updateStatus({ ...c, status: { ...c.status, ...status } });
  }

  private async claimPhase(claim: PersistentVolumeClaim, phase: 'Pending' | 'Lost'): Promise<void> {
    if (claim.status?.phase === phase) return;
    await this.claims.updateStatus({ ...claim, status: { ...claim.status, phase } });
  }

  private async syncVolume(name: string): Promise<void> {
    const pv = this.volumesInformer.cache.get(name);
    if (pv === undefined || pv.metadata.deletionTimestamp !== undefined) return;
    const ref = pv.spec?.claimRef;
    if (ref === undefined) {
      if (pv.status?.phase !== 'Available') {
        await this.volumes.updateStatus({ ...pv, status: { ...pv.status, phase: 'Available' } });
      }
      return;
    }
    const claim = await this.claimOf(ref.namespace ?? '', ref.name ?? '');
    if (claim === undefined || (ref.uid && claim.metadata.uid !== ref.uid)) {
      if (!ref.uid) return; // reserved for a claim not created yet
      if (pv.spec?.persistentVolumeReclaimPolicy === 'Delete') {
        await this.ignoreGone(this.volumes.delete(name));
      } else if (pv.status?.phase !== 'Released') {
        await this.volumes.updateStatus({ ...pv, status: { ...pv.status, phase: 'Released' } });
      }
      return;
    }
    if (claim.spec?.volumeName === name && pv.status?.phase !== 'Bound') {
      await this.volumes.updateStatus({ ...pv, status: { ...pv.status, phase: 'Bound' } });
    }
  }

  /** The claim from the cache, or (absent there) from the API server: caches lag. */
  private async claimOf(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined> {
    const cached = this.claimsInformer.cache.get(keyFor(namespace, name));
    if (cached !== undefined) return cached;
    try {
      return await this.claims.get(name, namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async ignoreGone(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
