/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does
 * it: candidates poll the Lease; the holder renews it every retry period; a candidate
 * takes it over only after it has seen the same record, unchanged, for the lease's
 * duration on its own clock; the holder stops all work when it has not renewed for the
 * renew deadline, which is shorter than the lease. Timing uses each process's monotonic
 * clock only, never timestamps written by another machine.
 * https://kubernetes.io/docs/concepts/architecture/leases/#leader-election
 *
 * Why the holder stops before anyone else can start (see the README for the long form):
 * a renewal attempt that starts at time s and succeeds lets the holder work until
 * s + renewDeadline. That write is committed after s, so every other candidate sees it
 * after s and may take over no earlier than s + leaseDuration. With
 * renewDeadline < leaseDuration the holder's work ends first; the gap is the margin for
 * writes already in flight and for clock-rate differences.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { type Logger, metricOnce, type Registry } from '@flotilla/actor';
import {
  type ApiClient,
  isAlreadyExists,
  isConflict,
  isNotFound,
  type Lease,
  type LeaseSpec,
  microTimeFromMs,
  type ResourceClient,
} from '@flotilla/api';
import { Gauge } from 'prom-client';
import { ConfigError } from '../errors.ts';
import { leasesResource } from '../resources.ts';

/**
 * Defaults chosen for the takeover targets: after a SIGKILL a standby takes over within
 * leaseDuration + 2 × retryPeriod = 4 s; after a graceful release within one retry
 * period (0.5 s). Kubernetes' own defaults (15 s / 10 s / 2 s) are slower by design.
 */
export const defaultLeaseDurationMs = 3_000;
export const defaultRenewDeadlineMs = 2_000;
export const defaultRetryPeriodMs = 500;
/** Candidates wait up to this fraction longer than the retry period, so they do not poll in step. */
const candidateJitter = 0.2;

export type LeaderTerm = {
  /** Aborted when this term ends (lost or released). */
  readonly signal: AbortSignal;
  /** The store revision of the write that acquired the lease. */
  readonly revision: number;
  /** True while this term lasts: the lease is held, renewed in time, and not ending. */
  readonly isCurrent: () => boolean;
  /** The lease was last held by this same process (a term lost and regained, nobody between). */
  readonly continuesOwnTerm: boolean;
};

export type LeaderCallbacks = {
  /** Start working; stop when `term.signal` aborts. */
  readonly onStartedLeading: (term: LeaderTerm) => void;
  /** Stop all work; resolves when nothing more will be written. */
  readonly onStoppedLeading: () => Promise<void>;
  /** The holder changed (to '' when the lease was released). */
  readonly onNewLeader?: (identity: string) => void;
};

export type LeaderElectorOptions = {
  readonly client: ApiClient;
  readonly log: Logger;
  readonly registry: Registry;
  readonly namespace: string;
  readonly name: string;
  /** Unique per process; defaults to `<hostname>_<random>` as kube-controller-manager does. */
  readonly identity?: string;
  /** A whole number of seconds: the Lease stores it as leaseDurationSeconds. */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** A monotonic clock in milliseconds. */
  readonly now?: () => number;
  /** The wall clock, only for the acquire and renew times written into the Lease. */
  readonly wallClock?: () => number;
};

export function defaultIdentity(): string {
  return `${hostname()}_${randomBytes(6).toString('hex')}`;
}

export class LeaderElector {
  readonly identity: string;
  readonly lockName: string;
  private readonly leases: ResourceClient<Lease>;
  private readonly log: Logger;
  private readonly options: LeaderElectorOptions;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly wallClock: () => number;
  private readonly isLeaderGauge: Gauge<'lease'>;
  private callbacks: LeaderCallbacks | undefined;

  private observed: Lease | undefined;
  private observedAtMs = 0;
  private leading = false;
  private leaderUntilMs = 0;
  private term: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private ending: Promise<void> | undefined;
  /** The holder the lease had just before this process last wrote it as holder. */
  private previousHolder = '';
  private wake: (() => void) | undefined;
  private leaseWatch: { cancel(): void } | undefined;
  private watching: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private lastLeader = '';

