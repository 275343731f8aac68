import { performance } from 'node:perf_hooks';
import { type BackoffPolicy, backoffDelayMs, type Logger } from '@flotilla/actor';
import { removeIgnoringMissing } from '../net/command.ts';
import { addBridge, deleteLink, linkExists } from '../net/links.ts';
import { canonicalCIDR, guardRouteMetric, installRoute, type Route, removeRoute } from '../net/routes.ts';
import {
  ServiceCatalog,
  type ServiceCatalogEvent,
  type ServiceCatalogSource,
} from '../net/service-catalog.ts';
import { missingJumps, readInstalled, removeAllChains, removeJumps, restoreChains } from './iptables.ts';
import { type ChainRef, type InstalledChains, planRestore } from './restore-plan.ts';
import { jumpRules, type ProxyRules, proxyRules, proxyServicePorts, ruleCount } from './rules.ts';

export type ServiceProxyOptions = {
  readonly nodeName: string;
  /** The namespace whose iptables and routes this proxy keeps; the caller's when absent. */
  readonly netns?: string | undefined;
  /**
   * The cluster's service range. It is routed into a port-less bridge (a sink): a local
   * connection to a cluster IP then finds a route (a blackhole would fail it before
   * the nat OUTPUT chain could DNAT it), and a packet no rule DNATs goes nowhere.
   */
  readonly serviceCIDR: string;
  readonly logger: Logger;
  /** Changes arriving within this long of the last sync wait and go in the next one. */
  readonly minSyncIntervalMs?: number;
  /** Every so often a sync rewrites every chain, repairing whatever changed them behind our back. */
  readonly fullSyncIntervalMs?: number;
  /** Upper bound of the delay before retrying a failed sync. */
  readonly maxSyncRetryDelayMs?: number;
};

export const defaultMinSyncIntervalMs = 100;
export const defaultFullSyncIntervalMs = 300_000;
export const defaultMaxSyncRetryDelayMs = 5_000;

function chainsOf(rules: ProxyRules): InstalledChains {
  return { nat: new Set(rules.nat.keys()), filter: new Set(rules.filter.keys()) };
}

const syncRetryBackoff: BackoffPolicy = {
  initialMs: 100,
  maxMs: defaultMaxSyncRetryDelayMs,
  multiplier: 2,
  jitter: 0.2,
};

/** The interface the service range is routed into. */
export const serviceSinkInterface = 'flosvcsink';

export type ProxySyncResult = {
  /** Every chain was written (first sync, after a failure, or the periodic full sync). */
  readonly full: boolean;
  readonly written: readonly ChainRef[];
  readonly deleted: readonly ChainRef[];
  readonly servicePorts: number;
  readonly rules: number;
  /** Time from reading the catalog to iptables-restore's exit. */
  readonly durationMs: number;
};

/**
 * The kube-proxy role for one node: Services and their ready endpoints become iptables
 * rules (nf_tables backend) in chains of ours, kept in sync as events arrive. Each sync
 * computes the whole desired rule set, compares it chain by chain with what the last
 * sync wrote, and hands only the changed chains to `iptables-restore --noflush`.
 *
 * `stop` leaves the rules in place (traffic keeps flowing while an agent restarts, as
 * with kube-proxy); `destroy` removes them.
 */
export class ServiceProxy {
  readonly catalog = new ServiceCatalog();
  private readonly options: ServiceProxyOptions;
  private readonly log: Logger;
  private readonly sinkRoute: Route;
  private readonly minSyncIntervalMs: number;
  private readonly fullSyncIntervalMs: number;
  private readonly maxSyncRetryDelayMs: number;
  /** What the last successful sync wrote; undefined when the kernel's state is not known. */
  private applied: ProxyRules | undefined;
  private lastFullSyncAt = 0;
  private lastSyncStartAt = 0;
  private dirty = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Wakes an idle proxy for its periodic full sync. */
  private resyncTimer: NodeJS.Timeout | undefined;
  private running: Promise<ProxySyncResult> | undefined;
  private stopped = false;
  private lastResult: ProxySyncResult | undefined;

  private constructor(options: ServiceProxyOptions) {
    this.options = options;
    this.log = options.logger.child({ component: 'service-proxy', node: options.nodeName });
    this.sinkRoute = {
      kind: 'device',
      dst: canonicalCIDR(options.serviceCIDR),
      dev: serviceSinkInterface,
      metric: guardRouteMetric,
    };
    this.minSyncIntervalMs = options.minSyncIntervalMs ?? defaultMinSyncIntervalMs;
    this.fullSyncIntervalMs = options.fullSyncIntervalMs ?? defaultFullSyncIntervalMs;
    this.maxSyncRetryDelayMs = options.maxSyncRetryDelayMs ?? defaultMaxSyncRetryDelayMs;
  }

