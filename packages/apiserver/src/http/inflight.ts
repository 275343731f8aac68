/**
 * How many requests one replica works on at once, as kube-apiserver's
 * --max-requests-inflight (400) and --max-mutating-requests-inflight (200): beyond the
 * bound a request is answered 429 with Retry-After at once, and clients (client-go,
 * kubectl) wait and retry. So a store that slows down makes clients back off instead of
 * piling up requests, each holding memory and a store call, until the deadline.
 * Watches and logs run for long and are not counted.
 */

import type { Gauge } from '@flotilla/actor';
import { tooManyRequests } from '@flotilla/api';

export type InflightKind = 'readOnly' | 'mutating';

export type InflightLimits = Readonly<Record<InflightKind, number>>;

export class InflightLimiter {
  private readonly limits: InflightLimits;
  private readonly gauge: Gauge<'kind'>;
  private readonly current: Record<InflightKind, number> = { readOnly: 0, mutating: 0 };

  constructor(limits: InflightLimits, gauge: Gauge<'kind'>) {
    this.limits = limits;
    this.gauge = gauge;
  }

  /** Takes a slot of `kind` or throws 429; the returned function gives it back (once). */
  acquire(kind: InflightKind): () => void {
    if (this.current[kind] >= this.limits[kind]) {
      throw tooManyRequests('Too many requests, please try again later.', 1);
    }
    this.current[kind] += 1;
    this.gauge.set({ kind }, this.current[kind]);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.current[kind] -= 1;
      this.gauge.set({ kind }, this.current[kind]);
    };
  }
}
