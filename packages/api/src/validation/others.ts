/**
 * Validation of namespaces, nodes, config maps, secrets, events, persistent volumes and
 * claims, and leases. Follows k8s.io/kubernetes/pkg/apis/{core,coordination}/validation.
 */
import type { FieldError, FieldPath } from '../field-errors.ts';
import {
  child,
  duplicate,
  forbidden,
  index,
  invalid,
  key,
  notSupported,
  required,
  tooLong,
} from '../field-errors.ts';
import { isConfigMapKey, isValidLabelValue, nameIsDNSLabel, nameIsDNSSubdomain } from '../names.ts';
import { parseCIDR } from '../net.ts';
import { compareQuantities, parseQuantity, QuantityError } from '../quantity.ts';
import type { Lease } from '../types/coordination.ts';
import type {
  ConfigMap,
  Event,
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  ResourceList,
  Secret,
} from '../types/core.ts';
import {
  cidrMessage,
  immutable,
  nonNegative,
  positive,
  sameValue,
  validateLabelSelector,
  validateObjectMeta,
  validateObjectMetaUpdate,
  validateQualifiedName,
} from './meta.ts';
import { validateNodeSelectorTerm, validateTaintEffect } from './pod.ts';

/** ConfigMaps and Secrets hold at most 1 MiB of data. */
export const maxConfigDataBytes = 1024 * 1024;
const accessModes = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const volumeModes = ['Block', 'Filesystem'];

const withoutMeta = (errs: FieldError[]): FieldError[] =>
  errs.filter((e) => !e.field.startsWith('metadata.'));

function validateQuantities(list: ResourceList | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  for (const [name, value] of Object.entries(list ?? {})) {
    const p = key(path, name);
    try {
      if (parseQuantity(value).nanos < 0n) errs.push(invalid(p, value, 'must be greater than or equal to 0'));
    } catch (err) {
      if (!(err instanceof QuantityError)) throw err;
      errs.push(invalid(p, value, err.message));
    }
  }
  return errs;
}

// ---- Namespace -------------------------------------------------------------------------------------

export function validateNamespace(ns: Namespace): FieldError[] {
  const errs = validateObjectMeta(ns.metadata, { namespaced: false, name: nameIsDNSLabel });
  (ns.spec?.finalizers ?? []).forEach((f, i) => {
    errs.push(...validateQualifiedName(f, index('spec.finalizers', i)));
  });
  return errs;
}

export function validateNamespaceUpdate(next: Namespace, prev: Namespace): FieldError[] {
  return [...validateObjectMetaUpdate(next.metadata, prev.metadata), ...withoutMeta(validateNamespace(next))];
}

// ---- Node ------------------------------------------------------------------------------------------

