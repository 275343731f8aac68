/**
 * The ApiClient of every component inside the cluster: the API as actor requests to
 * `apiserver.<cluster>` (any replica of the queue group answers). Reads are retried with
 * the same request id until their deadline; writes are sent once per replica attempt
 * (retried only when no replica took them), so a write is never applied twice behind the
 * caller's back. Lists follow `continue` until complete; watches resume on another
 * replica from the last resourceVersion seen when their stream breaks.
 */
import {
  type ActorRef,
  type ActorSystem,
  backoffDelayMs,
  DeadlineExceededError,
  NoRespondersError,
  RemoteError,
  ShuttingDownError,
  StreamError,
  sleep,
} from '@flotilla/actor';
import { StatusError } from '../status.ts';
import type { Binding } from '../types/core.ts';
import type { DeleteOptions, KubeList, KubeObject, Status, WatchEvent } from '../types/meta.ts';
import type { ApiClient, ResourceClient } from './client.ts';
import {
  type ApiProtocol,
  apiActorName,
  type ListOptions,
  type LogChunk,
  type LogOptions,
  type PatchType,
  type ResourceRef,
  type WatchOptions,
  type WriteOptions,
} from './protocol.ts';

export type NatsApiClientOptions = {
  readonly system: ActorSystem;
  readonly clusterId: string;
  /** Total time a call may take, across retries. */
  readonly timeoutMs?: number;
  /** Watch events a replica may send ahead of what the caller has read. */
  readonly watchWindowItems?: number;
  /** Idle heartbeat of watch and log streams: a replica silent for three of them is gone. */
  readonly streamHeartbeatMs?: number;
  /** A watch that keeps failing without delivering anything gives up after this many resumes. */
  readonly maxWatchResumes?: number;
};

export const defaultApiTimeoutMs = 10_000;

/** The annotation of the bookmark that ends a watch's initial events. */
const initialEventsEnd = 'k8s.io/initial-events-end';

/** Failures of the transport (not of the request): another replica may do better. */
function transportFailure(err: unknown): boolean {
  return (
    err instanceof StreamError ||
    err instanceof NoRespondersError ||
    err instanceof DeadlineExceededError ||
    err instanceof ShuttingDownError ||
    (err instanceof RemoteError && (err.code === 'Overloaded' || err.code === 'ShuttingDown'))
  );
}

type Settings = Required<Omit<NatsApiClientOptions, 'system' | 'clusterId'>>;

export class NatsApiClient implements ApiClient {
  private readonly api: ActorRef<ApiProtocol>;
  private readonly settings: Settings;

  constructor(options: NatsApiClientOptions) {
    this.api = options.system.ref<ApiProtocol>(apiActorName(options.clusterId));
    this.settings = {
      timeoutMs: options.timeoutMs ?? defaultApiTimeoutMs,
      watchWindowItems: options.watchWindowItems ?? 256,
      streamHeartbeatMs: options.streamHeartbeatMs ?? 1_000,
      maxWatchResumes: options.maxWatchResumes ?? 30,
    };
  }

  resource<T extends KubeObject>(ref: ResourceRef): ResourceClient<T> {
    return new NatsResourceClient<T>(this.api, this.settings, ref);
  }

  async bind(namespace: string, pod: string, node: string): Promise<void> {
    const binding: Binding = {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: pod, namespace },
      target: { apiVersion: 'v1', kind: 'Node', name: node },
    };
    await this.api.ask(
      'create',
      {
        group: '',
        version: 'v1',
        resource: 'pods',
        namespace,
        name: pod,
        subresource: 'binding',
        object: binding,
      },
      writeCall(this.settings),
    );
  }

  logs(
    namespace: string,
    pod: string,
    options: LogOptions = {},
  ): AsyncIterableIterator<LogChunk> & { cancel(): void } {
    return this.api.stream(
      'log',
      { group: '', version: 'v1', resource: 'pods', namespace, name: pod, ...options },
      { heartbeatMs: this.settings.streamHeartbeatMs, openTimeoutMs: this.settings.timeoutMs },
    );
  }
}

/** A read may be retried anywhere: the same request id, attempts of a third of the deadline. */
function readCall(s: Settings) {
  return { timeoutMs: s.timeoutMs };
}

