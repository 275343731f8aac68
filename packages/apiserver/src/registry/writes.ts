/**
 * create, update (the main resource and its status, scale and finalize subresources),
 * patch (JSON, merge, strategic merge) and pods/binding. Each follows the flow of
 * @flotilla/api: decode → defaults → prepare → validate, then one guarded txn; a patch is
 * applied to the stored object and its result decoded again. Nothing is written unless
 * every check passed, and `dryRun` runs every check and writes nothing.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
 */
import { randomBytes } from 'node:crypto';
import { backoffDelayMs, sleep } from '@flotilla/actor';
import type {
  Binding,
  DecodeTarget,
  FieldValidation,
  KubeObject,
  Namespace,
  PatchType,
  ResourceInfo,
  Scale,
  Service,
  Status,
} from '@flotilla/api';
import {
  alreadyExists,
  applyDefaults,
  applyJsonPatch,
  applyMergePatch,
  applyScale,
  applyStrategicMergePatch,
  badRequest,
  bindingSchema,
  bindPod as bindPodTo,
  decodeFor,
  generateNameConflict,
  groupResourceOf,
  invalidObject,
  invalid as invalidStatus,
  methodNotSupported,
  namespaceTerminating,
  notFound,
  PatchError,
  patchErrorStatus,
  prepareForCreate,
  prepareForFinalize,
  prepareForStatusUpdate,
  prepareForUpdate,
  readyToRemove,
  scaleOf,
  scaleSchema,
  serviceUnavailable,
  staleResourceVersion,
  subresourceOf,
  successStatus,
  validateBinding,
  validateCreate,
  validateScale,
  validateStatusUpdate,
  validateUpdate,
} from '@flotilla/api';
import type { Compare, RequestOp } from '@flotilla/store';
import { namespaceKey, objectKey, terminatingKey } from '../storage/keys.ts';
import { keyBytes, rangeResponse, type StoredObject } from '../storage/object-store.ts';
import { type Decision, guaranteedUpdate, sameStored } from './commit.ts';
import {
  type CollectionRef,
  checkCollectionRef,
  checkObjectRef,
  type ObjectRef,
  type RegistryContext,
  withResourceVersion,
} from './context.ts';
import { recordSizeOp } from './paging.ts';
import { dropTypeDependentFields, normalizeClusterIPs } from './service-allocation.ts';

export type WriteOptions = {
  readonly dryRun?: boolean;
  readonly fieldValidation?: FieldValidation;
};

export type WriteResult = {
  readonly object: KubeObject;
  /** Unknown fields under fieldValidation=Warn, for the `Warning` header. */
  readonly warnings: readonly string[];
};

/** The subresources written with PUT (and PATCH, except finalize). */
export type UpdateSubresource = 'status' | 'scale' | 'finalize';

/** Attempts at a free name when generateName's random suffix is taken. */
export const maxGenerateNameAttempts = 8;
/** Plans of a new Service's addresses, when other Services keep changing the bitmaps meanwhile. */
export const maxAllocationRetries = 64;
const allocationBackoff = { initialMs: 5, maxMs: 200, multiplier: 2, jitter: 0.5 };

const scaleTarget: DecodeTarget = { group: 'autoscaling', version: 'v1', kind: 'Scale', schema: scaleSchema };
const bindingTarget: DecodeTarget = { group: '', version: 'v1', kind: 'Binding', schema: bindingSchema };

function checkFieldValidation(value: string | undefined): FieldValidation | undefined {
  if (value === undefined || value === 'Ignore' || value === 'Warn' || value === 'Strict') return value;
  throw badRequest(
    `fieldValidation: Unsupported value: ${JSON.stringify(value)}: supported values: "Ignore", "Warn", "Strict"`,
  );
}

function decodeBody<T extends KubeObject>(target: DecodeTarget, value: unknown, options: WriteOptions) {
  return decodeFor<T>(target, value, {
    fieldValidation: checkFieldValidation(options.fieldValidation) ?? 'Warn',
  });
}

