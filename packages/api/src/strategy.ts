/**
 * What the API server does to an object around a write, besides storing it, as
 * Kubernetes' registry strategies do: reset status on create, keep status on a main
 * resource update and everything but status on a status update, bump `generation` on
 * spec changes, build and apply the `scale` subresource, bind a pod to a node, plan a
 * (graceful) deletion with finalizers and propagation, and generate names.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/
 */
import { type Draft, draft } from './draft.ts';
import type { FieldError } from './field-errors.ts';
import { invalid, notSupported } from './field-errors.ts';
import { formatLabelSelector, labelSelectorFromStruct } from './labels.ts';
import { addQuantities, compareQuantities, parseQuantity, type Quantity } from './quantity.ts';
import type { ResourceInfo } from './registry.ts';
import { groupResourceOf, hasStatusSubresource } from './registry.ts';
import type { StatusError } from './status.ts';
import { conflict } from './status.ts';
import { timeFromMs } from './time.ts';
import type { Deployment, ReplicaSet } from './types/apps.ts';
import type { Scale } from './types/autoscaling.ts';
import type { Binding, Namespace, Pod, PodQOSClass, PodSpec, Service } from './types/core.ts';
import type { DeleteOptions, DeletionPropagation, KubeObject } from './types/meta.ts';

/** Random characters appended to generateName: no vowels (no words), no look-alikes. */
const generateNameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';
export const generatedSuffixLength = 5;
/** 63 minus the random suffix: names are at most a DNS label long. */
export const maxGenerateNameBaseLength = 58;

/** `web-` → `web-x7k2p`; `random` returns numbers in [0, 1) (injected for determinism). */
export function generateName(base: string, random: () => number): string {
  let suffix = '';
  for (let i = 0; i < generatedSuffixLength; i++) {
    suffix += generateNameAlphabet[Math.floor(random() * generateNameAlphabet.length)] ?? 'b';
  }
  return `${base.slice(0, maxGenerateNameBaseLength)}${suffix}`;
}

// ---- QoS class ---------------------------------------------------------------------------------

const qosResources = ['cpu', 'memory'] as const;

