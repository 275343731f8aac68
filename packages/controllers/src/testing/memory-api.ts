/**
 * An in-memory `ApiClient` for unit tests of reconcile logic: no I/O, one process. It
 * keeps the API server's semantics that controllers depend on, using the same rules the
 * real server uses from @flotilla/api (defaults, create/update/status strategies,
 * validation, graceful deletion with finalizers, binding): one revision counter for
 * every write, 409 on a stale resourceVersion, label and field selectors, paged lists
 * from a snapshot, and watches from a revision with 410 once the history is compacted.
 * Stored objects are deep-frozen, so a controller that mutates what it read fails loudly.
 */
import { randomUUID } from 'node:crypto';
import {
  type ApiClient,
  alreadyExists,
  applyDefaults,
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  type Binding,
  bindPod,
  checkFieldSelector,
  checkPreconditions,
  type DeleteOptions,
  findResource,
  groupResourceOf,
  invalidObject,
  type KubeList,
  type KubeObject,
  type ListOptions,
  type LogChunk,
  matchesFields,
  matchesLabels,
  methodNotSupported,
  type Namespace,
  namespaceTerminating,
  notFound,
  type PatchType,
  type Pod,
  parseFieldSelector,
  parseLabelSelector,
  planDelete,
  prepareForCreate,
  prepareForFinalize,
  prepareForStatusUpdate,
  prepareForUpdate,
  type ResourceClient,
  type ResourceInfo,
  type ResourceRef,
  readyToRemove,
  resourceExpired,
  type Status,
  StatusError,
  staleResourceVersion,
  successStatus,
  tooOldResourceVersion,
  unknownResource,
  validateCreate,
  validateStatusUpdate,
  validateUpdate,
  type WatchEvent,
  type WatchOptions,
  type WriteOptions,
} from '@flotilla/api';

type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'updateStatus' | 'patch' | 'delete' | 'bind';

/** A write as the history records it (and as a watch delivers it). */
export type HistoryEvent = {
  readonly revision: number;
  /** `<group>/<plural>`, e.g. `/pods`, `apps/replicasets`. */
  readonly resource: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
  readonly prev: KubeObject | undefined;
};

export type Fault = {
  readonly verb: Verb;
  /** `<group>/<plural>`; absent matches every resource. */
  readonly resource?: string;
  /** How many calls fail before the fault is used up. */
  readonly times: number;
  readonly error: () => Error;
};

export type MemoryApiOptions = {
  readonly now?: () => number;
  /** Events kept for watches; older revisions answer 410. */
  readonly maxHistoryEvents?: number;
};

type Watcher = {
  readonly resource: string;
  readonly info: ResourceInfo;
  readonly namespace: string | undefined;
  readonly matches: (obj: KubeObject) => boolean;
  readonly buffer: WatchEvent<KubeObject>[];
  wake: (() => void) | undefined;
  ended: boolean;
  failure: Error | undefined;
};

const resourceKey = (ref: ResourceRef): string => `${ref.group}/${ref.resource}`;
const objectKey = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function withoutVersion(obj: KubeObject): string {
  return JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } });
}

export class MemoryApi implements ApiClient {
  private revisionCounter = 0;
  private readonly stores = new Map<string, Map<string, KubeObject>>();
  private readonly historyLog: HistoryEvent[] = [];
  private compactedThrough = 0;
  private readonly watchers = new Set<Watcher>();
  private readonly faults: { fault: Fault; left: number }[] = [];
  private readonly pages = new Map<string, { items: KubeObject[]; revision: number }>();
  private pageSeq = 0;
  private readonly maxHistoryEvents: number;
  /** Counts of calls by verb and resource, for tests that check what a controller wrote. */
  readonly calls = new Map<string, number>();
  readonly now: () => number;

  constructor(options: MemoryApiOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxHistoryEvents = options.maxHistoryEvents ?? 100_000;
  }

  /** The latest revision. */
  get revision(): number {
    return this.revisionCounter;
  }

  /** Every write since `afterRevision` still kept, oldest first. */
  history(afterRevision = 0): readonly HistoryEvent[] {
    return this.historyLog.filter((e) => e.revision > afterRevision);
  }

  /** Forget history up to now: watches from older revisions get 410. */
  compact(): void {
    this.historyLog.length = 0;
    this.compactedThrough = this.revisionCounter;
  }

