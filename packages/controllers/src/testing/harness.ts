/**
 * Runs controllers against the in-memory API in one process, for unit tests of their
 * reconcile logic, with a stand-in kubelet that makes pods Running and Ready and
 * finishes graceful deletions, as the fake nodes do against the real API server.
 */
import { createRegistry, type Registry, silentLogger } from '@flotilla/actor';
import { type Pod, timeFromMs, withCondition } from '@flotilla/api';
import type { ControllerContext } from '../context.ts';
import { Controller, type Reconciler } from '../controller.ts';
import { InformerFactory } from '../informer/informer-factory.ts';
import { podsResource } from '../resources.ts';
import { MemoryApi } from './memory-api.ts';

export type HarnessOptions = {
  readonly now?: () => number;
  readonly workers?: number;
};

export class Harness {
  readonly api: MemoryApi;
  readonly informers: InformerFactory;
  readonly ctx: ControllerContext;
  readonly registry: Registry;
  private readonly controllers: Controller[] = [];
  private readonly stops: (() => Promise<void> | void)[] = [];

  constructor(options: HarnessOptions = {}) {
    const now = options.now ?? Date.now;
    this.api = new MemoryApi({ now });
    this.registry = createRegistry();
    const log = silentLogger();
    this.informers = new InformerFactory({
      client: this.api,
      log,
      registry: this.registry,
      informer: { resyncPeriodMs: 0, retryInitialMs: 10 },
    });
    this.ctx = { client: this.api, informers: this.informers, log, registry: this.registry, now };
  }

  /** Starts controllers made from the context, once the informers they use are synced. */
  async run(...make: ((ctx: ControllerContext) => Reconciler)[]): Promise<Controller[]> {
    const started = make.map(
      (m) =>
        new Controller({
          reconciler: m(this.ctx),
          log: this.ctx.log,
          registry: this.registry,
          queue: { baseRetryDelayMs: 5, maxRetryDelayMs: 200 },
        }),
    );
    this.informers.start();
    await this.informers.whenSynced();
    for (const c of started) c.start();
    this.controllers.push(...started);
    return started;
  }

  /**
   * A kubelet stand-in: pods become Running and Ready `readyAfterMs` after they appear
   * (bound or not, unless `boundOnly`), and pods marked for deletion are removed.
   */
  kubelet(options: { readyAfterMs?: number; boundOnly?: boolean; ready?: (pod: Pod) => boolean } = {}): void {
    const pods = this.api.resource<Pod>(podsResource);
    const informer = this.informers.informer<Pod>(podsResource);
    const timers = new Set<NodeJS.Timeout>();
    let stopped = false;
    const handle = (pod: Pod) => {
      if (stopped) return;
      const name = pod.metadata.name ?? '';
      const namespace = pod.metadata.namespace ?? 'default';
      if (pod.metadata.deletionTimestamp !== undefined) {
        void pods.delete(name, { namespace, gracePeriodSeconds: 0 }).catch(() => {});
        return;
      }
      if (options.boundOnly === true && !pod.spec?.nodeName) return;
      if (pod.status?.phase === 'Running') return;
      if (options.ready !== undefined && !options.ready(pod)) return;
      const t = setTimeout(async () => {
        timers.delete(t);
        if (stopped) return;
        const now = timeFromMs(this.ctx.now());
        try {
          const current = await pods.get(name, namespace);
          if (current.status?.phase === 'Running' || current.metadata.uid !== pod.metadata.uid) return;
          await pods.updateStatus({
            ...current,
            status: {
              ...current.status,
              phase: 'Running',
              conditions: withCondition(current.status?.conditions, {
                type: 'Ready',
                status: 'True',
                lastTransitionTime: now,
              }),
            },
          });
        } catch {
          // gone or changed meanwhile: the next event brings it back
        }
      }, options.readyAfterMs ?? 0);
      timers.add(t);
    };
    const off = informer.addHandler({ onAdd: handle, onUpdate: (_, p) => handle(p) });
    this.stops.push(() => {
      stopped = true;
      off();
      for (const t of timers) clearTimeout(t);
    });
  }

  async stop(): Promise<void> {
    for (const s of this.stops.splice(0)) await s();
    await Promise.all(this.controllers.splice(0).map((c) => c.stop()));
    await this.informers.stop();
  }
}
