/**
 * Events expire: each is written with a store lease, so the store deletes it once its TTL
 * has passed (kube-apiserver's `--event-ttl`, one hour by default). One lease is shared by
 * the events written during a reuse window and granted for the TTL plus that window, so
 * every event lives at least the TTL and the store does not hold a lease per event
 * (kube-apiserver's lease manager does the same).
 */
import type { StoreClient } from '@flotilla/store';

export type EventLeaseOptions = {
  readonly ttlSeconds: number;
  /** How long one lease is handed to new events before another is granted. */
  readonly reuseSeconds: number;
};

export class EventLeases {
  private readonly client: StoreClient;
  private readonly options: EventLeaseOptions;
  private current: { readonly id: number; readonly grantedAtMs: number } | undefined;
  private granting: Promise<number> | undefined;

  constructor(client: StoreClient, options: EventLeaseOptions) {
    this.client = client;
    this.options = options;
  }

  /** The lease id to attach to an event written now. */
  async lease(nowMs: number): Promise<number> {
    const c = this.current;
    if (c !== undefined && nowMs - c.grantedAtMs < this.options.reuseSeconds * 1000) return c.id;
    this.granting ??= this.grant(nowMs).finally(() => {
      this.granting = undefined;
    });
    return this.granting;
  }

  private async grant(nowMs: number): Promise<number> {
    const { id } = await this.client.leaseGrant(this.options.ttlSeconds + this.options.reuseSeconds);
    this.current = { id, grantedAtMs: nowMs };
    return id;
  }
}
