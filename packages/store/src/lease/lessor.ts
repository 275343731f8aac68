import { assert, assertNever, type Logger, silentLogger } from '@flotilla/actor';
import { LeaseNotFoundError, LessorNotPrimaryError } from '../mvcc/errors.ts';
import { storeLimits } from '../mvcc/limits.ts';
import type { Command, CommitNotice, LeaseCheckpoint, LeaseRecord } from '../mvcc/types.ts';
import { DeadlineHeap } from './deadline-heap.ts';

/** What the lessor needs from the store (the StateMachine provides it). */
export interface LeaseSource {
  leases(): LeaseRecord[];
  onCommit(listener: (notice: CommitNotice) => void): () => void;
}

export type LessorOptions = {
  /** Milliseconds on a monotonic clock (`performance.now` in production, a fake in tests). */
  readonly clock: () => number;
  /** Grants below this are raised to it (etcd's minimum lease TTL). */
  readonly minTtlSeconds?: number;
  /** How often a long lease's remaining TTL is checkpointed through the log (etcd: 5 min). */
  readonly checkpointIntervalMs?: number;
  /** An expiry proposed but not applied after this long is proposed again (etcd: 3 s). */
  readonly expiryRetryMs?: number;
  /** Lease ids in one round's expire command. */
  readonly maxExpiriesPerRound?: number;
  /** Checkpoints in one round's checkpoint command (etcd: 1,000). */
  readonly maxCheckpointsPerRound?: number;
  readonly log?: Logger;
};

export const defaultLessorOptions = {
  minTtlSeconds: 1,
  checkpointIntervalMs: 5 * 60 * 1000,
  expiryRetryMs: 3000,
  maxExpiriesPerRound: 1000,
  maxCheckpointsPerRound: 1000,
} as const;

type Tracked = {
  readonly id: number;
  readonly ttlMs: number;
  deadlineMs: number;
  /** When the expiry heap looks at this lease next: its deadline, or a retry of its expiry. */
  wakeMs: number;
  /** Remaining TTL the log holds (0: none, the full TTL applies after a failover). */
  persistedRemainingSeconds: number;
  nextCheckpointMs: number | undefined;
};

/**
 * The leader's lease clock. Deadlines live only here, in memory, on the leader; every
 * decision that changes state (expire these leases, record this remaining TTL) goes
 * through the log as a command, so all members apply the same thing. A new leader starts
 * each lease from its checkpointed remaining TTL (or its full TTL), plus `extendMs`, so a
 * failover neither keeps a lease alive forever nor expires every lease at once.
 */
export class Lessor {
  private readonly source: LeaseSource;
  private readonly clock: () => number;
  private readonly minTtlSeconds: number;
  private readonly checkpointIntervalMs: number;
  private readonly expiryRetryMs: number;
  private readonly maxExpiriesPerRound: number;
  private readonly maxCheckpointsPerRound: number;
  private readonly log: Logger;
  private readonly unsubscribe: () => void;
  private readonly tracked = new Map<number, Tracked>();
  private readonly expiries = new DeadlineHeap();
  private readonly checkpoints = new DeadlineHeap();
  /** Leases renewed since their last checkpoint: their stored remaining TTL must be cleared. */
  private readonly resets = new Set<number>();
  private isPrimary = false;

  constructor(source: LeaseSource, options: LessorOptions) {
    this.source = source;
    this.clock = options.clock;
    this.minTtlSeconds = options.minTtlSeconds ?? defaultLessorOptions.minTtlSeconds;
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? defaultLessorOptions.checkpointIntervalMs;
    this.expiryRetryMs = options.expiryRetryMs ?? defaultLessorOptions.expiryRetryMs;
    this.maxExpiriesPerRound = options.maxExpiriesPerRound ?? defaultLessorOptions.maxExpiriesPerRound;
    this.maxCheckpointsPerRound =
      options.maxCheckpointsPerRound ?? defaultLessorOptions.maxCheckpointsPerRound;
    assert(
      this.maxExpiriesPerRound >= 1 && this.maxExpiriesPerRound <= storeLimits.maxLeasesPerCommand,
      'expiries per round fit one command',
    );
    assert(
      this.maxCheckpointsPerRound >= 1 && this.maxCheckpointsPerRound <= storeLimits.maxLeasesPerCommand,
      'checkpoints per round fit one command',
    );
    this.log = (options.log ?? silentLogger()).child({ component: 'store-lessor' });
    this.unsubscribe = source.onCommit((notice) => this.observe(notice));
  }

