import type { NatsConnection } from '@nats-io/transport-node';
import { encode } from './codec.ts';
import { StreamError, toWireError } from './errors.ts';
import type { StreamSink } from './protocol.ts';

export interface ServerStreamLimits {
  /** Encoded bytes a stream may hold waiting for credit before it fails the consumer. */
  readonly maxBufferedBytes: number;
}

interface Pending {
  readonly payload: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The producing end of one stream. Sends only what the consumer granted credit for,
 * queues the rest up to a byte bound, heartbeats when idle, and closes itself when the
 * consumer goes silent for three heartbeats.
 */
export class ServerStream<Item> implements StreamSink<Item> {
  private sentSeq = 0;
  private ackedSeq = 0;
  private queued: Pending[] = [];
  private queuedBytes = 0;
  private ending = false;
  private done = false;
  private lastSentAt = performance.now();
  private lastHeardAt = performance.now();
  private readonly timer: NodeJS.Timeout;
  private readonly abort = new AbortController();

  private readonly nc: NatsConnection;
  readonly id: string;
  private readonly inbox: string;
  private readonly windowFrames: number;
  private readonly heartbeatMs: number;
  private readonly limits: ServerStreamLimits;
  private readonly onClose: (stream: ServerStream<Item>) => void;

  constructor(
    nc: NatsConnection,
    id: string,
    inbox: string,
    windowFrames: number,
    heartbeatMs: number,
    limits: ServerStreamLimits,
    onClose: (stream: ServerStream<Item>) => void,
  ) {
    this.nc = nc;
    this.id = id;
    this.inbox = inbox;
    this.windowFrames = windowFrames;
    this.heartbeatMs = heartbeatMs;
    this.limits = limits;
    this.onClose = onClose;
    this.timer = setInterval(() => this.onTimer(), Math.max(10, Math.floor(heartbeatMs / 2)));
    this.timer.unref();
  }

  get bufferedBytes(): number {
    return this.queuedBytes;
  }
  get closed(): boolean {
    return this.done;
  }
  get signal(): AbortSignal {
    return this.abort.signal;
  }
  get inboxSubject(): string {
    return this.inbox;
  }

  send(item: Item): Promise<void> {
    if (this.done || this.ending) return Promise.reject(new StreamError('StreamClosed', 'stream is closed'));
    const payload = encode(item);
    const limit = (this.nc.info?.max_payload ?? Number.POSITIVE_INFINITY) - 1_024;
    if (payload.byteLength > limit) {
      const err = new StreamError(
        'StreamItemTooLarge',
        `item of ${payload.byteLength} bytes exceeds the ${limit}-byte message limit`,
      );
      this.fail(err);
      return Promise.reject(err);
    }
    if (this.queued.length === 0 && this.credit() > 0) {
      this.publishItem(payload);
      return Promise.resolve();
    }
    if (this.queuedBytes + payload.byteLength > this.limits.maxBufferedBytes) {
      const err = new StreamError(
        'StreamSlowConsumer',
        `consumer fell behind: ${this.queuedBytes + payload.byteLength} bytes waiting, bound is ${this.limits.maxBufferedBytes}`,
      );
      this.fail(err);
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ payload, resolve, reject });
      this.queuedBytes += payload.byteLength;
    });
  }

  end(): void {
    if (this.done || this.ending) return;
    this.ending = true;
    this.flush();
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.publish({ v: 1, k: 'fail', s: this.sentSeq, e: toWireError(err) });
    this.close(err);
  }

  /** A control frame from the consumer: new credit (also its heartbeat), or cancel. */
  onCredit(ackedSeq: number): void {
    this.lastHeardAt = performance.now();
    if (ackedSeq > this.ackedSeq) this.ackedSeq = Math.min(ackedSeq, this.sentSeq);
    this.flush();
  }

  onCancel(): void {
    this.close(new StreamError('StreamCancelled', 'consumer cancelled the stream'));
  }

  private credit(): number {
    return this.ackedSeq + this.windowFrames - this.sentSeq;
  }

  private flush(): void {
    while (this.queued.length > 0 && this.credit() > 0 && !this.done) {
      const next = this.queued.shift()!;
      this.queuedBytes -= next.payload.byteLength;
      this.publishItem(next.payload);
      next.resolve();
    }
    if (this.ending && this.queued.length === 0 && !this.done) {
      this.publish({ v: 1, k: 'end', s: this.sentSeq });
      this.close(undefined);
    }
  }

  private publishItem(payload: Uint8Array): void {
    this.sentSeq += 1;
    this.publish({ v: 1, k: 'item', s: this.sentSeq, p: payload });
  }

  private publish(frame: object): void {
    this.lastSentAt = performance.now();
    try {
      this.nc.publish(this.inbox, encode(frame));
    } catch (err) {
      // The connection is closed; nothing more can reach the consumer.
      this.close(err);
    }
  }

  private onTimer(): void {
    const now = performance.now();
    if (now - this.lastHeardAt > 3 * this.heartbeatMs) {
      this.fail(
        new StreamError('StreamPeerSilent', `consumer silent for ${Math.round(now - this.lastHeardAt)} ms`),
      );
      return;
    }
    if (now - this.lastSentAt >= this.heartbeatMs) this.publish({ v: 1, k: 'hb', s: this.sentSeq });
  }

  private close(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.timer);
    const err = reason ?? new StreamError('StreamClosed', 'stream is closed');
    for (const p of this.queued) p.reject(err);
    this.queued = [];
    this.queuedBytes = 0;
    this.abort.abort(err);
    this.onClose(this);
  }
}