/** A write gets one attempt as long as the whole deadline (retried only if nobody took it). */
function writeCall(s: Settings) {
  return { timeoutMs: s.timeoutMs, attemptTimeoutMs: s.timeoutMs };
}

class NatsResourceClient<T extends KubeObject> implements ResourceClient<T> {
  readonly ref: ResourceRef;
  private readonly api: ActorRef<ApiProtocol>;
  private readonly settings: Settings;

  constructor(api: ActorRef<ApiProtocol>, settings: Settings, ref: ResourceRef) {
    this.api = api;
    this.settings = settings;
    this.ref = { group: ref.group, version: ref.version, resource: ref.resource };
  }

  async get(name: string, namespace?: string): Promise<T> {
    return (await this.api.ask('get', { ...this.ref, namespace, name }, readCall(this.settings))) as T;
  }

  /**
   * Without a limit, every page until the list is complete: all pages come from one
   * revision, so the result is the same as a single read. With a limit, one page.
   */
  async list(options: ListOptions & { readonly namespace?: string } = {}): Promise<KubeList<T>> {
    const first = await this.api.ask('list', { ...this.ref, ...options }, readCall(this.settings));
    if (options.limit !== undefined) return first as KubeList<T>;
    const items = [...first.items];
    let next = first.metadata.continue;
    while (next !== undefined && next !== '') {
      const { resourceVersion: _, resourceVersionMatch: __, ...rest } = options;
      const page = await this.api.ask(
        'list',
        { ...this.ref, ...rest, continue: next },
        readCall(this.settings),
      );
      items.push(...page.items);
      next = page.metadata.continue;
    }
    return {
      apiVersion: first.apiVersion,
      kind: first.kind,
      metadata: { resourceVersion: first.metadata.resourceVersion ?? '' },
      items: items as T[],
    };
  }

  watch(options: WatchOptions & { readonly namespace?: string } = {}): AsyncIterableIterator<
    WatchEvent<T>
  > & {
    cancel(): void;
  } {
    return new ResumingWatch<T>(this.api, this.settings, this.ref, options);
  }

  async create(object: T, options: WriteOptions = {}): Promise<T> {
    const namespace = object.metadata.namespace;
    return (await this.api.ask(
      'create',
      { ...this.ref, namespace, object, ...options },
      writeCall(this.settings),
    )) as T;
  }

  async update(object: T, options: WriteOptions = {}): Promise<T> {
    return this.put(object, undefined, options);
  }

  async updateStatus(object: T, options: WriteOptions = {}): Promise<T> {
    return this.put(object, 'status', options);
  }

  async patch(
    name: string,
    patchType: PatchType,
    patch: unknown,
    options: WriteOptions & { readonly namespace?: string; readonly subresource?: string } = {},
  ): Promise<T> {
    const { namespace, subresource, ...write } = options;
    const req = { ...this.ref, namespace, name, subresource, patchType, patch, ...write };
    return (await this.api.ask('patch', req, writeCall(this.settings))) as T;
  }

  async delete(
    name: string,
    options: DeleteOptions & { readonly namespace?: string } = {},
  ): Promise<T | Status> {
    const { namespace, ...deleteOptions } = options;
    const req = { ...this.ref, namespace, name, options: deleteOptions };
    return (await this.api.ask('delete', req, writeCall(this.settings))) as T | Status;
  }

  private async put(object: T, subresource: string | undefined, options: WriteOptions): Promise<T> {
    const { name, namespace } = object.metadata;
    if (name === undefined || name === '') throw new StatusError(missingName());
    const req = { ...this.ref, namespace, name, subresource, object, ...options };
    return (await this.api.ask('update', req, writeCall(this.settings))) as T;
  }
}

function missingName(): Status {
  return {
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Failure',
    message: 'an object to update needs metadata.name',
    reason: 'BadRequest',
    code: 400,
  };
}

/**
 * A watch over a replica's stream that survives the replica: when the stream breaks it is
 * opened again (on whichever replica answers) after the last resourceVersion delivered,
 * learned from events and from bookmarks, which it always asks for. A break before that
 * revision is known (during the initial events, or before anything arrived on a watch
 * "from now") cannot be resumed exactly and is thrown, like any Status (410 included).
 */
