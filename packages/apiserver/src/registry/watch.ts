/**
 * watch: the store's watch of a collection's prefix turned into Kubernetes watch events.
 * Without a resourceVersion (or with `0`, or with `sendInitialEvents`) the current objects
 * come first as ADDED, read page by page at one revision, and the watch goes on from the
 * next revision. Selectors apply to each change the way the watch cache applies them: an
 * object that stops matching is DELETED for this watcher, one that starts matching is
 * ADDED. Progress notifications of the store become BOOKMARKs when the client allows them.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 */
import type { KubeObject, ResourceInfo, WatchEvent, WatchOptions } from '@flotilla/api';
import { badRequest, internalError, StatusError } from '@flotilla/api';
import { CompactedError, type KeyValue, type StoreWatch, WatchCancelledError } from '@flotilla/store';
import { collectionPrefix } from '../storage/keys.ts';
import { linearizable, type ReadMode, serializable } from '../storage/object-store.ts';
import { expired, tooLargeResourceVersion } from '../storage/store-errors.ts';
import {
  apiVersionOf,
  type CollectionRef,
  checkCollectionRef,
  parseResourceVersion,
  type RegistryContext,
  withResourceVersion,
} from './context.ts';
import { keysPerPage, type PagedRead, pinRead } from './paging.ts';
import { parseSelection, type Selection, selects } from './selection.ts';

/** The annotation of the bookmark that ends the initial events (KEP-3157, watch-list). */
export const initialEventsEndAnnotation = 'k8s.io/initial-events-end';

/** Longest watch a client may ask for with timeoutSeconds. */
export const maxWatchTimeoutSeconds = 24 * 60 * 60;

export type WatchStart =
  /** List the collection at this read mode first, then watch from the next revision. */
  | { readonly kind: 'initial'; readonly mode: ReadMode; readonly atLeast: number | undefined }
  /** Watch changes after this revision. */
  | { readonly kind: 'after'; readonly revision: number }
  /** Watch changes from the current revision on. */
  | { readonly kind: 'now' };

/** Where a watch starts, from its resourceVersion and sendInitialEvents (Kubernetes' table). */
export function watchStart(options: WatchOptions): WatchStart {
  const rv = parseResourceVersion(options.resourceVersion);
  const mode: ReadMode = rv === 0 ? serializable : linearizable;
  const atLeast = rv !== undefined && rv > 0 ? rv : undefined;
  switch (options.sendInitialEvents) {
    case true:
      return { kind: 'initial', mode, atLeast };
    case false:
      return rv === undefined || rv === 0 ? { kind: 'now' } : { kind: 'after', revision: rv };
    case undefined:
      return rv === undefined || rv === 0
        ? { kind: 'initial', mode, atLeast: undefined }
        : { kind: 'after', revision: rv };
  }
}

export type ObjectWatchOptions = WatchOptions & {
  /** When the client gives no timeoutSeconds: the server ends the watch after this long. */
  readonly defaultTimeoutMs: number;
};

type Pending = WatchEvent<KubeObject>;

/**
 * The event one watcher sees for a change of one key: `current` is the new object (absent
 * for a deletion), `prev` the one before (absent for a creation). Whether each passes the
 * watcher's selectors decides the type, as in Kubernetes' cacheWatcher: entering the
 * selection is ADDED, leaving it is DELETED (with the old content at the new revision).
 */
export function watchEventOf(
  passes: (obj: KubeObject) => boolean,
  current: KubeObject | undefined,
  prev: KubeObject | undefined,
  revision: number,
): WatchEvent<KubeObject> | undefined {
  const prevPasses = prev !== undefined && passes(prev);
  if (current !== undefined && passes(current))
    return { type: prevPasses ? 'MODIFIED' : 'ADDED', object: current };
  return prevPasses ? { type: 'DELETED', object: withResourceVersion(prev, revision) } : undefined;
}

/** An open watch: iterate it; `cancel()` ends it and releases the store watch. */
export class ObjectWatch implements AsyncIterableIterator<WatchEvent<KubeObject>> {
  private readonly ctx: RegistryContext;
  private readonly info: ResourceInfo;
  private readonly prefix: string;
  private readonly selection: Selection;
  private readonly bookmarks: boolean;
  private readonly markInitialEnd: boolean;
  private readonly pending: Pending[] = [];
  private readonly timer: NodeJS.Timeout;
  /** Paging state of the initial events; undefined once they are all out. */
  private initial:
    | {
        after: string | undefined;
        mode: ReadMode;
        atLeast: number | undefined;
        pinned: PagedRead | undefined;
      }
    | undefined;
  /** The revision the store watch starts after. */
  private revision: number;
  private storeWatch: StoreWatch | undefined;
  private finished = false;

  private constructor(
    ctx: RegistryContext,
    ref: CollectionRef,
    options: ObjectWatchOptions,
    start: WatchStart,
  ) {
    this.ctx = ctx;
    this.info = ref.info;
    this.prefix = collectionPrefix(ref.info, ref.namespace);
    this.selection = parseSelection(ref.info, options.labelSelector, options.fieldSelector);
    this.bookmarks = options.allowWatchBookmarks === true;
    this.markInitialEnd = options.sendInitialEvents === true && this.bookmarks;
    this.initial =
      start.kind === 'initial'
        ? { after: undefined, mode: start.mode, atLeast: start.atLeast, pinned: undefined }
        : undefined;
    this.revision = start.kind === 'after' ? start.revision : 0;
    const timeoutMs =
      options.timeoutSeconds !== undefined && options.timeoutSeconds > 0
        ? Math.min(options.timeoutSeconds, maxWatchTimeoutSeconds) * 1000
        : options.defaultTimeoutMs;
    this.timer = setTimeout(() => this.cancel(), timeoutMs);
    this.timer.unref();
  }