const isServices = (info: ResourceInfo): boolean => info.group === '' && info.plural === 'services';
const isEvents = (info: ResourceInfo): boolean => info.group === '' && info.plural === 'events';

/** Fills the URL's namespace into a body, or refuses a body that names another. */
function placeInNamespace<T extends KubeObject>(
  info: ResourceInfo,
  obj: T,
  namespace: string | undefined,
): T {
  if (!info.namespaced) {
    if (obj.metadata.namespace === undefined) return obj;
    const { namespace: _, ...metadata } = obj.metadata;
    return { ...obj, metadata };
  }
  const given = obj.metadata.namespace;
  if (given !== undefined && given !== '' && given !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  return { ...obj, metadata: { ...obj.metadata, namespace } };
}

/** Fills the URL's name into a body, or refuses a body that names another object. */
function placeAtName<T extends KubeObject>(obj: T, name: string): T {
  const given = obj.metadata.name;
  if (given !== undefined && given !== '' && given !== name) {
    throw badRequest(`the name of the object (${given}) does not match the name on the URL (${name})`);
  }
  return { ...obj, metadata: { ...obj.metadata, name } };
}

/** POST to a collection. */
export async function createObject(
  ctx: RegistryContext,
  ref: CollectionRef,
  value: unknown,
  options: WriteOptions,
): Promise<WriteResult> {
  checkCollectionRef(ref, true);
  const { info } = ref;
  const decoded = decodeBody(info, value, options);
  const given = placeInNamespace(info, decoded.object, ref.namespace);
  if (given.metadata.resourceVersion !== undefined && given.metadata.resourceVersion !== '') {
    throw badRequest('resourceVersion should not be set on objects to be created');
  }
  const defaulted = applyDefaults(given);
  let nameAttempts = 0;
  let allocationAttempts = 0;
  for (;;) {
    let object = prepareForCreate(info, defaulted, {
      uid: ctx.newUid(),
      nowMs: ctx.nowMs(),
      random: ctx.random,
    });
    const name = object.metadata.name ?? '';
    const errors = validateCreate(object);
    if (errors.length > 0) throw invalidObject(info, name, errors);
    const key = objectKey(info, ref.namespace, name);
    const compares: Compare[] = [{ key: keyBytes(key), target: 'mod', modRevision: 0, result: '=' }];
    const ops: RequestOp[] = [];
    // NamespaceLifecycle in the txn itself: the namespace exists (a missing key's create
    // revision reads as 0) and is not terminating (its marker does not exist).
    const namespace = info.namespaced ? ref.namespace : undefined;
    if (namespace !== undefined) {
      compares.push(
        { key: keyBytes(namespaceKey(namespace)), target: 'create', createRevision: 0, result: '>' },
        { key: keyBytes(terminatingKey(namespace)), target: 'version', version: 0, result: '=' },
      );
    }
    if (isServices(info)) {
      const plan = await ctx.allocations.plan(ctx.store, undefined, object as Service);
      object = plan.service ?? object;
      compares.push(...plan.compares);
      ops.push(...plan.ops);
    }
    if (options.dryRun === true) return { object, warnings: decoded.warnings };
    const lease = isEvents(info) ? await ctx.eventLeases.lease(ctx.nowMs()) : 0;
    const value = ctx.store.encode(object);
    const put: RequestOp = { op: 'put', key: keyBytes(key), value, lease };
    const failure: RequestOp[] = [{ op: 'range', key: keyBytes(key), keysOnly: true }];
    if (namespace !== undefined) {
      failure.push(
        { op: 'range', key: keyBytes(namespaceKey(namespace)), keysOnly: true },
        { op: 'range', key: keyBytes(terminatingKey(namespace)), keysOnly: true },
      );
    }
    const outcome = await ctx.store.txn(
      compares,
      [put, recordSizeOp(info, value.byteLength), ...ops],
      failure,
    );
    if (outcome.succeeded)
      return { object: withResourceVersion(object, outcome.revision), warnings: decoded.warnings };
    const found = (i: number) => (rangeResponse(outcome, i)?.length ?? 0) > 0;
    const exists = found(0);
    const namespaceExists = namespace === undefined || found(1);
    const terminating = namespace !== undefined && found(2);
    if (exists) {
      const generated = !defaulted.metadata.name && defaulted.metadata.generateName;
      if (!generated) throw alreadyExists(groupResourceOf(info), name);
      nameAttempts += 1;
      if (nameAttempts >= maxGenerateNameAttempts) throw generateNameConflict(groupResourceOf(info), name, 1);
      continue;
    }
    if (!namespaceExists) throw notFound({ group: '', resource: 'namespaces' }, namespace ?? '');
    if (terminating) throw namespaceTerminating(groupResourceOf(info), name, namespace ?? '');
    // An allocator bitmap changed under us (another Service took or freed an address): plan
    // again, after a short random pause so that racing replicas spread out.
    allocationAttempts += 1;
    if (allocationAttempts > maxAllocationRetries) {
      throw serviceUnavailable('too many concurrent changes of Service addresses; try again', 1);
    }
    ctx.metrics.conflictRetries.inc({ resource: info.plural });
    await sleep(backoffDelayMs(allocationAttempts - 1, allocationBackoff));
  }
}

/**
 * The object a write of `body` to the main resource or a subresource makes of the stored
 * one: preconditions, defaults, preparation and validation (422), then whether anything
 * changed and whether a pending deletion is now complete.
 */
function decideUpdate(
  ref: ObjectRef,
  subresource: UpdateSubresource | undefined,
  current: StoredObject,
  body: KubeObject,
): Decision {
  const { info } = ref;
  const prev = current.object;
  const rv = body.metadata.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== prev.metadata.resourceVersion) {
    throw staleResourceVersion(groupResourceOf(info), ref.name);
  }
  let next: KubeObject;
  switch (subresource) {
    case undefined: {
      let defaulted = applyDefaults(
        isServices(info) ? normalizeClusterIPs(body as Service, prev as Service) : body,
      );
      if (isServices(info)) defaulted = dropTypeDependentFields(defaulted as Service, prev as Service);
      next = prepareForUpdate(info, defaulted, prev);
      const errors = validateUpdate(next, prev);
      if (errors.length > 0) throw invalidObject(info, ref.name, errors);
      break;
    }
    case 'status': {
      next = prepareForStatusUpdate(body, prev);
      const errors = validateStatusUpdate(next, prev);
      if (errors.length > 0) throw invalidObject(info, ref.name, errors);
      break;
    }
    case 'scale': {
      const scale = body as unknown as Scale;
      const scaleErrors = validateScale(scale);
      if (scaleErrors.length > 0)
        throw invalidStatus({ group: 'autoscaling', kind: 'Scale' }, ref.name, scaleErrors);
      next = prepareForUpdate(info, applyScale(prev as never, scale) as KubeObject, prev);
      const errors = validateUpdate(next, prev);
      if (errors.length > 0) throw invalidObject(info, ref.name, errors);
      break;
    }
    case 'finalize': {
      next = prepareForFinalize(body as Namespace, prev as Namespace);
      const errors = validateUpdate(next, prev);
      if (errors.length > 0) throw invalidObject(info, ref.name, errors);
      break;
    }
  }
  if (sameStored(next, prev)) return { kind: 'unchanged', object: prev };
  if (readyToRemove(next)) return { kind: 'remove', object: next };
  return { kind: 'write', object: next };
}

