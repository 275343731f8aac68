/**
 * The informers of one process, one per resource (client-go's SharedInformerFactory):
 * every controller and the scheduler that asks for pods gets the same informer, so a
 * process lists and watches each resource once and holds one cache of it.
 */
import type { Logger, Registry } from '@flotilla/actor';
import type { ApiClient, KubeObject, ResourceRef } from '@flotilla/api';
import type { IndexFunc } from './cache.ts';
import { Informer, type InformerOptions } from './informer.ts';

export type InformerFactoryOptions = {
  readonly client: ApiClient;
  readonly log: Logger;
  readonly registry: Registry;
  /** Passed to every informer (resync, page size, watch timeout, retry delays). */
  readonly informer?: Pick<
    InformerOptions<KubeObject>,
    'resyncPeriodMs' | 'listPageSize' | 'watchTimeoutSeconds' | 'retryInitialMs' | 'retryMaxMs'
  >;
};

export class InformerFactory {
  private readonly options: InformerFactoryOptions;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private started = false;

  constructor(options: InformerFactoryOptions) {
    this.options = options;
  }

  /**
   * The informer of `ref` (created on first use), with `indexers` added to its cache.
   * Informers created after `start` start at once.
   */
  informer<T extends KubeObject>(
    ref: ResourceRef,
    indexers: Readonly<Record<string, IndexFunc<T>>> = {},
  ): Informer<T> {
    const key = `${ref.group}/${ref.version}/${ref.resource}`;
    let inf = this.informers.get(key) as Informer<T> | undefined;
    if (inf === undefined) {
      inf = new Informer<T>({
        client: this.options.client.resource<T>(ref),
        log: this.options.log,
        registry: this.options.registry,
        ...this.options.informer,
      });
      this.informers.set(key, inf as unknown as Informer<KubeObject>);
      if (this.started) inf.start();
    }
    for (const [name, fn] of Object.entries(indexers)) inf.cache.addIndex(name, fn);
    return inf;
  }

  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  async whenSynced(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.whenSynced()));
  }

  get hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced);
  }

  /** Lists every resource again (see Informer.relist). */
  async relistAll(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.relist()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
