/**
 * Per-key exponential back-off with kubelet's semantics (client-go flowcontrol.Backoff
 * as kubelet uses it for CrashLoopBackOff and ImagePullBackOff): the first failure is
 * retried at once; each later one waits twice as long as the one before, up to the
 * maximum; a key whose last failure came more than `resetAfterMs` after the previous
 * back-off began starts over. https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts
 */
export type RestartBackoffPolicy = {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Kubelet: twice the maximum, so 10 minutes of clean running resets the back-off. */
  readonly resetAfterMs: number;
};

export const defaultRestartBackoff: RestartBackoffPolicy = {
  initialMs: 10_000,
  maxMs: 300_000,
  resetAfterMs: 600_000,
};

type Entry = { backoffMs: number; lastUpdateMs: number };

export class RestartBackoff {
  private readonly policy: RestartBackoffPolicy;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();

  constructor(policy: RestartBackoffPolicy, now: () => number = Date.now) {
    this.policy = policy;
    this.now = now;
  }

  /** Whether a retry of `key` after a failure at `eventMs` must still wait. */
  isInBackOffSince(key: string, eventMs: number): boolean {
    const e = this.entries.get(key);
    if (e === undefined || this.expired(e, eventMs)) return false;
    return this.now() - eventMs < e.backoffMs;
  }

  /** When the back-off of a failure at `eventMs` ends (for a wake-up timer). */
  retryAtMs(key: string, eventMs: number): number {
    const e = this.entries.get(key);
    return e === undefined ? eventMs : eventMs + e.backoffMs;
  }

  /** The current delay of `key`, for messages ("back-off 20s restarting ..."). */
  delayMs(key: string): number {
    return this.entries.get(key)?.backoffMs ?? 0;
  }

  /** Records a retry of a failure at `eventMs`: the next failure waits longer. */
  next(key: string, eventMs: number): void {
    const e = this.entries.get(key);
    if (e === undefined || this.expired(e, eventMs)) {
      this.entries.set(key, { backoffMs: this.policy.initialMs, lastUpdateMs: this.now() });
    } else {
      e.backoffMs = Math.min(e.backoffMs * 2, this.policy.maxMs);
      e.lastUpdateMs = this.now();
    }
  }

  /** Forgets every key starting with `prefix` (a pod's keys when it goes away). */
  forget(prefix: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  /** Drops entries no retry can use any more; bounds the map by the live keys. */
  gc(): void {
    const now = this.now();
    for (const [key, e] of this.entries)
      if (now - e.lastUpdateMs > this.policy.resetAfterMs) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private expired(e: Entry, eventMs: number): boolean {
    return eventMs - e.lastUpdateMs > this.policy.resetAfterMs;
  }
}