class ResumingWatch<T extends KubeObject> implements AsyncIterableIterator<WatchEvent<T>> {
  private readonly api: ActorRef<ApiProtocol>;
  private readonly settings: Settings;
  private readonly request: ResourceRef & WatchOptions & { readonly namespace?: string };
  private readonly callerBookmarks: boolean;
  private readonly deadlineMs: number | undefined;
  private stream: (AsyncIterableIterator<WatchEvent> & { cancel(): void }) | undefined;
  /** The revision to resume after; undefined while it is not known. */
  private resumeAfter: string | undefined;
  private initialPending: boolean;
  private failures = 0;
  private cancelled = false;

  constructor(
    api: ActorRef<ApiProtocol>,
    settings: Settings,
    ref: ResourceRef,
    options: WatchOptions & { readonly namespace?: string },
  ) {
    this.api = api;
    this.settings = settings;
    this.callerBookmarks = options.allowWatchBookmarks === true;
    const rv = options.resourceVersion;
    const fromState = rv === undefined || rv === '' || rv === '0';
    // Initial events are asked for explicitly, so that their end is marked by a bookmark.
    this.initialPending =
      options.sendInitialEvents === true || (options.sendInitialEvents === undefined && fromState);
    this.resumeAfter = this.initialPending || fromState ? undefined : rv;
    this.request = {
      ...ref,
      ...options,
      allowWatchBookmarks: true,
      ...(this.initialPending ? { sendInitialEvents: true } : {}),
    };
    this.deadlineMs =
      options.timeoutSeconds !== undefined && options.timeoutSeconds > 0
        ? performance.now() + options.timeoutSeconds * 1000
        : undefined;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchEvent<T>> {
    return this;
  }

  async next(): Promise<IteratorResult<WatchEvent<T>>> {
    while (!this.cancelled) {
      this.stream ??= this.open();
      if (this.stream === undefined) break;
      try {
        const r = await this.stream.next();
        if (r.done) break;
        const event = r.value;
        this.failures = 0;
        if (event.type === 'ERROR') throw new StatusError(event.object);
        const rv = event.object.metadata.resourceVersion;
        if (event.type === 'BOOKMARK') {
          const endOfInitial = event.object.metadata.annotations?.[initialEventsEnd] === 'true';
          if (endOfInitial) this.initialPending = false;
          if (rv !== undefined && !this.initialPending) this.resumeAfter = rv;
          if (!this.callerBookmarks) continue;
        } else if (rv !== undefined && !this.initialPending) {
          this.resumeAfter = rv;
        }
        return { value: event as WatchEvent<T>, done: false };
      } catch (err) {
        this.stream = undefined;
        if (this.cancelled) break;
        if (!transportFailure(err) || this.resumeAfter === undefined) throw err;
        this.failures += 1;
        if (this.failures > this.settings.maxWatchResumes) throw err;
        await sleep(
          backoffDelayMs(this.failures - 1, { initialMs: 50, maxMs: 1_000, multiplier: 2, jitter: 0.3 }),
        );
      }
    }
    this.cancel();
    return { value: undefined, done: true };
  }

  return(): Promise<IteratorResult<WatchEvent<T>>> {
    this.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  cancel(): void {
    this.cancelled = true;
    this.stream?.cancel();
    this.stream = undefined;
  }

  /** A stream from where the watch is; undefined when its time is up. */
  private open(): (AsyncIterableIterator<WatchEvent> & { cancel(): void }) | undefined {
    let timeoutSeconds = this.request.timeoutSeconds;
    if (this.deadlineMs !== undefined) {
      const left = Math.ceil((this.deadlineMs - performance.now()) / 1000);
      if (left <= 0) return undefined;
      timeoutSeconds = left;
    }
    const resumed =
      this.resumeAfter === undefined
        ? this.request
        : { ...this.request, resourceVersion: this.resumeAfter, sendInitialEvents: false };
    return this.api.stream(
      'watch',
      { ...resumed, timeoutSeconds },
      {
        windowFrames: this.settings.watchWindowItems,
        heartbeatMs: this.settings.streamHeartbeatMs,
        openTimeoutMs: this.settings.timeoutMs,
      },
    );
  }
}
