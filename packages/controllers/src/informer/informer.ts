/**
 * One informer per resource (client-go's reflector and shared informer in one): list,
 * then watch from the list's resourceVersion into a local cache; handlers hear every
 * add, update and delete. A watch the server ends is resumed from the last revision
 * seen; a 410 (the revision was compacted) makes it list again and tell the handlers
 * what changed meanwhile. Every `resyncPeriodMs` the handlers hear an update for every
 * object, so a key a controller dropped is reconciled again.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes
 */
import { type Logger, metricOnce, type Registry, sleep } from '@flotilla/actor';
import {
  isResourceExpired,
  isStatus,
  type KubeObject,
  type ListOptions,
  type ResourceClient,
  StatusError,
} from '@flotilla/api';
import { Counter, Gauge } from 'prom-client';
import { keyOf } from '../resources.ts';
import { Cache, type IndexFunc } from './cache.ts';

export type EventHandler<T> = {
  readonly onAdd?: (obj: T) => void;
  readonly onUpdate?: (prev: T, next: T) => void;
  readonly onDelete?: (obj: T) => void;
};

export type InformerOptions<T extends KubeObject> = {
  readonly client: ResourceClient<T>;
  readonly log: Logger;
  readonly registry: Registry;
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly indexers?: Readonly<Record<string, IndexFunc<T>>>;
  /** Every handler hears an update for every object this often; 0 turns it off. */
  readonly resyncPeriodMs?: number;
  /** Objects per list page. */
  readonly listPageSize?: number;
  /** The server ends a watch after a random time between this and twice this. */
  readonly watchTimeoutSeconds?: number;
  /** Retry delay after a failed list or watch: doubles from the first to the last. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
};

export const defaultResyncPeriodMs = 10 * 60_000;
export const defaultListPageSize = 500;
/** client-go's reflector asks for 5 to 10 minutes. */
export const defaultWatchTimeoutSeconds = 300;

type InformerMetrics = {
  readonly lists: Counter<'resource'>;
  readonly watches: Counter<'resource' | 'end'>;
  readonly events: Counter<'resource' | 'type'>;
  readonly objects: Gauge<'resource'>;
};

function informerMetrics(registry: Registry): InformerMetrics {
  const registers = [registry];
  return {
    lists: metricOnce(
      registry,
      'flotilla_informer_lists_total',
      () =>
        new Counter({
          name: 'flotilla_informer_lists_total',
          help: 'Full lists an informer made (start, 410, relist on request)',
          labelNames: ['resource'],
          registers,
        }),
    ),
    watches: metricOnce(
      registry,
      'flotilla_informer_watches_total',
      () =>
        new Counter({
          name: 'flotilla_informer_watches_total',
          help: 'Watches an informer opened, by how the previous one ended',
          labelNames: ['resource', 'end'],
          registers,
        }),
    ),
    events: metricOnce(
      registry,
      'flotilla_informer_events_total',
      () =>
        new Counter({
          name: 'flotilla_informer_events_total',
          help: 'Watch events an informer applied to its cache',
          labelNames: ['resource', 'type'],
          registers,
        }),
    ),
    objects: metricOnce(
      registry,
      'flotilla_informer_objects',
      () =>
        new Gauge({
          name: 'flotilla_informer_objects',
          help: 'Objects in an informer cache',
          labelNames: ['resource'],
          registers,
        }),
    ),
  };
}

export class Informer<T extends KubeObject> {
  readonly cache: Cache<T>;
  readonly resource: string;
  private readonly client: ResourceClient<T>;
  private readonly log: Logger;
  private readonly metrics: InformerMetrics;
  private readonly options: InformerOptions<T>;
  private readonly handlers = new Set<EventHandler<T>>();
  private lastRevision = '';
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private revisionWaiters: { revision: number; resolve: () => void }[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private watch: { cancel(): void } | undefined;
  private relistRequested: (() => void)[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.client = options.client;
    const ref = options.client.ref;
    this.resource = ref.group === '' ? ref.resource : `${ref.resource}.${ref.group}`;
    this.log = options.log.child({ informer: this.resource });
    this.metrics = informerMetrics(options.registry);
    this.cache = new Cache(options.indexers);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** The revision of the last list, event or bookmark applied. */
  get revision(): string {
    return this.lastRevision;
  }

  /**
   * Adds a handler. If the cache is already filled, the handler first hears an add for
   * every object in it, as client-go's AddEventHandler does. Returns a remover.
   */
  addHandler(handler: EventHandler<T>): () => void {
    this.handlers.add(handler);
    if (this.synced) for (const obj of this.cache.values()) this.call(handler, 'add', obj);
    return () => this.handlers.delete(handler);
  }

  start(): void {
    if (this.running !== undefined) return;
    this.running = this.run();
    const period = this.options.resyncPeriodMs ?? defaultResyncPeriodMs;
    if (period > 0) {
      this.resyncTimer = setInterval(() => this.resync(), period);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.resyncTimer !== undefined) clearInterval(this.resyncTimer);
    this.abort.abort();
    this.watch?.cancel();
    for (const w of this.syncWaiters.splice(0)) w();
    for (const w of this.revisionWaiters.splice(0)) w.resolve();
    for (const r of this.relistRequested.splice(0)) r();
    await this.running;
  }

  /** Resolves once the first list is in the cache (or the informer stops). */
  whenSynced(): Promise<void> {
    if (this.synced || this.stopping) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Resolves when the cache reflects at least `revision` (an event or bookmark at or after it). */
  whenAtRevision(revision: number): Promise<void> {
    if (Number(this.lastRevision) >= revision || this.stopping) return Promise.resolve();
    return new Promise((resolve) => this.revisionWaiters.push({ revision, resolve }));
  }

  /**
   * Lists again now and resumes the watch from that list; resolves once the cache holds
   * the fresh list. A new leader does this so it acts on what the old one last wrote.
   */
  relist(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.relistRequested.push(resolve));
    this.watch?.cancel();
    return done;
  }

  /** Every handler hears an update (old = new) for every object. */
  resync(): void {
    if (!this.synced) return;
    for (const obj of this.cache.values()) for (const h of this.handlers) this.call(h, 'update', obj, obj);
  }

  private async run(): Promise<void> {
    const initialMs = this.options.retryInitialMs ?? 100;
    const maxMs = this.options.retryMaxMs ?? 5_000;
    let failures = 0;
    let needList = true;
    let end = 'start';
    while (!this.stopping) {
      try {
        if (needList || this.relistRequested.length > 0) {
          const waiting = this.relistRequested.splice(0);
          await this.listAndReplace();
          needList = false;
          for (const r of waiting) r();
        }
        this.metrics.watches.inc({ resource: this.resource, end });
        end = await this.watchOnce();
        failures = 0;
      } catch (err) {
        if (this.stopping) break;
        if (isResourceExpired(err)) {
          // The revision we hold was compacted away: only a fresh list can catch up.
          this.log.info({ revision: this.lastRevision }, 'watch expired (410): listing again');
          needList = true;
          end = 'expired';
          continue;
        }
        const delayMs = Math.min(maxMs, initialMs * 2 ** Math.min(failures, 20));
        failures++;
        end = 'error';
        this.log.warn({ err, delayMs, failures }, needList ? 'list failed' : 'watch failed');
        try {
          await sleep(delayMs, this.abort.signal);
        } catch {
          break;
        }
      }
    }
  }

  private async listAndReplace(): Promise<void> {
    this.metrics.lists.inc({ resource: this.resource });
    const items: T[] = [];
    let revision = '';
    let token: string | undefined;
    const pageSize = this.options.listPageSize ?? defaultListPageSize;
    do {
      const options: ListOptions & { namespace?: string } = {
        limit: pageSize,
        ...(token === undefined ? {} : { continue: token }),
        ...(this.options.labelSelector === undefined ? {} : { labelSelector: this.options.labelSelector }),
        ...(this.options.fieldSelector === undefined ? {} : { fieldSelector: this.options.fieldSelector }),
        ...(this.options.namespace === undefined ? {} : { namespace: this.options.namespace }),
      };
      const page = await this.client.list(options);
      if (this.stopping) return;
      if (token === undefined) revision = page.metadata.resourceVersion ?? '';
      items.push(...page.items);
      token = page.metadata.continue || undefined;
    } while (token !== undefined);
    this.replace(items, revision);
  }

  /** Replaces the cache with a fresh list; handlers hear only what differs. */
  private replace(items: readonly T[], revision: string): void {
    const seen = new Set<string>();
    for (const obj of items) {
      const key = keyOf(obj);
      seen.add(key);
      const prev = this.cache.set(obj);
      if (prev === undefined) this.notify('add', obj);
      else if (prev.metadata.resourceVersion !== obj.metadata.resourceVersion)
        this.notify('update', obj, prev);
    }
    for (const key of this.cache.keys()) {
      if (seen.has(key)) continue;
      const gone = this.cache.delete(key);
      if (gone !== undefined) this.notify('delete', gone);
    }
    this.metrics.objects.set({ resource: this.resource }, this.cache.size);
    this.setRevision(revision);
    if (!this.synced) {
      this.synced = true;
      this.log.debug({ objects: items.length, revision }, 'synced');
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /** One watch from the last revision; returns how it ended. */
  private async watchOnce(): Promise<string> {
    const base = this.options.watchTimeoutSeconds ?? defaultWatchTimeoutSeconds;
    const watch = this.client.watch({
      resourceVersion: this.lastRevision,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.round(base * (1 + Math.random())),
      ...(this.options.labelSelector === undefined ? {} : { labelSelector: this.options.labelSelector }),
      ...(this.options.fieldSelector === undefined ? {} : { fieldSelector: this.options.fieldSelector }),
      ...(this.options.namespace === undefined ? {} : { namespace: this.options.namespace }),
    });
    this.watch = watch;
    // A stop or relist asked for before this watch existed could not cancel it.
    if (this.stopping || this.relistRequested.length > 0) {
      watch.cancel();
      this.watch = undefined;
      return 'relist';
    }
    try {
      for await (const event of watch) {
        if (this.stopping || this.relistRequested.length > 0) return 'relist';
        switch (event.type) {
          case 'ADDED':
          case 'MODIFIED': {
            const prev = this.cache.set(event.object);
            this.notify(prev === undefined ? 'add' : 'update', event.object, prev);
            break;
          }
          case 'DELETED': {
            const prev = this.cache.delete(keyOf(event.object));
            this.notify('delete', prev ?? event.object);
            break;
          }
          case 'BOOKMARK':
            break;
          case 'ERROR':
            throw isStatus(event.object) ? new StatusError(event.object) : new Error('watch error');
        }
        this.metrics.events.inc({ resource: this.resource, type: event.type });
        this.setRevision(event.object.metadata.resourceVersion ?? this.lastRevision);
        if (event.type !== 'BOOKMARK') this.metrics.objects.set({ resource: this.resource }, this.cache.size);
      }
      return this.relistRequested.length > 0 ? 'relist' : 'timeout';
    } finally {
      watch.cancel();
      this.watch = undefined;
    }
  }

  private setRevision(revision: string): void {
    this.lastRevision = revision;
    if (this.revisionWaiters.length === 0) return;
    const n = Number(revision);
    this.revisionWaiters = this.revisionWaiters.filter((w) => {
      if (n < w.revision) return true;
      w.resolve();
      return false;
    });
  }

  private notify(kind: 'add' | 'update' | 'delete', obj: T, prev?: T): void {
    for (const h of this.handlers) this.call(h, kind, obj, prev);
  }

  private call(h: EventHandler<T>, kind: 'add' | 'update' | 'delete', obj: T, prev?: T): void {
    try {
      if (kind === 'add') h.onAdd?.(obj);
      else if (kind === 'update') h.onUpdate?.(prev ?? obj, obj);
      else h.onDelete?.(obj);
    } catch (err) {
      this.log.error({ err, key: keyOf(obj), kind }, 'event handler failed');
    }
  }
}
