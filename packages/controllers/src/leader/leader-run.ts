/**
 * What the controller manager and the scheduler share: informers started at once (a
 * standby keeps warm caches), a Lease election, and per term a fresh set of workers
 * built on a client that refuses writes once the term is over. On taking over, every
 * informer lists again before work starts, so the new leader acts on everything the old
 * one wrote (its last writes may still be on their way through the watch).
 */
import type { Logger, Registry } from '@flotilla/actor';
import type { ApiClient } from '@flotilla/api';
import type { ControllerContext } from '../context.ts';
import type { InformerFactory } from '../informer/informer-factory.ts';
import { leaderGuardedClient } from './guarded-client.ts';
import { LeaderElector, type LeaderElectorOptions, type LeaderTerm } from './leader-elector.ts';

export type LeaderElectionSettings = Pick<
  LeaderElectorOptions,
  'identity' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'
>;

/** Work started for one term; `stop` resolves when it will write nothing more. */
export type TermWork = { readonly stop: () => Promise<void> };

export type LeaderRunOptions = {
  readonly client: ApiClient;
  readonly log: Logger;
  readonly registry: Registry;
  readonly informers: InformerFactory;
  readonly lease: { readonly namespace: string; readonly name: string };
  readonly election?: LeaderElectionSettings;
  readonly now: () => number;
  /** Starts the work of a term on a context whose client is guarded by the term. */
  readonly startWork: (ctx: ControllerContext, term: LeaderTerm) => TermWork;
  /** Longest wait for a term's work to stop before the lease is given up anyway (writes are refused regardless). */
  readonly maxStopWaitMs?: number;
};

export class LeaderRun {
  readonly elector: LeaderElector;
  private readonly options: LeaderRunOptions;
  private readonly log: Logger;
  private current: Promise<TermWork | undefined> | undefined;
  private termsStarted = 0;
  private leadingWaiters: (() => void)[] = [];

  constructor(options: LeaderRunOptions) {
    this.options = options;
    this.log = options.log;
    this.elector = new LeaderElector({
      client: options.client,
      log: options.log,
      registry: options.registry,
      namespace: options.lease.namespace,
      name: options.lease.name,
      ...options.election,
    });
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  /** Terms this process has led (started work for). */
  get terms(): number {
    return this.termsStarted;
  }

  /** Resolves once work has started in a term. */
  whenWorking(): Promise<void> {
    if (this.current !== undefined && this.elector.isLeader) return this.current.then(() => undefined);
    return new Promise((resolve) => this.leadingWaiters.push(resolve));
  }

  start(): void {
    this.options.informers.start();
    this.elector.start({
      onStartedLeading: (term) => {
        this.current = this.begin(term);
      },
      onStoppedLeading: () => this.end(),
    });
  }

  async stop(): Promise<void> {
    await this.elector.stop();
    await this.options.informers.stop();
  }

  private async begin(term: LeaderTerm): Promise<TermWork | undefined> {
    const startedAt = performance.now();
    await this.options.informers.whenSynced();
    // Another leader may have written things the watch has not brought yet; a fresh list
    // has them. Regaining a term nobody else held in between needs no catching up.
    if (!term.continuesOwnTerm) await this.options.informers.relistAll();
    if (term.signal.aborted) return undefined;
    const ctx: ControllerContext = {
      client: leaderGuardedClient(this.options.client, term, this.elector.lockName),
      informers: this.options.informers,
      log: this.log,
      registry: this.options.registry,
      now: this.options.now,
    };
    const work = this.options.startWork(ctx, term);
    this.termsStarted++;
    this.log.info(
      { catchUpMs: Math.round(performance.now() - startedAt), revision: term.revision },
      'working',
    );
    for (const w of this.leadingWaiters.splice(0)) w();
    return work;
  }

  private async end(): Promise<void> {
    const work = await this.current;
    this.current = undefined;
    if (work === undefined) return;
    const maxWaitMs = this.options.maxStopWaitMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), maxWaitMs);
    });
    const outcome = await Promise.race([work.stop().then(() => 'stopped' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') this.log.warn({ maxWaitMs }, 'work still finishing after the term ended');
  }
}