  /** Fail the next `times` calls of `verb` (on `resource`) with `error()`. */
  inject(fault: Fault): void {
    this.faults.push({ fault, left: fault.times });
  }

  /** End every open watch: with `error` thrown, or (none given) as a server timeout does. */
  endWatches(error?: Error): void {
    for (const w of this.watchers) {
      w.ended = true;
      w.failure = error;
      w.wake?.();
    }
    this.watchers.clear();
  }

  /** Send a BOOKMARK at the current revision to every watch that asked for them. */
  bookmark(): void {
    for (const w of this.watchers) {
      w.buffer.push({
        type: 'BOOKMARK',
        object: {
          apiVersion: w.info.group === '' ? w.info.version : `${w.info.group}/${w.info.version}`,
          kind: w.info.kind,
          metadata: { resourceVersion: String(this.revisionCounter) },
        },
      });
      w.wake?.();
    }
  }

  /** The stored objects of a resource, for assertions (no selectors, no copy). */
  objects<T extends KubeObject>(ref: ResourceRef): T[] {
    return [...(this.stores.get(resourceKey(ref))?.values() ?? [])] as T[];
  }

  /** Stores an object as is (no defaults, no validation), for setting up a scene. */
  seed<T extends KubeObject>(ref: ResourceRef, object: T): T {
    const info = this.info(ref);
    const stored = deepFreeze({
      ...object,
      metadata: {
        uid: randomUUID(),
        ...object.metadata,
        ...(info.namespaced ? { namespace: object.metadata.namespace ?? 'default' } : {}),
        resourceVersion: String(this.revisionCounter + 1),
      },
    }) as T;
    const prev = this.store(ref).get(objectKey(stored.metadata.namespace, stored.metadata.name ?? ''));
    this.commit(resourceKey(ref), prev === undefined ? 'ADDED' : 'MODIFIED', stored, prev);
    return stored;
  }

  resource<T extends KubeObject>(ref: ResourceRef): ResourceClient<T> {
    return {
      ref,
      get: async (name, namespace) => this.get(ref, name, namespace) as T,
      list: async (options) => this.list(ref, options) as unknown as KubeList<T>,
      watch: (options) =>
        this.watch(ref, options) as AsyncIterableIterator<WatchEvent<T>> & { cancel(): void },
      create: async (object, options) => this.create(ref, object, options) as T,
      update: async (object, options) => this.update(ref, object, 'main', options) as T,
      updateStatus: async (object, options) => this.update(ref, object, 'status', options) as T,
      patch: async (name, patchType, patch, options) => this.patch(ref, name, patchType, patch, options) as T,
      delete: async (name, options) => this.delete(ref, name, options) as T | Status,
    };
  }