function checkSubresource(ref: ObjectRef, subresource: string | undefined, verb: 'update' | 'patch'): void {
  if (subresource === undefined) return;
  const sub = subresourceOf(ref.info, subresource);
  if (sub === undefined || !sub.verbs.includes(verb)) {
    throw methodNotSupported({ group: ref.info.group, resource: `${ref.info.plural}/${subresource}` }, verb);
  }
}

/** What a write through a subresource answers with: the Scale for scale, else the object. */
function answerOf(subresource: string | undefined, object: KubeObject): KubeObject {
  return subresource === 'scale' ? (scaleOf(object as never) as unknown as KubeObject) : object;
}

/** PUT of an object or of its status, scale or finalize subresource. */
export async function updateObject(
  ctx: RegistryContext,
  ref: ObjectRef,
  subresource: UpdateSubresource | undefined,
  value: unknown,
  options: WriteOptions,
): Promise<WriteResult> {
  checkObjectRef(ref);
  checkSubresource(ref, subresource, 'update');
  const decoded = decodeBody(subresource === 'scale' ? scaleTarget : ref.info, value, options);
  const body = placeAtName(placeInNamespace(ref.info, decoded.object, ref.namespace), ref.name);
  const committed = await guaranteedUpdate(ctx, ref, options.dryRun === true, (current) =>
    decideUpdate(ref, subresource, current, body),
  );
  return { object: answerOf(subresource, committed.object), warnings: decoded.warnings };
}