export function validateNode(node: Node): FieldError[] {
  const errs = validateObjectMeta(node.metadata, { namespaced: false, name: nameIsDNSSubdomain });
  const spec = node.spec ?? {};
  const cidrs = spec.podCIDRs ?? [];
  cidrs.forEach((c, i) => {
    if (parseCIDR(c) === undefined) errs.push(invalid(index('spec.podCIDRs', i), c, cidrMessage));
  });
  if (cidrs.length > 2)
    errs.push(invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'));
  if (spec.podCIDR && parseCIDR(spec.podCIDR) === undefined)
    errs.push(invalid('spec.podCIDR', spec.podCIDR, cidrMessage));
  if (spec.podCIDR && cidrs.length > 0 && cidrs[0] !== spec.podCIDR) {
    errs.push(invalid('spec.podCIDRs', cidrs, 'first value must match `podCIDR`'));
  }
  const seen = new Set<string>();
  (spec.taints ?? []).forEach((t, i) => {
    const p = index('spec.taints', i);
    if (t.key === '') errs.push(required(child(p, 'key')));
    else errs.push(...validateQualifiedName(t.key, child(p, 'key')));
    if (t.value) errs.push(...validateLabelValueErrors(t.value, child(p, 'value')));
    errs.push(...validateTaintEffect(t.effect, child(p, 'effect'), false));
    const k = `${t.key}:${t.effect}`;
    if (seen.has(k)) errs.push(duplicate(p, k));
    seen.add(k);
  });
  errs.push(...validateQuantities(node.status?.capacity, 'status.capacity'));
  errs.push(...validateQuantities(node.status?.allocatable, 'status.allocatable'));
  return errs;
}

function validateLabelValueErrors(value: string, path: FieldPath): FieldError[] {
  return isValidLabelValue(value).map((msg) => invalid(path, value, msg));
}

/** The pod CIDR is assigned once; the network of running pods depends on it. */
export function validateNodeUpdate(next: Node, prev: Node): FieldError[] {
  const errs = [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...withoutMeta(validateNode(next)),
  ];
  const prevCIDRs = prev.spec?.podCIDRs ?? [];
  if (prevCIDRs.length > 0 && !sameValue(next.spec?.podCIDRs ?? [], prevCIDRs)) {
    errs.push(forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
  }
  if (prev.spec?.providerID && next.spec?.providerID !== prev.spec.providerID) {
    errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  return errs;
}

// ---- ConfigMap and Secret ---------------------------------------------------------------------------

function validateDataKeys(keys: readonly string[], path: FieldPath): FieldError[] {
  return keys.flatMap((k) => isConfigMapKey(k).map((msg) => invalid(path, k, msg)));
}

export function validateConfigMap(cm: ConfigMap): FieldError[] {
  const errs = validateObjectMeta(cm.metadata, { namespaced: true, name: nameIsDNSSubdomain });
  const data = cm.data ?? {};
  const binary = cm.binaryData ?? {};
  errs.push(...validateDataKeys(Object.keys(data), 'data'));
  errs.push(...validateDataKeys(Object.keys(binary), 'binaryData'));
  for (const k of Object.keys(binary)) {
    if (Object.hasOwn(data, k)) errs.push(invalid('binaryData', k, 'duplicate of key present in data'));
  }
  let size = 0;
  for (const [k, v] of Object.entries(data)) size += Buffer.byteLength(k) + Buffer.byteLength(v);
  for (const [k, v] of Object.entries(binary)) size += Buffer.byteLength(k) + Math.floor((v.length * 3) / 4);
  if (size > maxConfigDataBytes) errs.push(tooLong('data', maxConfigDataBytes));
  return errs;
}

function immutableData(
  next: { readonly immutable?: boolean },
  prev: { readonly immutable?: boolean },
  fields: Record<string, [unknown, unknown]>,
): FieldError[] {
  if (prev.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (next.immutable !== true)
    errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const [field, [a, b]] of Object.entries(fields)) {
    if (!sameValue(a ?? {}, b ?? {}))
      errs.push(forbidden(field, 'field is immutable when `immutable` is set'));
  }
  return errs;
}

export function validateConfigMapUpdate(next: ConfigMap, prev: ConfigMap): FieldError[] {
  return [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...withoutMeta(validateConfigMap(next)),
    ...immutableData(next, prev, {
      data: [next.data, prev.data],
      binaryData: [next.binaryData, prev.binaryData],
    }),
  ];
}

/** Keys a typed secret must carry (https://kubernetes.io/docs/concepts/configuration/secret/#secret-types). */
const requiredSecretKeys: Readonly<Record<string, readonly string[]>> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};

export function validateSecret(secret: Secret): FieldError[] {
  const errs = validateObjectMeta(secret.metadata, { namespaced: true, name: nameIsDNSSubdomain });
  const data = secret.data ?? {};
  errs.push(...validateDataKeys(Object.keys(data), 'data'));
  let size = 0;
  for (const [k, v] of Object.entries(data)) size += Buffer.byteLength(k) + Math.floor((v.length * 3) / 4);
  if (size > maxConfigDataBytes) errs.push(tooLong('data', maxConfigDataBytes));
  const type = secret.type ?? 'Opaque';
  for (const k of requiredSecretKeys[type] ?? []) {
    if (!Object.hasOwn(data, k)) errs.push(required(key('data', k)));
  }
  if (
    type === 'kubernetes.io/service-account-token' &&
    !secret.metadata.annotations?.['kubernetes.io/service-account.name']
  ) {
    errs.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
  }
  if (
    type === 'kubernetes.io/basic-auth' &&
    !Object.hasOwn(data, 'username') &&
    !Object.hasOwn(data, 'password')
  ) {
    errs.push(required(key('data', 'username')));
  }
  return errs;
}

export function validateSecretUpdate(next: Secret, prev: Secret): FieldError[] {
  return [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...withoutMeta(validateSecret(next)),
    ...immutable(next.type ?? 'Opaque', prev.type ?? 'Opaque', 'type'),
    ...immutableData(next, prev, { data: [next.data, prev.data] }),
  ];
}

// ---- Event -------------------------------------------------------------------------------------------

export function validateEvent(event: Event): FieldError[] {
  const errs = validateObjectMeta(event.metadata, { namespaced: true, name: nameIsDNSSubdomain });
  const ns = event.metadata.namespace ?? '';
  const involved = event.involvedObject?.namespace ?? '';
  // Events about cluster-scoped objects (nodes) live in "default", as old clients put them.
  const matches = involved === '' ? ns === '' || ns === 'default' : ns === involved;
  if (!matches) errs.push(invalid('involvedObject.namespace', involved, 'does not match event.namespace'));
  if (event.type !== undefined && event.type !== '' && event.type !== 'Normal' && event.type !== 'Warning') {
    errs.push(notSupported('type', event.type, ['Normal', 'Warning']));
  }
  return errs;
}

// ---- PersistentVolume and PersistentVolumeClaim ---------------------------------------------------------

function validateAccessModes(modes: readonly string[] | undefined, path: FieldPath): FieldError[] {
  if ((modes ?? []).length === 0) return [required(path, 'at least 1 access mode is required')];
  return (modes ?? []).filter((m) => !accessModes.includes(m)).map((m) => notSupported(path, m, accessModes));
}

function storageOf(list: ResourceList | undefined, path: FieldPath): FieldError[] {
  const storage = list?.storage;
  if (storage === undefined) return [required(key(path, 'storage'))];
  try {
    return parseQuantity(storage).nanos <= 0n
      ? [invalid(key(path, 'storage'), storage, 'must be greater than zero')]
      : [];
  } catch (err) {
    if (!(err instanceof QuantityError)) throw err;
    return [invalid(key(path, 'storage'), storage, err.message)];
  }
}

export function validatePersistentVolume(pv: PersistentVolume): FieldError[] {
  const errs = validateObjectMeta(pv.metadata, { namespaced: false, name: nameIsDNSSubdomain });
  const spec = pv.spec ?? {};
  if (spec.capacity === undefined || Object.keys(spec.capacity).length === 0)
    errs.push(required('spec.capacity'));
  else errs.push(...storageOf(spec.capacity, 'spec.capacity'));
  errs.push(...validateAccessModes(spec.accessModes, 'spec.accessModes'));
  const sources = (['hostPath', 'local', 'nfs'] as const).filter((s) => spec[s] !== undefined);
  if (sources.length === 0) errs.push(required('spec', 'must specify a volume type'));
  for (const extra of sources.slice(1))
    errs.push(forbidden(child('spec', extra), 'may not specify more than 1 volume type'));
  if (spec.hostPath !== undefined && spec.hostPath.path === '') errs.push(required('spec.hostPath.path'));
  if (spec.local !== undefined) {
    if (spec.local.path === '') errs.push(required('spec.local.path'));
    if (spec.nodeAffinity?.required === undefined)
      errs.push(required('spec.nodeAffinity', 'Local volume requires node affinity'));
  }
  if (spec.nfs !== undefined) {
    if (spec.nfs.server === '') errs.push(required('spec.nfs.server'));
    if (!spec.nfs.path.startsWith('/'))
      errs.push(invalid('spec.nfs.path', spec.nfs.path, 'must be an absolute path'));
  }
  spec.nodeAffinity?.required?.nodeSelectorTerms.forEach((t, i) => {
    errs.push(...validateNodeSelectorTerm(t, index('spec.nodeAffinity.required.nodeSelectorTerms', i)));
  });
  const policy = spec.persistentVolumeReclaimPolicy;
  if (policy !== undefined && !['Delete', 'Recycle', 'Retain'].includes(policy)) {
    errs.push(notSupported('spec.persistentVolumeReclaimPolicy', policy, ['Delete', 'Recycle', 'Retain']));
  }
  if (spec.volumeMode !== undefined && !volumeModes.includes(spec.volumeMode))
    errs.push(notSupported('spec.volumeMode', spec.volumeMode, volumeModes));
  return errs;
}

export function validatePersistentVolumeUpdate(next: PersistentVolume, prev: PersistentVolume): FieldError[] {
  const errs = [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...withoutMeta(validatePersistentVolume(next)),
  ];
  const sourceOf = (pv: PersistentVolume): unknown => ({
    hostPath: pv.spec?.hostPath,
    local: pv.spec?.local,
    nfs: pv.spec?.nfs,
  });
  if (!sameValue(sourceOf(next), sourceOf(prev))) {
    errs.push(
      forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'),
    );
  }
  errs.push(...immutable(next.spec?.volumeMode, prev.spec?.volumeMode, 'spec.volumeMode'));
  if (prev.spec?.nodeAffinity !== undefined)
    errs.push(...immutable(next.spec?.nodeAffinity, prev.spec.nodeAffinity, 'spec.nodeAffinity'));
  return errs;
}

export function validatePersistentVolumeClaim(pvc: PersistentVolumeClaim): FieldError[] {
  const errs = validateObjectMeta(pvc.metadata, { namespaced: true, name: nameIsDNSSubdomain });
  const spec = pvc.spec ?? {};
  errs.push(...validateAccessModes(spec.accessModes, 'spec.accessModes'));
  errs.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  errs.push(...storageOf(spec.resources?.requests, 'spec.resources.requests'));
  if (spec.volumeMode !== undefined && !volumeModes.includes(spec.volumeMode))
    errs.push(notSupported('spec.volumeMode', spec.volumeMode, volumeModes));
  return errs;
}

/** A claim's spec is fixed once created, except a larger request and binding to a volume. */
export function validatePersistentVolumeClaimUpdate(
  next: PersistentVolumeClaim,
  prev: PersistentVolumeClaim,
): FieldError[] {
  const errs = [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...withoutMeta(validatePersistentVolumeClaim(next)),
  ];
  const ns = next.spec ?? {};
  const ps = prev.spec ?? {};
  const strip = (s: typeof ns, volumeName: string | undefined): unknown => ({
    ...s,
    resources: { ...s.resources, requests: undefined },
    volumeName,
  });
  // volumeName may go from empty to a volume (binding), never otherwise.
  const volumeName = !ps.volumeName ? ns.volumeName : ps.volumeName;
  if (!sameValue(strip(ns, ns.volumeName), strip(ps, volumeName))) {
    errs.push(
      forbidden(
        'spec',
        'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims',
      ),
    );
  }
  const a = ns.resources?.requests?.storage;
  const b = ps.resources?.requests?.storage;
  if (a !== undefined && b !== undefined) {
    try {
      if (compareQuantities(parseQuantity(a), parseQuantity(b)) < 0) {
        errs.push(forbidden('spec.resources.requests.storage', 'field can not be less than previous value'));
      }
    } catch (err) {
      if (!(err instanceof QuantityError)) throw err;
    }
  }
  return errs;
}

// ---- Lease -------------------------------------------------------------------------------------------

export function validateLease(lease: Lease): FieldError[] {
  const errs = validateObjectMeta(lease.metadata, { namespaced: true, name: nameIsDNSSubdomain });
  errs.push(...positive(lease.spec?.leaseDurationSeconds, 'spec.leaseDurationSeconds'));
  errs.push(...nonNegative(lease.spec?.leaseTransitions, 'spec.leaseTransitions'));
  return errs;
}

export function validateLeaseUpdate(next: Lease, prev: Lease): FieldError[] {
  return [...validateObjectMetaUpdate(next.metadata, prev.metadata), ...withoutMeta(validateLease(next))];
}

export function validateEventUpdate(next: Event, prev: Event): FieldError[] {
  return [...validateObjectMetaUpdate(next.metadata, prev.metadata), ...withoutMeta(validateEvent(next))];
}
