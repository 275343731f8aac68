/**
 * The arithmetic of a Deployment's rollout, as Kubernetes' deployment controller does it
 * (pkg/controller/deployment/util): maxSurge and maxUnavailable from numbers or percents,
 * how far the new ReplicaSet may grow, how far old ones may shrink, and how a scaling
 * event is shared out among ReplicaSets in proportion to their sizes. Pure functions.
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#rolling-update-deployment
 */
import type { Deployment, IntOrString, ReplicaSet } from '@flotilla/api';
import { timeToMs } from '@flotilla/api';

export const revisionAnnotation = 'deployment.kubernetes.io/revision';
export const revisionHistoryAnnotation = 'deployment.kubernetes.io/revision-history';
export const desiredReplicasAnnotation = 'deployment.kubernetes.io/desired-replicas';
export const maxReplicasAnnotation = 'deployment.kubernetes.io/max-replicas';
export const lastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';
/** The label that tells the pods of one template apart from another's. */
export const podTemplateHashLabel = 'pod-template-hash';

/** Deployment annotations that are the controller's own and never copied onto a ReplicaSet. */
export const annotationsNotCopied: ReadonlySet<string> = new Set([
  lastAppliedAnnotation,
  revisionAnnotation,
  revisionHistoryAnnotation,
  desiredReplicasAnnotation,
  maxReplicasAnnotation,
]);

export const replicasOf = (obj: Deployment | ReplicaSet): number => obj.spec?.replicas ?? 1;

/**
 * A count or a percent of `total`, as intstr.GetScaledValueFromIntOrPercent: percents
 * round up for maxSurge and down for maxUnavailable.
 */
