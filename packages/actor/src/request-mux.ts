import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';

export type MuxOutcome =
  | { readonly kind: 'reply'; readonly data: Uint8Array }
  | { readonly kind: 'no-responders' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'closed' };

interface Pending {
  readonly resolve: (outcome: MuxOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Request/reply over one wildcard inbox subscription, like the client's own mux, but
 * resolving to an outcome instead of throwing: the client library builds an Error (with
 * a stack) on every request, even successful ones, which cost more CPU than the rest of
 * the actor layer together (bench:actor). Outcomes also make retry decisions plain data.
 */
export class RequestMux {
  private readonly nc: NatsConnection;
  private readonly inboxPrefix: string;
  private readonly pending = new Map<string, Pending>();
  private sub: Subscription | undefined;
  private seq = 0;

  constructor(nc: NatsConnection, inboxPrefix: string) {
    this.nc = nc;
    this.inboxPrefix = inboxPrefix;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  request(subject: string, payload: Uint8Array, timeoutMs: number): Promise<MuxOutcome> {
    if (this.nc.isClosed()) return Promise.resolve({ kind: 'closed' });
    this.sub ??= this.nc.subscribe(`${this.inboxPrefix}.*`, { callback: (_err, msg) => this.onReply(msg) });
    this.seq += 1;
    const token = this.seq.toString(36);
    return new Promise<MuxOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.pending.set(token, { resolve, timer });
      try {
        this.nc.publish(subject, payload, { reply: `${this.inboxPrefix}.${token}` });
      } catch {
        clearTimeout(timer);
        this.pending.delete(token);
        resolve({ kind: 'closed' });
      }
    });
  }

  /** Settle everything still waiting as closed (the connection is going away). */
  close(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve({ kind: 'closed' });
    }
    this.pending.clear();
  }

  private onReply(msg: Msg): void {
    const token = msg.subject.slice(this.inboxPrefix.length + 1);
    const p = this.pending.get(token);
    if (!p) return; // a reply after its timeout
    this.pending.delete(token);
    clearTimeout(p.timer);
    // The server answers a request nobody subscribes to with an empty 503 status message.
    if (msg.data.length === 0 && msg.headers?.code === 503) p.resolve({ kind: 'no-responders' });
    else p.resolve({ kind: 'reply', data: msg.data });
  }
}