  async bind(namespace: string, pod: string, node: string): Promise<void> {
    const ref = { group: '', version: 'v1', resource: 'pods' };
    this.call('bind', ref);
    const info = this.info(ref);
    const prev = this.find(ref, pod, namespace) as Pod;
    const binding: Binding = {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: pod, namespace },
      target: { kind: 'Node', name: node },
    };
    const next = bindPod(info, prev, binding, this.now());
    this.commit('/pods', 'MODIFIED', this.stamp(next), prev);
  }

  /** PUT namespaces/<name>/finalize: only spec.finalizers is taken from `ns`. */
  async finalize(ns: Namespace): Promise<Namespace> {
    const ref = { group: '', version: 'v1', resource: 'namespaces' };
    this.call('update', ref);
    const prev = this.find(ref, ns.metadata.name ?? '', undefined) as Namespace;
    const next = prepareForFinalize(ns, prev);
    if (readyToRemove(next)) {
      this.remove(ref, prev);
      return next;
    }
    const stored = this.stamp(next) as Namespace;
    this.commit('/namespaces', 'MODIFIED', stored, prev);
    return stored;
  }

  logs(): AsyncIterableIterator<LogChunk> & { cancel(): void } {
    throw methodNotSupported({ group: '', resource: 'pods' }, 'log');
  }

  // ---- verbs ----------------------------------------------------------------------------------

  private get(ref: ResourceRef, name: string, namespace: string | undefined): KubeObject {
    this.call('get', ref);
    return this.find(ref, name, namespace);
  }

  private list(ref: ResourceRef, options: (ListOptions & { readonly namespace?: string }) | undefined) {
    this.call('list', ref);
    const info = this.info(ref);
    const kind = info.listKind;
    const apiVersion = info.group === '' ? info.version : `${info.group}/${info.version}`;
    if (options?.continue !== undefined) {
      const page = this.pages.get(options.continue);
      if (page === undefined) throw resourceExpired('the provided continue parameter is too old');
      this.pages.delete(options.continue);
      return this.page(apiVersion, kind, page.items, page.revision, options.limit);
    }
    const matches = this.matcher(info, options?.labelSelector, options?.fieldSelector);
    const items = [...this.store(ref).entries()]
      .filter(([, o]) => options?.namespace === undefined || o.metadata.namespace === options.namespace)
      .filter(([, o]) => matches(o))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
    return this.page(apiVersion, kind, items, this.revisionCounter, options?.limit);
  }

  private page(apiVersion: string, kind: string, items: KubeObject[], revision: number, limit?: number) {
    let rest: KubeObject[] = [];
    let shown = items;
    if (limit !== undefined && limit > 0 && items.length > limit) {
      shown = items.slice(0, limit);
      rest = items.slice(limit);
    }
    let token: string | undefined;
    if (rest.length > 0) {
      token = `page-${++this.pageSeq}`;
      this.pages.set(token, { items: rest, revision });
    }
    return {
      apiVersion,
      kind,
      metadata: {
        resourceVersion: String(revision),
        ...(token === undefined ? {} : { continue: token, remainingItemCount: rest.length }),
      },
      items: shown,
    };
  }

  private watch(
    ref: ResourceRef,
    options: (WatchOptions & { readonly namespace?: string }) | undefined,
  ): AsyncIterableIterator<WatchEvent<KubeObject>> & { cancel(): void } {
    const info = this.info(ref);
    const resource = resourceKey(ref);
    const watcher: Watcher = {
      resource,
      info,
      namespace: options?.namespace,
      matches: this.matcher(info, options?.labelSelector, options?.fieldSelector),
      buffer: [],
      wake: undefined,
      ended: false,
      failure: undefined,
    };
    let startError: Error | undefined;
    try {
      this.call('watch', ref);
      const from = options?.resourceVersion;
      if (options?.sendInitialEvents === true || from === undefined || from === '' || from === '0') {
        if (options?.sendInitialEvents === true) {
          for (const o of this.store(ref).values()) {
            if (this.visible(watcher, o)) watcher.buffer.push({ type: 'ADDED', object: o });
          }
        }
      } else {
        const rv = Number(from);
        if (rv < this.compactedThrough) throw tooOldResourceVersion(rv, this.compactedThrough + 1);
        for (const e of this.historyLog) {
          if (e.revision > rv && e.resource === resource) this.deliver(watcher, e);
        }
      }
      this.watchers.add(watcher);
    } catch (err) {
      startError = err as Error;
    }
    const timeoutMs = (options?.timeoutSeconds ?? 0) * 1000;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            watcher.ended = true;
            this.watchers.delete(watcher);
            watcher.wake?.();
          }, timeoutMs)
        : undefined;
    const finish = (): IteratorResult<WatchEvent<KubeObject>> => {
      watcher.ended = true;
      this.watchers.delete(watcher);
      if (timer !== undefined) clearTimeout(timer);
      watcher.wake?.();
      return { done: true, value: undefined };
    };
    const iterator = {
      next: async (): Promise<IteratorResult<WatchEvent<KubeObject>>> => {
        if (startError !== undefined) {
          const e = startError;
          startError = undefined;
          finish();
          throw e;
        }
        for (;;) {
          const event = watcher.buffer.shift();
          if (event !== undefined) return { done: false, value: event };
          if (watcher.ended) {
            if (watcher.failure !== undefined) {
              const e = watcher.failure;
              watcher.failure = undefined;
              finish();
              throw e;
            }
            return finish();
          }
          await new Promise<void>((resolve) => {
            watcher.wake = resolve;
          });
          watcher.wake = undefined;
        }
      },
      return: async (): Promise<IteratorResult<WatchEvent<KubeObject>>> => finish(),
      cancel: () => {
        finish();
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  private create(ref: ResourceRef, object: KubeObject, options?: WriteOptions): KubeObject {
    this.call('create', ref);
    const info = this.info(ref);
    const namespace = info.namespaced ? (object.metadata.namespace ?? 'default') : undefined;
    const defaulted = applyDefaults(
      namespace === undefined ? object : { ...object, metadata: { ...object.metadata, namespace } },
    );
    const prepared = prepareForCreate(info, defaulted, {
      uid: randomUUID(),
      nowMs: this.now(),
      random: Math.random,
    });
    const name = prepared.metadata.name ?? '';
    const errors = validateCreate(prepared);
    if (errors.length > 0) throw invalidObject(info, name, errors);
    if (namespace !== undefined) {
      const ns = this.stores.get('/namespaces')?.get(objectKey(undefined, namespace)) as
        | Namespace
        | undefined;
      if (ns?.metadata.deletionTimestamp !== undefined) {
        throw namespaceTerminating(groupResourceOf(info), name, namespace);
      }
    }
    if (this.store(ref).has(objectKey(namespace, name))) throw alreadyExists(groupResourceOf(info), name);
    if (options?.dryRun) return prepared;
    const stored = this.stamp(prepared);
    this.commit(resourceKey(ref), 'ADDED', stored, undefined);
    return stored;
  }

  private update(
    ref: ResourceRef,
    object: KubeObject,
    target: 'main' | 'status',
    options?: WriteOptions,
  ): KubeObject {
    this.call(target === 'main' ? 'update' : 'updateStatus', ref);
    const info = this.info(ref);
    const name = object.metadata.name ?? '';
    const prev = this.find(ref, name, info.namespaced ? (object.metadata.namespace ?? 'default') : undefined);
    const rv = object.metadata.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== prev.metadata.resourceVersion) {
      throw staleResourceVersion(groupResourceOf(info), name);
    }
    let next: KubeObject;
    if (target === 'main') {
      next = prepareForUpdate(info, applyDefaults(object), prev);
      const errors = validateUpdate(next, prev);
      if (errors.length > 0) throw invalidObject(info, name, errors);
    } else {
      next = prepareForStatusUpdate(object, prev);
      const errors = validateStatusUpdate(next, prev);
      if (errors.length > 0) throw invalidObject(info, name, errors);
    }
    if (options?.dryRun) return next;
    // A write that changes nothing keeps the stored object and revision, as Kubernetes does.
    if (withoutVersion(next) === withoutVersion(prev)) return prev;
    if (readyToRemove(next)) {
      this.remove(ref, prev);
      return next;
    }
    const stored = this.stamp(next);
    this.commit(resourceKey(ref), 'MODIFIED', stored, prev);
    return stored;
  }

  private patch(
    ref: ResourceRef,
    name: string,
    patchType: PatchType,
    patch: unknown,
    options: (WriteOptions & { readonly namespace?: string; readonly subresource?: string }) | undefined,
  ): KubeObject {
    this.call('patch', ref);
    const info = this.info(ref);
    const prev = this.find(ref, name, options?.namespace);
    const doc = structuredClone(prev) as unknown as Record<string, unknown>;
    let patched: unknown;
    switch (patchType) {
      case 'json':
        patched = applyJsonPatch(doc, patch);
        break;
      case 'merge':
        patched = applyMergePatch(doc, patch);
        break;
      case 'strategic':
        patched = applyStrategicMergePatch(doc as never, patch, info.schema);
        break;
    }
    const target = options?.subresource === 'status' ? 'status' : 'main';
    return this.update(ref, patched as KubeObject, target, options);
  }

  private delete(
    ref: ResourceRef,
    name: string,
    options: (DeleteOptions & { readonly namespace?: string }) | undefined,
  ): KubeObject | Status {
    this.call('delete', ref);
    const info = this.info(ref);
    const prev = this.find(ref, name, options?.namespace);
    const failed = checkPreconditions(info, prev, options ?? {});
    if (failed !== undefined) throw failed;
    const plan = planDelete(prev, options ?? {}, this.now());
    switch (plan.kind) {
      case 'remove':
        this.remove(ref, prev);
        return successStatus({ name, group: info.group, kind: info.plural, uid: prev.metadata.uid ?? '' });
      case 'unchanged':
        return plan.object;
      case 'mark': {
        const stored = this.stamp(plan.object);
        this.commit(resourceKey(ref), 'MODIFIED', stored, prev);
        return stored;
      }
    }
  }

  // ---- storage ----------------------------------------------------------------------------------

  private remove(ref: ResourceRef, prev: KubeObject): void {
    const gone = deepFreeze({
      ...prev,
      metadata: { ...prev.metadata, resourceVersion: String(this.revisionCounter + 1) },
    });
    this.commit(resourceKey(ref), 'DELETED', gone, prev);
  }

  private stamp(obj: KubeObject): KubeObject {
    return deepFreeze({
      ...obj,
      metadata: { ...obj.metadata, resourceVersion: String(this.revisionCounter + 1) },
    });
  }

  private commit(
    resource: string,
    type: HistoryEvent['type'],
    object: KubeObject,
    prev: KubeObject | undefined,
  ) {
    this.revisionCounter++;
    const store = this.storeOf(resource);
    const key = objectKey(object.metadata.namespace, object.metadata.name ?? '');
    if (type === 'DELETED') store.delete(key);
    else store.set(key, object);
    const event: HistoryEvent = { revision: this.revisionCounter, resource, type, object, prev };
    this.historyLog.push(event);
    if (this.historyLog.length > this.maxHistoryEvents) {
      const dropped = this.historyLog.shift();
      if (dropped !== undefined) this.compactedThrough = dropped.revision;
    }
    for (const w of this.watchers) if (w.resource === resource) this.deliver(w, event);
  }

  /** Delivers an event as a filtered watch sees it: leaving the selection is a DELETED. */
  private deliver(w: Watcher, e: HistoryEvent): void {
    const now = e.type !== 'DELETED' && this.visible(w, e.object);
    const before = e.prev !== undefined && this.visible(w, e.prev);
    let type: WatchEvent['type'] | undefined;
    if (e.type === 'DELETED') type = before ? 'DELETED' : undefined;
    else if (now && before) type = 'MODIFIED';
    else if (now) type = 'ADDED';
    else if (before) type = 'DELETED';
    if (type === undefined) return;
    w.buffer.push({ type, object: e.object } as WatchEvent<KubeObject>);
    w.wake?.();
  }

  private visible(w: Watcher, obj: KubeObject): boolean {
    return (w.namespace === undefined || obj.metadata.namespace === w.namespace) && w.matches(obj);
  }

  private matcher(info: ResourceInfo, labelSelector?: string, fieldSelector?: string) {
    const labels = parseLabelSelector(labelSelector ?? '');
    const fields = parseFieldSelector(fieldSelector ?? '');
    checkFieldSelector(info, fields);
    return (obj: KubeObject) =>
      matchesLabels(labels, obj.metadata.labels) && matchesFields(info, fields, obj);
  }

  private find(ref: ResourceRef, name: string, namespace: string | undefined): KubeObject {
    const info = this.info(ref);
    const obj = this.store(ref).get(objectKey(info.namespaced ? (namespace ?? 'default') : undefined, name));
    if (obj === undefined) throw notFound(groupResourceOf(info), name);
    return obj;
  }

  private info(ref: ResourceRef): ResourceInfo {
    const info = findResource(ref.group, ref.version, ref.resource);
    if (info === undefined) throw unknownResource();
    return info;
  }

  private store(ref: ResourceRef): Map<string, KubeObject> {
    return this.storeOf(resourceKey(ref));
  }

  private storeOf(resource: string): Map<string, KubeObject> {
    let s = this.stores.get(resource);
    if (s === undefined) {
      s = new Map();
      this.stores.set(resource, s);
    }
    return s;
  }

  private call(verb: Verb, ref: ResourceRef): void {
    const resource = resourceKey(ref);
    const key = `${verb} ${resource}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    const i = this.faults.findIndex(
      (f) => f.fault.verb === verb && (f.fault.resource === undefined || f.fault.resource === resource),
    );
    const hit = this.faults[i];
    if (hit === undefined) return;
    hit.left--;
    if (hit.left <= 0) this.faults.splice(i, 1);
    throw hit.fault.error();
  }
}

/** A StatusError for tests that need an arbitrary API failure. */
export function serverError(message = 'injected failure'): StatusError {
  return new StatusError({
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'InternalError',
    code: 500,
  });
}