/** The QoS class Kubernetes assigns a pod from its containers' requests and limits. */
export function podQOSClass(spec: PodSpec | undefined): PodQOSClass {
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  const add = (into: Map<string, Quantity>, name: string, q: Quantity): void => {
    const prev = into.get(name);
    into.set(name, prev === undefined ? q : addQuantities(prev, q));
  };
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    const found = new Set<string>();
    for (const name of qosResources) {
      const req = c.resources?.requests?.[name];
      if (req !== undefined) {
        const q = parseQuantity(req);
        if (q.nanos > 0n) add(requests, name, q);
      }
      const lim = c.resources?.limits?.[name];
      if (lim !== undefined) {
        const q = parseQuantity(lim);
        if (q.nanos > 0n) {
          found.add(name);
          add(limits, name, q);
        }
      }
    }
    if (found.size < qosResources.length) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (lim === undefined || compareQuantities(lim, req) !== 0) guaranteed = false;
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

// ---- Create and update ---------------------------------------------------------------------------

export type CreateContext = {
  readonly uid: string;
  readonly nowMs: number;
  /** Numbers in [0, 1), for generateName. */
  readonly random: () => number;
};

const kindKey = (obj: KubeObject): string => `${obj.apiVersion}/${obj.kind}`;
const usesGeneration = new Set(['apps/v1/Deployment', 'apps/v1/ReplicaSet']);

type Mutable = Draft<KubeObject> & { spec?: unknown; status?: unknown };

/** The status a newly created object starts with (what clients sent is dropped). */
function initialStatus(obj: Draft<KubeObject> & { spec?: unknown }): unknown {
  switch (kindKey(obj as KubeObject)) {
    case 'v1/Pod':
      return { phase: 'Pending', qosClass: podQOSClass((obj as Draft<Pod>).spec as PodSpec | undefined) };
    case 'v1/Namespace':
      return { phase: 'Active' };
    case 'v1/Service':
      return { loadBalancer: {} };
    case 'v1/PersistentVolume':
    case 'v1/PersistentVolumeClaim':
      return { phase: 'Pending' };
    default:
      return {};
  }
}

/**
 * Prepares an object for its first write: system metadata (uid, creationTimestamp, a
 * name from generateName), generation 1 where Kubernetes tracks it, and the initial
 * status for resources whose status belongs to a controller.
 */
export function prepareForCreate<T extends KubeObject>(info: ResourceInfo, obj: T, ctx: CreateContext): T {
  const d = draft(obj) as Mutable;
  const meta = d.metadata;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  delete meta.selfLink;
  delete meta.managedFields;
  if (!meta.name && meta.generateName) meta.name = generateName(meta.generateName, ctx.random);
  meta.uid = ctx.uid;
  meta.creationTimestamp = timeFromMs(ctx.nowMs);
  if (usesGeneration.has(kindKey(obj))) meta.generation = 1;
  else delete meta.generation;
  // Nodes register with their status; for the others the status belongs to a controller.
  if (hasStatusSubresource(info) && obj.kind !== 'Node') d.status = initialStatus(d);
  if (obj.kind === 'Namespace') {
    const ns = d as Draft<Namespace>;
    ns.spec ??= {};
    const spec = ns.spec;
    if (!(spec.finalizers ?? []).includes('kubernetes'))
      spec.finalizers = [...(spec.finalizers ?? []), 'kubernetes'];
  }
  return d as unknown as T;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Key order does not make two objects different. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Keeps a service's allocated cluster IP and node ports when an update leaves them out. */
function keepAllocated(next: Draft<Service>, prev: Service): void {
  const spec = next.spec;
  const old = prev.spec;
  if (spec === undefined || old === undefined) return;
  if (!spec.clusterIP && old.clusterIP && spec.type !== 'ExternalName') {
    spec.clusterIP = old.clusterIP;
    if (old.clusterIPs !== undefined) spec.clusterIPs = [...old.clusterIPs];
  }
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
    for (const p of spec.ports ?? []) {
      if (p.nodePort) continue;
      const match = (old.ports ?? []).find(
        (o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'),
      );
      if (match?.nodePort) p.nodePort = match.nodePort;
    }
  }
}

/**
 * Prepares an update of the main resource: system metadata comes from the stored
 * object; status is kept where it has its own subresource; generation bumps when the
 * spec changes (and, for Deployments, the annotations, which are copied to ReplicaSets).
 */
export function prepareForUpdate<T extends KubeObject>(info: ResourceInfo, next: T, prev: T): T {
  const d = draft(next) as Mutable;
  const meta = d.metadata;
  const old = prev.metadata;
  if (!meta.uid && old.uid !== undefined) meta.uid = old.uid;
  if (old.creationTimestamp !== undefined) meta.creationTimestamp = old.creationTimestamp;
  if (old.deletionTimestamp !== undefined) meta.deletionTimestamp = old.deletionTimestamp;
  if (old.deletionGracePeriodSeconds !== undefined && meta.deletionGracePeriodSeconds === undefined) {
    meta.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
  }
  delete meta.managedFields;
  if (old.generation === undefined) delete meta.generation;
  else meta.generation = old.generation;
  const prevWithSpec = prev as KubeObject & { spec?: unknown; status?: unknown };
  if (hasStatusSubresource(info)) {
    if (prevWithSpec.status === undefined) delete d.status;
    else d.status = structuredClone(prevWithSpec.status);
  }
  if (next.kind === 'Namespace') {
    // Namespace finalizers change only through the finalize subresource.
    const ns = d as Draft<Namespace>;
    ns.spec ??= {};
    const spec = ns.spec;
    const oldFinalizers = (prev as unknown as Namespace).spec?.finalizers;
    if (oldFinalizers === undefined) delete spec.finalizers;
    else spec.finalizers = [...oldFinalizers];
  }
  if (next.kind === 'Service') keepAllocated(d as Draft<Service>, prev as unknown as Service);
  if (usesGeneration.has(kindKey(next))) {
    const specChanged = !sameJson(d.spec, prevWithSpec.spec);
    const annotationsChanged =
      next.kind === 'Deployment' && !sameJson(meta.annotations ?? {}, old.annotations ?? {});
    if (specChanged || annotationsChanged) meta.generation = (old.generation ?? 0) + 1;
  }
  return d as unknown as T;
}

/**
 * Prepares a write through the status subresource: only the status of `next` is taken,
 * everything else (spec, labels, annotations, finalizers, owners) stays as stored.
 */
export function prepareForStatusUpdate<T extends KubeObject>(next: T, prev: T): T {
  const d = draft(prev) as Mutable;
  const status = (next as KubeObject & { status?: unknown }).status;
  if (status === undefined) delete d.status;
  else d.status = structuredClone(status);
  return d as unknown as T;
}

/**
 * True when an update (removing the last finalizer, or a namespace's last spec
 * finalizer through `finalize`) should complete a pending deletion.
 */
export function readyToRemove(obj: KubeObject): boolean {
  const meta = obj.metadata;
  return (
    meta.deletionTimestamp !== undefined &&
    (meta.finalizers ?? []).length === 0 &&
    namespaceFinalizers(obj).length === 0 &&
    (meta.deletionGracePeriodSeconds ?? 0) === 0
  );
}

/** The spec finalizers of a Namespace (`kubernetes`); none for other kinds. */
function namespaceFinalizers(obj: KubeObject): readonly string[] {
  return obj.kind === 'Namespace' && obj.apiVersion === 'v1'
    ? ((obj as Namespace).spec?.finalizers ?? [])
    : [];
}

/**
 * Prepares a write through a namespace's `finalize` subresource: only its
 * spec.finalizers are taken from `next`.
 */
export function prepareForFinalize(next: Namespace, prev: Namespace): Namespace {
  const d = draft(prev);
  const finalizers = next.spec?.finalizers ?? [];
  d.spec = { ...(d.spec ?? {}), finalizers: [...finalizers] };
  if (finalizers.length === 0) delete d.spec.finalizers;
  return d;
}

// ---- Scale and binding ----------------------------------------------------------------------------

type Scalable = Deployment | ReplicaSet;

/** The autoscaling/v1 Scale of a Deployment or ReplicaSet. */
export function scaleOf(obj: Scalable): Scale {
  const m = obj.metadata;
  let selector = '';
  try {
    selector = formatLabelSelector(labelSelectorFromStruct(obj.spec?.selector));
  } catch {
    selector = ''; // an invalid stored selector cannot happen after validation; print none
  }
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: {
      ...(m.name === undefined ? {} : { name: m.name }),
      ...(m.namespace === undefined ? {} : { namespace: m.namespace }),
      ...(m.uid === undefined ? {} : { uid: m.uid }),
      ...(m.resourceVersion === undefined ? {} : { resourceVersion: m.resourceVersion }),
      ...(m.creationTimestamp === undefined ? {} : { creationTimestamp: m.creationTimestamp }),
    },
    spec: { replicas: obj.spec?.replicas ?? 0 },
    status: { replicas: obj.status?.replicas ?? 0, selector },
  };
}

/** The object with the replica count of a Scale written to its `scale` subresource. */
export function applyScale<T extends Scalable>(obj: T, scale: Scale): T {
  const d = draft(obj) as Draft<Scalable>;
  d.spec ??= { selector: {} };
  const spec = d.spec;
  spec.replicas = scale.spec?.replicas ?? 0;
  return d as unknown as T;
}

/**
 * A pod bound to the node a Binding names (POST pods/<name>/binding), with its
 * PodScheduled condition set. A pod already bound, or being deleted, is a 409.
 */
export function bindPod(info: ResourceInfo, pod: Pod, binding: Binding, nowMs: number): Pod {
  const name = pod.metadata.name ?? '';
  const target = binding.target.name ?? '';
  if (pod.metadata.deletionTimestamp !== undefined) {
    throw conflict(groupResourceOf(info), name, `pod ${name} is being deleted, cannot be assigned to a host`);
  }
  if (pod.spec?.nodeName) {
    throw conflict(
      groupResourceOf(info),
      name,
      `pod ${name} is already assigned to node ${JSON.stringify(pod.spec.nodeName)}`,
    );
  }
  const d = draft(pod);
  d.spec ??= { containers: [] };
  const spec = d.spec;
  spec.nodeName = target;
  const annotations = binding.metadata.annotations;
  if (annotations !== undefined)
    d.metadata.annotations = { ...(d.metadata.annotations ?? {}), ...annotations };
  d.status ??= {};
  const status = d.status;
  status.conditions ??= [];
  const conditions = status.conditions;
  const scheduled = conditions.find((c) => c.type === 'PodScheduled');
  const now = timeFromMs(nowMs);
  if (scheduled === undefined) {
    conditions.push({ type: 'PodScheduled', status: 'True', lastTransitionTime: now });
  } else if (scheduled.status !== 'True') {
    scheduled.status = 'True';
    scheduled.lastTransitionTime = now;
    delete scheduled.reason;
    delete scheduled.message;
  }
  return d;
}

// ---- Deletion ----------------------------------------------------------------------------------------

export const orphanFinalizer = 'orphan';
export const foregroundFinalizer = 'foregroundDeletion';

/** What a DELETE does to the stored object. */
export type DeletePlan =
  /** Remove it from storage now. */
  | { readonly kind: 'remove' }
  /** Write it back marked for deletion (grace period running, or finalizers pending). */
  | { readonly kind: 'mark'; readonly object: KubeObject }
  /** Already being deleted and nothing to change: answer with it as stored. */
  | { readonly kind: 'unchanged'; readonly object: KubeObject };

/** Problems with DeleteOptions themselves, as field errors (a 422 when any). */
export function validateDeleteOptions(options: DeleteOptions): FieldError[] {
  const errs: FieldError[] = [];
  if (options.orphanDependents !== undefined && options.propagationPolicy !== undefined) {
    errs.push(
      invalid(
        'propagationPolicy',
        options.propagationPolicy,
        'orphanDependents and deletionPropagation cannot be both set',
      ),
    );
  }
  const policy = options.propagationPolicy as string | undefined;
  if (policy !== undefined && policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
    errs.push(notSupported('propagationPolicy', policy, ['Foreground', 'Background', 'Orphan']));
  }
  if (options.gracePeriodSeconds !== undefined && options.gracePeriodSeconds < 0) {
    errs.push(
      invalid('gracePeriodSeconds', options.gracePeriodSeconds, 'must be greater than or equal to 0'),
    );
  }
  for (const [i, v] of (options.dryRun ?? []).entries()) {
    if (v !== 'All') errs.push(notSupported(`dryRun[${i}]`, v, ['All']));
  }
  return errs;
}

/** 409 when DeleteOptions preconditions do not hold for the stored object; else undefined. */
export function checkPreconditions(
  info: ResourceInfo,
  obj: KubeObject,
  options: DeleteOptions,
): StatusError | undefined {
  const pre = options.preconditions;
  const name = obj.metadata.name ?? '';
  if (pre?.uid !== undefined && pre.uid !== obj.metadata.uid) {
    return conflict(
      groupResourceOf(info),
      name,
      `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid ?? ''}`,
    );
  }
  if (pre?.resourceVersion !== undefined && pre.resourceVersion !== obj.metadata.resourceVersion) {
    return conflict(
      groupResourceOf(info),
      name,
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion ?? ''}`,
    );
  }
  return undefined;
}

function propagationOf(options: DeleteOptions): DeletionPropagation {
  if (options.propagationPolicy !== undefined) return options.propagationPolicy;
  if (options.orphanDependents !== undefined) return options.orphanDependents ? 'Orphan' : 'Background';
  return 'Background';
}

/** Seconds a pod gets to stop: 0 when it never ran on a node or has finished. */
function podGracePeriod(pod: Pod, options: DeleteOptions): number {
  if (!pod.spec?.nodeName) return 0;
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return 0;
  return options.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
}

/**
 * Plans a DELETE: pods get their grace period (a later DELETE may only shorten it);
 * Orphan and Foreground propagation add their finalizers; an object with finalizers is
 * marked (deletionTimestamp) and removed once they are gone; otherwise it is removed.
 */
export function planDelete(obj: KubeObject, options: DeleteOptions, nowMs: number): DeletePlan {
  const meta = obj.metadata;
  const finalizers = [...(meta.finalizers ?? [])];
  const propagation = propagationOf(options);
  const wanted =
    propagation === 'Orphan'
      ? orphanFinalizer
      : propagation === 'Foreground'
        ? foregroundFinalizer
        : undefined;
  let finalizersChanged = false;
  if (wanted !== undefined && !finalizers.includes(wanted)) {
    // Orphan and Foreground exclude each other: the newer request wins.
    const other = wanted === orphanFinalizer ? foregroundFinalizer : orphanFinalizer;
    const kept = finalizers.filter((f) => f !== other);
    finalizers.length = 0;
    finalizers.push(...kept, wanted);
    finalizersChanged = true;
  }
  const grace = obj.kind === 'Pod' && obj.apiVersion === 'v1' ? podGracePeriod(obj as Pod, options) : 0;
  // A namespace waits for its spec finalizers too: the namespace controller removes its
  // content, then empties them through `finalize`.
  const hasFinalizers = finalizers.length > 0 || namespaceFinalizers(obj).length > 0;

  if (meta.deletionTimestamp !== undefined) {
    const current = meta.deletionGracePeriodSeconds ?? 0;
    const shorten = grace < current;
    if (!shorten && !finalizersChanged) {
      return current === 0 && !hasFinalizers ? { kind: 'remove' } : { kind: 'unchanged', object: obj };
    }
    if (shorten && grace === 0 && !hasFinalizers) return { kind: 'remove' };
    const d = draft(obj);
    if (finalizersChanged) d.metadata.finalizers = finalizers;
    if (shorten) {
      d.metadata.deletionGracePeriodSeconds = grace;
      d.metadata.deletionTimestamp = timeFromMs(nowMs + grace * 1000);
    }
    return { kind: 'mark', object: d };
  }
  if (grace === 0 && !hasFinalizers) return { kind: 'remove' };
  const d = draft(obj);
  d.metadata.finalizers = finalizers;
  if (finalizers.length === 0) delete d.metadata.finalizers;
  d.metadata.deletionTimestamp = timeFromMs(nowMs + grace * 1000);
  d.metadata.deletionGracePeriodSeconds = grace;
  if (obj.kind === 'Namespace' && obj.apiVersion === 'v1') {
    const ns = d as Draft<Namespace>;
    ns.status = { ...(ns.status ?? {}), phase: 'Terminating' };
  }
  return { kind: 'mark', object: d };
}
