import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decode, encode } from './codec.ts';
import { fromWireError, StreamError } from './errors.ts';
import { parseFrame } from './frames.ts';

export interface StreamOptions {
  /** Items the producer may send ahead of what this consumer has read. */
  readonly windowFrames?: number;
  /** Idle heartbeat period for both sides; a side silent for 3 periods is gone. */
  readonly heartbeatMs?: number;
  /** Deadline for the producer to accept the stream (retried like an ask). */
  readonly openTimeoutMs?: number;
}

export const defaultStreamOptions = { windowFrames: 64, heartbeatMs: 5_000, openTimeoutMs: 5_000 } as const;

type Waiter<Item> = { resolve: (r: IteratorResult<Item>) => void; reject: (e: unknown) => void };

/**
 * The consuming end of a stream: an async iterator that holds at most `windowFrames`
 * items, grants credit as the application reads, and fails loudly (a `StreamError`) on a
 * lost frame or a silent producer, so the caller can resume rather than miss data.
 */
export class ClientStream<Item> implements AsyncIterableIterator<Item> {
  private buffer: Item[] = [];
  private waiter: Waiter<Item> | undefined;
  private receivedSeq = 0;
  private consumedSeq = 0;
  private creditedSeq = 0;
  private ctl: string | undefined;
  /** open → (ended | failed | cancelled); `failed` turns `done` once its error was thrown. */
  private state: 'open' | 'ended' | 'failed' | 'cancelled' | 'done' = 'open';
  private error: unknown;
  private lastHeardAt = performance.now();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  readonly windowFrames: number;
  readonly heartbeatMs: number;

  private readonly nc: NatsConnection;
  readonly id: string;
  readonly inbox: string;

  constructor(nc: NatsConnection, id: string, inbox: string, options: StreamOptions) {
    this.nc = nc;
    this.id = id;
    this.inbox = inbox;
    this.windowFrames = options.windowFrames ?? defaultStreamOptions.windowFrames;
    this.heartbeatMs = options.heartbeatMs ?? defaultStreamOptions.heartbeatMs;
    this.sub = nc.subscribe(inbox, {
      callback: (err, msg) => (err ? this.fail(err) : this.onFrame(msg.data)),
    });
    this.timer = setInterval(() => this.onTimer(), Math.max(10, Math.floor(this.heartbeatMs / 2)));
    this.timer.unref();
  }

  /** Items received and not yet read (never more than `windowFrames`). */
  get bufferedItems(): number {
    return this.buffer.length;
  }

  /** Called once the producer accepted the stream and named its control subject. */
  accepted(ctl: string): void {
    this.ctl = ctl;
    this.lastHeardAt = performance.now();
    this.sendCredit();
  }

  /** The open request failed: the stream never started. */
  rejected(err: unknown): void {
    this.fail(err);
  }

  next(): Promise<IteratorResult<Item>> {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift()!;
      this.consumedSeq += 1;
      if (this.consumedSeq - this.creditedSeq >= Math.max(1, this.windowFrames >> 1)) this.sendCredit();
      return Promise.resolve({ value, done: false });
    }
    switch (this.state) {
      case 'open':
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      case 'failed':
        this.state = 'done';
        return Promise.reject(this.error);
      default:
        return Promise.resolve({ value: undefined, done: true });
    }
  }

  return(): Promise<IteratorResult<Item>> {
    this.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Item> {
    return this;
  }

  /** Stop the stream; the producer is told and releases what it holds. */
  cancel(): void {
    if (this.state !== 'open') return;
    this.tellProducer({ v: 1, k: 'cancel', id: this.id });
    this.buffer = [];
    this.close('cancelled');
  }

  private onFrame(data: Uint8Array): void {
    if (this.state !== 'open') return;
    const parsed = parseFrame(data);
    if (!parsed.ok) return; // Not ours to judge; the sequence check catches real loss.
    const f = parsed.frame;
    this.lastHeardAt = performance.now();
    switch (f.k) {
      case 'item':
        if (f.s !== this.receivedSeq + 1) return this.gap(f.s);
        this.receivedSeq = f.s;
        this.buffer.push(decode(f.p) as Item);
        this.wake();
        return;
      case 'hb':
        if (f.s !== this.receivedSeq) this.gap(f.s);
        return;
      case 'end':
        if (f.s !== this.receivedSeq) return this.gap(f.s);
        return this.close('ended');
      case 'fail':
        // Items received before the failure are still delivered, then the error.
        return this.fail(fromWireError(f.e));
      default:
        return;
    }
  }

  private gap(seq: number): void {
    // Tell the producer to stop; the consumer resumes with a new stream.
    this.tellProducer({ v: 1, k: 'cancel', id: this.id });
    this.fail(
      new StreamError(
        'StreamGap',
        `stream ${this.id} lost frames: expected ${this.receivedSeq + 1}, got ${seq}`,
        {
          expected: this.receivedSeq + 1,
          got: seq,
        },
      ),
    );
  }

  private fail(err: unknown): void {
    if (this.state !== 'open') return;
    this.error = err;
    this.close('failed');
  }

  private close(state: 'ended' | 'failed' | 'cancelled'): void {
    this.state = state;
    clearInterval(this.timer);
    this.sub.unsubscribe();
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    this.next().then(w.resolve, w.reject);
  }

  private sendCredit(): void {
    this.creditedSeq = this.consumedSeq;
    this.tellProducer({ v: 1, k: 'credit', id: this.id, a: this.consumedSeq });
  }

  private tellProducer(frame: object): void {
    if (!this.ctl || this.nc.isClosed()) return;
    try {
      this.nc.publish(this.ctl, encode(frame));
    } catch {
      // Closed meanwhile: the producer notices the silence.
    }
  }

  private onTimer(): void {
    const silentMs = performance.now() - this.lastHeardAt;
    if (silentMs > 3 * this.heartbeatMs) {
      this.fail(new StreamError('StreamPeerSilent', `producer silent for ${Math.round(silentMs)} ms`));
      return;
    }
    // Credit doubles as our heartbeat; resending it also repairs a lost credit frame.
    this.sendCredit();
  }
}