  constructor(options: LeaderElectorOptions) {
    this.options = options;
    this.identity = options.identity ?? defaultIdentity();
    this.lockName = `${options.namespace}/${options.name}`;
    this.leases = options.client.resource<Lease>(leasesResource);
    this.log = options.log.child({ lease: this.lockName, identity: this.identity });
    this.leaseDurationMs = options.leaseDurationMs ?? defaultLeaseDurationMs;
    this.renewDeadlineMs = options.renewDeadlineMs ?? defaultRenewDeadlineMs;
    this.retryPeriodMs = options.retryPeriodMs ?? defaultRetryPeriodMs;
    this.now = options.now ?? (() => performance.now());
    this.wallClock = options.wallClock ?? Date.now;
    if (this.leaseDurationMs < 1000 || this.leaseDurationMs % 1000 !== 0) {
      throw new ConfigError(`leaseDurationMs must be a whole number of seconds, not ${this.leaseDurationMs}`);
    }
    if (this.renewDeadlineMs >= this.leaseDurationMs) {
      throw new ConfigError(
        `renewDeadlineMs (${this.renewDeadlineMs}) must be shorter than leaseDurationMs (${this.leaseDurationMs}): ` +
          'a holder that cannot renew must stop before anyone else may take over',
      );
    }
    if (this.retryPeriodMs * (1 + candidateJitter) >= this.renewDeadlineMs) {
      throw new ConfigError(
        `retryPeriodMs (${this.retryPeriodMs}) must leave room for retries within renewDeadlineMs (${this.renewDeadlineMs})`,
      );
    }
    this.isLeaderGauge = metricOnce(
      options.registry,
      'flotilla_leader_election_is_leader',
      () =>
        new Gauge({
          name: 'flotilla_leader_election_is_leader',
          help: '1 while this process holds the lease and may work',
          labelNames: ['lease'],
          registers: [options.registry],
        }),
    );
    this.isLeaderGauge.set({ lease: this.lockName }, 0);
  }

  /**
   * True while this process holds the lease and its renew deadline has not passed. Read
   * from the clock on every call, so a late timer never extends the term.
   */
  get isLeader(): boolean {
    return this.leading && this.ending === undefined && this.now() < this.leaderUntilMs;
  }

  /** The holder last observed ('' for none). */
  get leader(): string {
    return this.lastLeader;
  }

  start(callbacks: LeaderCallbacks): void {
    if (this.loop !== undefined) return;
    this.callbacks = callbacks;
    this.loop = this.campaign();
    this.watching = this.watchLease();
  }

  /**
   * Stops campaigning. A leader first stops its work (onStoppedLeading), then releases
   * the lease so that a standby takes over at its next poll instead of waiting it out.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake?.();
    this.leaseWatch?.cancel();
    await this.loop;
    await this.watching;
    const wasLeading = this.leading;
    await this.endTerm('stopping');
    if (wasLeading) await this.release();
  }

  private async campaign(): Promise<void> {
    while (!this.stopped) {
      const attemptStartMs = this.now();
      const held = await this.tryAcquireOrRenew();
      if (this.stopped) break;
      const tookMs = this.now() - attemptStartMs;
      if (this.leading && tookMs > this.retryPeriodMs) {
        this.log.info({ tookMs: Math.round(tookMs), renewed: held !== undefined }, 'slow lease renewal');
      }
      if (held !== undefined) {
        this.leaderUntilMs = attemptStartMs + this.renewDeadlineMs;
        if (!this.leading && this.now() < this.leaderUntilMs) this.beginTerm(held);
        this.armDeadline();
      } else if (this.leading && this.now() >= this.leaderUntilMs) {
        await this.endTerm('renew deadline passed');
      }
      await this.pause(this.nextAttemptInMs(tookMs));
    }
  }

  /**
   * The holder renews every retry period. A candidate polls every retry period (jittered,
   * so candidates do not poll in step), but no later than the moment the observed lease
   * expires: a dead holder is replaced one round trip after its lease runs out.
   */
  private nextAttemptInMs(tookMs: number): number {
    // The holder renews every retry period counted from the start of the last attempt, so
    // slow answers do not stretch the time between renewals.
    if (this.leading) return Math.max(0, this.retryPeriodMs - tookMs);
    const jittered = this.retryPeriodMs * (1 + candidateJitter * Math.random());
    const lease = this.observed;
    const holder = lease?.spec?.holderIdentity ?? '';
    if (lease === undefined || holder === '') return jittered;
    const expiresInMs = this.observedAtMs + this.durationOf(lease) - this.now();
    return Math.max(0, Math.min(jittered, expiresInMs + 1));
  }