  /**
   * Opens a watch. Problems with the request (selectors, resourceVersion, a first page
   * that cannot be read) throw here, before anything is streamed, so that the transport
   * can answer them with their status code.
   */
  static async open(
    ctx: RegistryContext,
    ref: CollectionRef,
    options: ObjectWatchOptions,
  ): Promise<ObjectWatch> {
    checkCollectionRef(ref, false);
    if (
      options.timeoutSeconds !== undefined &&
      (!Number.isInteger(options.timeoutSeconds) || options.timeoutSeconds < 0)
    ) {
      throw badRequest(`timeoutSeconds must be a non-negative integer, not ${options.timeoutSeconds}`);
    }
    const start = watchStart(options);
    const watch = new ObjectWatch(ctx, ref, options, start);
    try {
      if (start.kind === 'now') watch.revision = await ctx.store.currentRevision(linearizable);
      else if (start.kind === 'initial') await watch.readInitialPage();
    } catch (err) {
      watch.cancel();
      throw err;
    }
    return watch;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchEvent<KubeObject>> {
    return this;
  }

  async next(): Promise<IteratorResult<WatchEvent<KubeObject>>> {
    for (;;) {
      const event = this.pending.shift();
      if (event !== undefined) return { value: event, done: false };
      if (this.finished) return { value: undefined, done: true };
      try {
        if (this.initial !== undefined) await this.readInitialPage();
        else await this.readStore();
      } catch (err) {
        this.failWith(err);
      }
    }
  }

  return(): Promise<IteratorResult<WatchEvent<KubeObject>>> {
    this.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends the watch: a pending `next()` resolves done once queued events are taken. */
  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.storeWatch?.cancel();
  }

  private failWith(err: unknown): void {
    let status: StatusError;
    if (err instanceof WatchCancelledError) {
      // The store dropped a watcher that fell behind: end, and the client watches again
      // from the last resourceVersion it saw.
      this.cancel();
      return;
    }
    if (err instanceof CompactedError) status = expired(err.data.revision, err.data.compactedRevision);
    else if (err instanceof StatusError) status = err;
    else {
      this.ctx.log.error({ err, resource: this.info.plural }, 'watch failed');
      status = internalError(err instanceof Error ? err.message : String(err));
    }
    this.pending.push({ type: 'ERROR', object: status.status });
    this.cancel();
  }

  private async readInitialPage(): Promise<void> {
    const initial = this.initial;
    if (initial === undefined) return;
    if (initial.pinned === undefined) {
      initial.pinned = await pinRead(this.ctx.store, this.info, initial.mode);
      if (initial.atLeast !== undefined && initial.atLeast > initial.pinned.revision) {
        throw tooLargeResourceVersion(initial.atLeast, initial.pinned.revision);
      }
      this.revision = initial.pinned.revision;
    }
    const { pinned } = initial;
    const keys = keysPerPage(this.ctx.paging, pinned.largestBytes);
    const page = await this.ctx.store.page(this.prefix, initial.after, keys, pinned.mode);
    for (const item of page.items) {
      if (selects(this.info, this.selection, item.object))
        this.pending.push({ type: 'ADDED', object: item.object });
    }
    const last = page.items[page.items.length - 1];
    if (page.more && last !== undefined) {
      initial.after = last.key;
      return;
    }
    this.initial = undefined;
    if (this.markInitialEnd) this.pending.push(this.bookmark(this.revision, true));
  }

  private async readStore(): Promise<void> {
    this.storeWatch ??= this.ctx.store.watch(this.prefix, this.revision + 1, this.bookmarks);
    const r = await this.storeWatch.next();
    if (r.done) {
      this.cancel();
      return;
    }
    const response = r.value;
    if (response.kind === 'progress') {
      if (this.bookmarks) this.pending.push(this.bookmark(response.revision, false));
      return;
    }
    for (const e of response.events) {
      const event = this.convert(e.type, e.kv, e.prevKv, response.revision);
      if (event !== undefined) this.pending.push(event);
    }
  }

  private convert(type: 'put' | 'delete', kv: KeyValue, prevKv: KeyValue | undefined, revision: number) {
    const prev = prevKv === undefined ? undefined : this.ctx.store.decode(prevKv).object;
    const current = type === 'put' ? this.ctx.store.decode(kv).object : undefined;
    return watchEventOf((obj) => selects(this.info, this.selection, obj), current, prev, revision);
  }

  private bookmark(revision: number, initialEnd: boolean): Pending {
    return {
      type: 'BOOKMARK',
      object: {
        apiVersion: apiVersionOf(this.info),
        kind: this.info.kind,
        metadata: {
          resourceVersion: String(revision),
          ...(initialEnd ? { annotations: { [initialEventsEndAnnotation]: 'true' } } : {}),
        },
      },
    };
  }
}