export function scaledValue(value: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  const m = /^(\d+)%$/.exec(value);
  if (m === null) {
    const n = Number(value);
    return Number.isInteger(n) ? n : 0;
  }
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** [maxSurge, maxUnavailable]; both zero would stall a rollout, so maxUnavailable becomes 1. */
export function resolveFenceposts(d: Deployment): readonly [number, number] {
  const desired = replicasOf(d);
  const ru = d.spec?.strategy?.rollingUpdate;
  const surge = scaledValue(ru?.maxSurge ?? '25%', desired, true);
  const unavailable = scaledValue(ru?.maxUnavailable ?? '25%', desired, false);
  return surge === 0 && unavailable === 0 ? [0, 1] : [surge, unavailable];
}

export const isRollingUpdate = (d: Deployment): boolean =>
  (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

export function maxSurge(d: Deployment): number {
  return isRollingUpdate(d) ? resolveFenceposts(d)[0] : 0;
}

export function maxUnavailable(d: Deployment): number {
  const desired = replicasOf(d);
  if (!isRollingUpdate(d) || desired === 0) return 0;
  return Math.min(resolveFenceposts(d)[1], desired);
}

/**
 * The pods a ReplicaSet may have now: its spec, or more while it still counts pods it is
 * about to delete. Counting these keeps a surge pod from being created before the pod it
 * replaces is gone, so the bound holds for actual pods and not only for specs.
 */
export function podsHeldBy(rs: ReplicaSet): number {
  return Math.max(replicasOf(rs), rs.status?.replicas ?? 0);
}

/**
 * The available pods a ReplicaSet can be counted on for: its reported available pods,
 * but never more than its spec (a set being scaled down is about to lose the difference).
 */
export function availableIn(rs: ReplicaSet): number {
  return Math.min(rs.status?.availableReplicas ?? 0, replicasOf(rs));
}

export const sumOf = (sets: readonly ReplicaSet[], f: (rs: ReplicaSet) => number): number =>
  sets.reduce((n, rs) => n + f(rs), 0);

/** The size the new ReplicaSet may grow to now (Kubernetes' NewRSNewReplicas). */
export function newReplicaSetSize(
  d: Deployment,
  allSets: readonly ReplicaSet[],
  newSet: ReplicaSet | undefined,
): number {
  const current = newSet === undefined ? 0 : replicasOf(newSet);
  if (!isRollingUpdate(d)) return replicasOf(d);
  const maxTotal = replicasOf(d) + maxSurge(d);
  const held = sumOf(allSets, podsHeldBy);
  if (held >= maxTotal) return current;
  return current + Math.max(0, Math.min(maxTotal - held, replicasOf(d) - current));
}

export function revisionOf(rs: ReplicaSet | Deployment): number {
  const v = Number(rs.metadata.annotations?.[revisionAnnotation] ?? '0');
  return Number.isFinite(v) ? v : 0;
}

export const maxRevision = (sets: readonly ReplicaSet[]): number => Math.max(0, ...sets.map(revisionOf));

function annotationNumber(rs: ReplicaSet, key: string): number | undefined {
  const v = rs.metadata.annotations?.[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

export const desiredReplicasOf = (rs: ReplicaSet) => annotationNumber(rs, desiredReplicasAnnotation);
export const maxReplicasOf = (rs: ReplicaSet) => annotationNumber(rs, maxReplicasAnnotation);

/** The replica annotations a ReplicaSet of `d` should carry. */
export function replicasAnnotations(d: Deployment): Readonly<Record<string, string>> {
  return {
    [desiredReplicasAnnotation]: String(replicasOf(d)),
    [maxReplicasAnnotation]: String(replicasOf(d) + maxSurge(d)),
  };
}

export const isActive = (rs: ReplicaSet): boolean => replicasOf(rs) > 0;

export function byCreation(a: ReplicaSet, b: ReplicaSet): number {
  const ta = timeToMs(a.metadata.creationTimestamp) ?? 0;
  const tb = timeToMs(b.metadata.creationTimestamp) ?? 0;
  if (ta !== tb) return ta - tb;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

/** The one active ReplicaSet, or the newest when none is active; undefined when several are. */
export function activeOrLatest(
  newSet: ReplicaSet | undefined,
  oldSets: readonly ReplicaSet[],
): ReplicaSet | undefined {
  const all = [...oldSets, ...(newSet === undefined ? [] : [newSet])];
  if (all.length === 0) return undefined;
  const active = all.filter(isActive);
  if (active.length === 1) return active[0];
  if (active.length > 1) return undefined;
  return newSet ?? [...oldSets].sort(byCreation).at(-1);
}

/** The new ReplicaSet has every pod the Deployment wants, available. */
export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (rs === undefined) return false;
  return (
    replicasOf(rs) === replicasOf(d) &&
    desiredReplicasOf(rs) === replicasOf(d) &&
    (rs.status?.availableReplicas ?? 0) === replicasOf(d)
  );
}

/**
 * Sizes after a scaling event during a rollout: `allowed - current` pods are added to (or
 * taken from) the active ReplicaSets in proportion to their share of the Deployment's
 * previous size (their max-replicas annotation); what rounding leaves over goes to the
 * first (largest when adding, smallest-older when removing). Kubernetes' proportional scaling.
 * https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#proportional-scaling
 */
export function proportionalSizes(d: Deployment, active: readonly ReplicaSet[]): Map<string, number> {
  const sizes = new Map<string, number>();
  const current = sumOf(active, replicasOf);
  const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
  const toAdd = allowed - current;
  const ordered = [...active].sort((a, b) => {
    const diff = replicasOf(b) - replicasOf(a);
    if (diff !== 0) return diff;
    // Ties: newer first when adding, older first when removing.
    return toAdd > 0 ? byCreation(b, a) : byCreation(a, b);
  });
  let added = 0;
  for (const rs of ordered) {
    let share = 0;
    if (toAdd !== 0 && added !== toAdd && replicasOf(rs) > 0) {
      const fraction = fractionOf(rs, d);
      const left = toAdd - added;
      share = toAdd > 0 ? Math.min(fraction, left) : Math.max(fraction, left);
    }
    sizes.set(rs.metadata.name ?? '', replicasOf(rs) + share);
    added += share;
  }
  const first = ordered[0];
  if (first !== undefined && toAdd !== 0) {
    const name = first.metadata.name ?? '';
    sizes.set(name, Math.max(0, (sizes.get(name) ?? 0) + toAdd - added));
  }
  return sizes;
}

/** How many pods a ReplicaSet gains (or loses) for its share of the Deployment's new size. */
function fractionOf(rs: ReplicaSet, d: Deployment): number {
  if (replicasOf(d) === 0) return -replicasOf(rs);
  const target = replicasOf(d) + maxSurge(d);
  const annotated = maxReplicasOf(rs) ?? d.status?.replicas ?? 0;
  if (annotated === 0) return 0;
  // Go's math.Round rounds halves away from zero.
  const exact = (replicasOf(rs) * target) / annotated;
  return Math.sign(exact) * Math.round(Math.abs(exact)) - replicasOf(rs);
}