  /** Sleeps `ms`, or until woken (the lease watch saw a release) or stopped. */
  private async pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, ms);
      if (this.stopped) resolve();
    });
    clearTimeout(timer);
    this.wake = undefined;
  }

  /**
   * Watches the lease while the elector runs: a candidate sees a release (or any
   * renewal) when it happens instead of at its next poll, so a graceful handover takes
   * one round trip. Polling still decides; a failing watch only costs that speed.
   */
  private async watchLease(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const watch = this.leases.watch({
        namespace: this.options.namespace,
        fieldSelector: `metadata.name=${this.options.name}`,
      });
      this.leaseWatch = watch;
      try {
        for await (const e of watch) {
          if (this.stopped) break;
          failures = 0;
          if (e.type !== 'ADDED' && e.type !== 'MODIFIED') continue;
          // A renewal's answer can overtake the watch event of the one before it.
          const seen = Number(this.observed?.metadata.resourceVersion ?? '0');
          if (Number(e.object.metadata.resourceVersion ?? '0') <= seen) continue;
          this.observe(e.object as Lease);
          if (!this.leading && (e.object.spec?.holderIdentity ?? '') === '') this.wake?.();
        }
      } catch (err) {
        if (this.stopped) break;
        failures++;
        this.log.debug({ err, failures }, 'lease watch failed');
      } finally {
        watch.cancel();
      }
      if (!this.stopped)
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** Math.min(failures, 6))));
    }
  }

  /**
   * One attempt: the lease as written by us when we hold it, else undefined. An attempt
   * that takes longer than the renew deadline is abandoned (it could not keep the term
   * anyway); if it lands later, the next attempt finds the lease ours and renews it.
   */
  private async tryAcquireOrRenew(): Promise<Lease | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.renewDeadlineMs);
    });
    try {
      return await Promise.race([this.attempt(), abandoned]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async attempt(): Promise<Lease | undefined> {
    try {
      // The holder renews straight from its last copy; a conflict means someone else wrote.
      if (this.leading && this.observed !== undefined) {
        try {
          return this.observe(await this.leases.update(this.renewed(this.observed)));
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
      }
      let current: Lease;
      try {
        current = this.observe(await this.leases.get(this.options.name, this.options.namespace));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        try {
          const created = this.observe(await this.leases.create(this.fresh()));
          this.previousHolder = '';
          return created;
        } catch (createErr) {
          if (isAlreadyExists(createErr)) return undefined;
          throw createErr;
        }
      }
      const holder = current.spec?.holderIdentity ?? '';
      if (holder !== '' && holder !== this.identity && !this.expired(current)) return undefined;
      const written = this.observe(await this.leases.update(this.renewed(current)));
      this.previousHolder = holder;
      return written;
    } catch (err) {
      if (!isConflict(err)) this.log.warn({ err }, 'lease request failed');
      return undefined;
    }
  }

  /** Records a lease as seen now; the expiry clock restarts only when the record changes. */
  private observe(lease: Lease): Lease {
    if (this.observed?.metadata.resourceVersion !== lease.metadata.resourceVersion) {
      this.observedAtMs = this.now();
    }
    this.observed = lease;
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== this.lastLeader) {
      this.lastLeader = holder;
      this.log.info({ holder }, 'lease holder changed');
      this.callbacks?.onNewLeader?.(holder);
    }
    return lease;
  }

  private durationOf(lease: Lease): number {
    return (lease.spec?.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
  }

  private expired(lease: Lease): boolean {
    return this.observedAtMs + this.durationOf(lease) <= this.now();
  }

  private fresh(): Lease {
    const now = microTimeFromMs(this.wallClock());
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.options.name, namespace: this.options.namespace },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseDurationMs / 1000,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
  }

  private renewed(current: Lease): Lease {
    const now = microTimeFromMs(this.wallClock());
    const spec = current.spec ?? {};
    const ours = spec.holderIdentity === this.identity;
    const next: LeaseSpec = {
      ...spec,
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationMs / 1000,
      renewTime: now,
      acquireTime: ours && spec.acquireTime !== undefined ? spec.acquireTime : now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
    };
    return { ...current, spec: next };
  }

  private beginTerm(lease: Lease): void {
    this.leading = true;
    const term = new AbortController();
    this.term = term;
    this.isLeaderGauge.set({ lease: this.lockName }, 1);
    const revision = Number(lease.metadata.resourceVersion ?? '0');
    this.log.info({ revision }, 'became leader');
    this.callbacks?.onStartedLeading({
      signal: term.signal,
      revision,
      // Nobody else held the lease since this process did: nothing was written behind its back.
      continuesOwnTerm: this.previousHolder === this.identity,
      isCurrent: () => this.term === term && !term.signal.aborted && this.isLeader,
    });
  }

  /** Ends the term at most once at a time: work stops before anything else happens. */
  private endTerm(reason: string): Promise<void> {
    if (!this.leading) return this.ending ?? Promise.resolve();
    if (this.ending !== undefined) return this.ending;
    this.ending = (async () => {
      if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
      this.isLeaderGauge.set({ lease: this.lockName }, 0);
      this.log.warn({ reason }, 'stopped leading');
      this.term?.abort();
      try {
        await this.callbacks?.onStoppedLeading();
      } finally {
        this.leading = false;
        this.ending = undefined;
      }
    })();
    return this.ending;
  }

  private armDeadline(): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    const inMs = Math.max(0, this.leaderUntilMs - this.now());
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.leading && this.now() >= this.leaderUntilMs) void this.endTerm('renew deadline passed');
      else if (this.leading) this.armDeadline();
    }, inMs);
    this.deadlineTimer.unref();
  }

  /** Gives the lease up: empty holder, one-second duration, so a standby takes it at once. */
  private async release(): Promise<void> {
    const current = this.observed;
    if (current === undefined || current.spec?.holderIdentity !== this.identity) return;
    const now = microTimeFromMs(this.wallClock());
    try {
      await this.leases.update({
        ...current,
        spec: {
          ...current.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
        },
      });
      this.log.info('released lease');
    } catch (err) {
      this.log.warn({ err }, 'could not release lease; a standby takes over when it expires');
    }
  }
}