  get primary(): boolean {
    return this.isPrimary;
  }

  /** The TTL to grant for a request: at least the minimum, at most etcd's maximum. */
  grantTtlSeconds(requested: number): number {
    return Math.min(Math.max(Math.ceil(requested), this.minTtlSeconds), storeLimits.maxLeaseTtlSeconds);
  }

  /** This member became leader: start every lease's clock. */
  promote(extendMs = 0): void {
    const now = this.clock();
    this.isPrimary = true;
    this.clearClocks();
    for (const lease of this.source.leases()) {
      const remaining = lease.remainingTtlSeconds > 0 ? lease.remainingTtlSeconds : lease.ttlSeconds;
      this.track(lease, now + remaining * 1000 + extendMs, now);
    }
    this.log.info({ leases: this.tracked.size, extendMs }, 'lessor promoted');
  }

  /** This member is no longer leader: forget the clocks (the next leader has its own). */
  demote(): void {
    if (!this.isPrimary) return;
    this.isPrimary = false;
    this.clearClocks();
    this.log.info('lessor demoted');
  }

  close(): void {
    this.demote();
    this.unsubscribe();
  }

  private clearClocks(): void {
    this.tracked.clear();
    this.expiries.clear();
    this.checkpoints.clear();
    this.resets.clear();
  }

  private track(lease: LeaseRecord, deadlineMs: number, now: number): void {
    const ttlMs = lease.ttlSeconds * 1000;
    // A lease shorter than the interval expires before its checkpoint would matter.
    const nextCheckpointMs = ttlMs > this.checkpointIntervalMs ? now + this.checkpointIntervalMs : undefined;
    const t: Tracked = {
      id: lease.id,
      ttlMs,
      deadlineMs,
      wakeMs: deadlineMs,
      persistedRemainingSeconds: lease.remainingTtlSeconds,
      nextCheckpointMs,
    };
    this.tracked.set(lease.id, t);
    this.expiries.push(deadlineMs, lease.id);
    if (nextCheckpointMs !== undefined) this.checkpoints.push(nextCheckpointMs, lease.id);
  }

  private primaryLease(id: number): Tracked {
    if (!this.isPrimary) throw new LessorNotPrimaryError();
    const t = this.tracked.get(id);
    // An expired lease is as good as revoked: its revocation is on its way through the log.
    if (t === undefined || t.deadlineMs <= this.clock()) throw LeaseNotFoundError.of(id);
    return t;
  }

  /** Keep-alive: the lease lives another full TTL from now. Returns that TTL. */
  renew(id: number): { readonly ttlSeconds: number } {
    const t = this.primaryLease(id);
    const now = this.clock();
    t.deadlineMs = now + t.ttlMs;
    t.wakeMs = t.deadlineMs;
    this.expiries.push(t.wakeMs, id);
    if (t.persistedRemainingSeconds > 0) this.resets.add(id);
    this.compactHeaps();
    return { ttlSeconds: t.ttlMs / 1000 };
  }

  /** Granted TTL and whole seconds left (rounded up) of a live lease. */
  timeToLive(id: number): {
    readonly id: number;
    readonly grantedTtlSeconds: number;
    readonly remainingSeconds: number;
  } {
    const t = this.primaryLease(id);
    const left = Math.ceil((t.deadlineMs - this.clock()) / 1000);
    return { id, grantedTtlSeconds: t.ttlMs / 1000, remainingSeconds: Math.max(left, 0) };
  }