function applyPatch(patchType: PatchType, base: KubeObject, patch: unknown, target: DecodeTarget): unknown {
  const doc = base as unknown as Record<string, unknown>;
  try {
    switch (patchType) {
      case 'json':
        return applyJsonPatch(doc, patch);
      case 'merge':
        return applyMergePatch(doc, patch);
      case 'strategic':
        return applyStrategicMergePatch(doc as never, patch, target.schema);
    }
  } catch (err) {
    if (err instanceof PatchError) throw patchErrorStatus(err);
    throw err;
  }
}

/** PATCH of an object or of its status or scale subresource. */
export async function patchObject(
  ctx: RegistryContext,
  ref: ObjectRef,
  subresource: 'status' | 'scale' | undefined,
  patchType: PatchType,
  patch: unknown,
  options: WriteOptions,
): Promise<WriteResult> {
  checkObjectRef(ref);
  checkSubresource(ref, subresource, 'patch');
  const target = subresource === 'scale' ? scaleTarget : ref.info;
  let warnings: readonly string[] = [];
  const committed = await guaranteedUpdate(ctx, ref, options.dryRun === true, (current) => {
    const base = answerOf(subresource, current.object);
    const patched = applyPatch(patchType, base, patch, target);
    const decoded = decodeBody(target, patched, options);
    warnings = decoded.warnings;
    return decideUpdate(ref, subresource, current, placeInNamespace(ref.info, decoded.object, ref.namespace));
  });
  return { object: answerOf(subresource, committed.object), warnings };
}

/** POST pods/<name>/binding: the scheduler's assignment of a pod to a node. */
export async function bindPod(
  ctx: RegistryContext,
  ref: ObjectRef,
  value: unknown,
  options: WriteOptions,
): Promise<Status> {
  checkObjectRef(ref);
  const decoded = decodeBody<Binding>(bindingTarget, value, options);
  const binding = placeAtName(placeInNamespace(ref.info, decoded.object, ref.namespace), ref.name);
  const errors = validateBinding(binding);
  if (errors.length > 0) throw invalidStatus({ group: '', kind: 'Binding' }, ref.name, errors);
  await guaranteedUpdate(ctx, ref, options.dryRun === true, (current) => {
    const uid = binding.metadata.uid;
    if (uid !== undefined && uid !== '' && uid !== current.object.metadata.uid) {
      throw staleResourceVersion(groupResourceOf(ref.info), ref.name);
    }
    return { kind: 'write', object: bindPodTo(ref.info, current.object as never, binding, ctx.nowMs()) };
  });
  return { ...successStatus(), code: 201 };
}

/** A random number in [0, 1) from the system's CSPRNG (generated names and addresses). */
export function cryptoRandom(): number {
  return randomBytes(6).readUIntBE(0, 6) / 2 ** 48;
}