  /**
   * Prepares the node: the service sink and its route. Rules are written by the first
   * sync, which waits for the catalog's `synced` event (or an explicit `flush`), so a
   * restarted proxy never replaces working rules with those of a half-listed catalog.
   */
  static async start(options: ServiceProxyOptions): Promise<ServiceProxy> {
    const proxy = new ServiceProxy(options);
    const sink = { netns: options.netns, name: serviceSinkInterface };
    if (!(await linkExists(sink))) await addBridge(sink);
    await installRoute(options.netns, proxy.sinkRoute);
    proxy.log.info({ serviceCIDR: proxy.sinkRoute.dst }, 'service proxy started');
    return proxy;
  }

  /** Feeds one watch event; a sync follows (coalesced with others within minSyncIntervalMs). */
  handle(event: ServiceCatalogEvent): void {
    const changed = this.catalog.apply(event);
    if (changed.length > 0 || event.kind === 'synced') {
      this.dirty = true;
      this.schedule();
    }
  }

  /** Consumes a source until it ends or the proxy stops. */
  async run(source: ServiceCatalogSource): Promise<void> {
    for await (const event of source) {
      if (this.stopped) return;
      this.handle(event);
    }
  }

  /**
   * Syncs now with what the catalog holds, whether or not it has synced, and resolves
   * once the kernel has it (or rejects with the sync's error).
   */
  async flush(): Promise<ProxySyncResult> {
    if (this.running !== undefined) await this.running.catch(() => {});
    if (!this.dirty && this.lastResult !== undefined && this.applied !== undefined) return this.lastResult;
    return this.syncOnce();
  }

  /** The result of the last successful sync. */
  get lastSync(): ProxySyncResult | undefined {
    return this.lastResult;
  }

  /** Stops syncing; the rules stay. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.resyncTimer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** Stops and removes every rule, chain, jump and route of ours. */
  async destroy(): Promise<void> {
    await this.stop();
    await removeJumps(this.options.netns, jumpRules);
    await removeAllChains(this.options.netns);
    await removeIgnoringMissing(removeRoute(this.options.netns, this.sinkRoute));
    await removeIgnoringMissing(deleteLink({ netns: this.options.netns, name: serviceSinkInterface }));
    this.applied = undefined;
    this.log.info('service proxy removed its rules');
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined || !this.catalog.synced) return;
    const retry =
      this.failures > 0
        ? backoffDelayMs(this.failures - 1, { ...syncRetryBackoff, maxMs: this.maxSyncRetryDelayMs })
        : 0;
    const wait = Math.max(retry, this.lastSyncStartAt + this.minSyncIntervalMs - performance.now(), 0);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A flush may have done the work already.
      if (!this.dirty) return;
      if (this.running !== undefined) {
        // The sync in progress reschedules when it ends.
        return;
      }
      this.syncOnce().catch(() => {});
    }, wait);
  }

  private syncOnce(): Promise<ProxySyncResult> {
    const run = (async () => {
      if (this.running !== undefined) await this.running.catch(() => {});
      return this.sync();
    })();
    this.running = run;
    run
      .catch(() => {})
      .finally(() => {
        if (this.running === run) this.running = undefined;
        if (this.dirty) this.schedule();
      });
    return run;
  }

  private async sync(): Promise<ProxySyncResult> {
    const started = performance.now();
    this.lastSyncStartAt = started;
    this.dirty = false;
    const full = this.applied === undefined || started - this.lastFullSyncAt >= this.fullSyncIntervalMs;
    const netns = this.options.netns;
    try {
      const ports = proxyServicePorts(this.catalog.views());
      const desired = proxyRules(ports);
      // Reading the kernel's chains (iptables-save) costs ~1 s at 10k rules, more than the
      // sync itself: a partial sync trusts what the last one wrote; full syncs look.
      const applied = full ? undefined : this.applied;
      const state = applied === undefined ? await readInstalled(netns) : undefined;
      const plan = planRestore(
        desired,
        applied,
        state?.chains ?? chainsOf(applied!),
        state === undefined ? [] : missingJumps(state, jumpRules),
      );
      await restoreChains(netns, plan.script);
      this.applied = desired;
      if (full) {
        this.lastFullSyncAt = started;
        clearTimeout(this.resyncTimer);
        this.resyncTimer = setTimeout(() => {
          this.dirty = true;
          this.schedule();
        }, this.fullSyncIntervalMs);
        this.resyncTimer.unref();
      }
      this.failures = 0;
      const result: ProxySyncResult = {
        full,
        written: plan.written,
        deleted: plan.deleted,
        servicePorts: ports.length,
        rules: ruleCount(desired),
        durationMs: performance.now() - started,
      };
      this.lastResult = result;
      if (plan.written.length + plan.deleted.length > 0) {
        this.log.debug(
          { full, written: plan.written.length, deleted: plan.deleted.length, durationMs: result.durationMs },
          'proxy rules synced',
        );
      }
      return result;
    } catch (err) {
      // The kernel may hold part of what we meant: the next sync writes everything.
      this.applied = undefined;
      this.dirty = true;
      this.failures += 1;
      this.log.warn({ err, failures: this.failures }, 'proxy sync failed; retrying');
      throw err;
    }
  }
}