  /**
   * The commands to propose now: an expire command for leases past their deadline, and a
   * checkpoint command (cleared remaining TTLs of renewed leases first, then periodic
   * ones). Each is bounded per round; the rest come in later rounds. The server calls this
   * periodically while leader (e.g. every 500 ms) and proposes what it returns.
   */
  due(): Command[] {
    if (!this.isPrimary) return [];
    const now = this.clock();
    const out: Command[] = [];
    const expired: number[] = [];
    while (expired.length < this.maxExpiriesPerRound) {
      const top = this.expiries.peek();
      if (top === undefined || top.at > now) break;
      this.expiries.pop();
      const t = this.tracked.get(top.id);
      if (t === undefined || t.wakeMs !== top.at) continue; // superseded by a renewal or retry
      expired.push(t.id);
      // If the expiry is lost (leader change, dropped proposal) it is proposed again later.
      t.wakeMs = now + this.expiryRetryMs;
      this.expiries.push(t.wakeMs, t.id);
    }
    if (expired.length > 0) out.push({ kind: 'leaseExpire', ids: expired });

    const checkpoints: LeaseCheckpoint[] = [];
    for (const id of this.resets) {
      if (checkpoints.length >= this.maxCheckpointsPerRound) break;
      this.resets.delete(id);
      if (this.tracked.has(id)) checkpoints.push({ id, remainingTtlSeconds: 0 });
    }
    while (checkpoints.length < this.maxCheckpointsPerRound) {
      const top = this.checkpoints.peek();
      if (top === undefined || top.at > now) break;
      this.checkpoints.pop();
      const t = this.tracked.get(top.id);
      if (t === undefined || t.nextCheckpointMs !== top.at) continue;
      t.nextCheckpointMs = now + this.checkpointIntervalMs;
      this.checkpoints.push(t.nextCheckpointMs, t.id);
      const remainingSeconds = Math.ceil((t.deadlineMs - now) / 1000);
      if (remainingSeconds > 0) checkpoints.push({ id: t.id, remainingTtlSeconds: remainingSeconds });
    }
    if (checkpoints.length > 0) out.push({ kind: 'leaseCheckpoint', checkpoints });
    return out;
  }

  /** When `due()` may next have something to propose (clock ms), if anything is tracked. */
  nextDueMs(): number | undefined {
    if (!this.isPrimary) return undefined;
    if (this.resets.size > 0) return this.clock();
    const e = this.expiries.peek()?.at;
    const c = this.checkpoints.peek()?.at;
    if (e === undefined) return c;
    return c === undefined ? e : Math.min(e, c);
  }

  private observe(notice: CommitNotice): void {
    if (!this.isPrimary) return;
    switch (notice.kind) {
      case 'closed':
        this.demote();
        return;
      case 'applied': {
        const now = this.clock();
        for (const change of notice.leaseChanges) {
          switch (change.kind) {
            case 'granted':
              this.track(
                { id: change.id, ttlSeconds: change.ttlSeconds, remainingTtlSeconds: 0 },
                now + change.ttlSeconds * 1000,
                now,
              );
              break;
            case 'revoked':
              this.tracked.delete(change.id);
              this.resets.delete(change.id);
              break;
            case 'checkpointed': {
              const t = this.tracked.get(change.id);
              if (t !== undefined) t.persistedRemainingSeconds = change.remainingTtlSeconds;
              break;
            }
            default:
              assertNever(change, 'lease change');
          }
        }
        return;
      }
      case 'restored': {
        // The lease set was replaced wholesale: keep the clocks of leases that survive.
        const known = new Map([...this.tracked].map(([id, t]) => [id, t.deadlineMs]));
        const now = this.clock();
        this.clearClocks();
        for (const lease of this.source.leases()) {
          const remaining = lease.remainingTtlSeconds > 0 ? lease.remainingTtlSeconds : lease.ttlSeconds;
          this.track(lease, known.get(lease.id) ?? now + remaining * 1000, now);
        }
        return;
      }
      default:
        assertNever(notice, 'commit notice');
    }
  }

  // Renewals leave superseded entries behind in the heap; rebuild it when they dominate.
  private compactHeaps(): void {
    if (this.expiries.size <= 4 * this.tracked.size + 1024) return;
    this.expiries.clear();
    for (const t of this.tracked.values()) this.expiries.push(t.wakeMs, t.id);
  }
}
