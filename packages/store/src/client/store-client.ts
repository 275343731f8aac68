import {
  type ActorRef,
  type ActorSystem,
  backoffDelayMs,
  ConnectionClosedError,
  DeadlineExceededError,
  type Logger,
  NoRespondersError,
  RemoteError,
  ShuttingDownError,
  StreamError,
  sleep,
} from '@flotilla/actor';
import {
  type ConfChange,
  type ConfState,
  type NodeId,
  NotLeaderError,
  ProposalDroppedError,
  ProposalTimeoutError,
  RaftStoppedError,
} from '@flotilla/raft';
import { CompactedError, LeaseNotFoundError, WatchCancelledError } from '../mvcc/errors.ts';
import { prefixEnd } from '../mvcc/keys.ts';
import type {
  Bytes,
  Command,
  CommandResult,
  DeleteRangeRequest,
  HashResult,
  KeyValue,
  LeaseRecord,
  PutRequest,
  RangeRequest,
  RangeResult,
  TxnRequest,
} from '../mvcc/types.ts';
import type { LeaseTimeToLive, MemberStatus, ResponseHeader, StoreProtocol } from '../server/protocol.ts';
import { storeActorName } from '../server/protocol.ts';
import type { WatchRequest, WatchResponse } from '../watch/types.ts';

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** A key or value given as text (UTF-8) or bytes. */
export type KeyLike = string | Bytes;
export const toBytes = (k: KeyLike): Bytes => (typeof k === 'string' ? utf8.encode(k) : k);
export const bytesToString = (b: Bytes): string => utf8d.decode(b);

export interface StoreClientOptions {
  readonly system: ActorSystem;
  readonly clusterId: string;
  readonly log?: Logger;
  /** Total time a call may take across retries and members. */
  readonly timeoutMs?: number;
  /** Time one attempt waits. */
  readonly attemptTimeoutMs?: number;
}

type Put = { readonly revision: number; readonly prevKv?: KeyValue };
type Deleted = {
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs?: readonly KeyValue[];
};
type TxnResult = Extract<CommandResult, { kind: 'txn' }>;

/** Errors worth another attempt (on another member, or after an election). */
function retryable(err: unknown): boolean {
  return (
    err instanceof NotLeaderError ||
    err instanceof NoRespondersError ||
    err instanceof DeadlineExceededError ||
    err instanceof ProposalDroppedError ||
    err instanceof ProposalTimeoutError ||
    err instanceof RaftStoppedError ||
    err instanceof ShuttingDownError ||
    (err instanceof RemoteError && (err.code === 'StoreUnavailable' || err.code === 'Overloaded'))
  );
}

/**
 * The store's TypeScript client: etcd's KV, watch and lease API over NATS, retried across
 * members until a deadline. Writes carry a request id that stays the same across retries,
 * and the state machine applies a request id at most once, so a retried write never
 * applies twice. Writes and linearizable reads go straight to the member that last said it
 * leads; anything else goes to whichever member the queue group picks.
 */
export class StoreClient {
  private readonly system: ActorSystem;
  private readonly clusterId: string;
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly any: ActorRef<StoreProtocol>;
  private leader: NodeId | null = null;
  private seq = 0;
  private readonly clientId = Math.floor(Math.random() * 2 ** 48).toString(36);

  constructor(options: StoreClientOptions) {
    this.system = options.system;
    this.clusterId = options.clusterId;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 3_000;
    this.any = this.system.ref<StoreProtocol>(storeActorName(this.clusterId));
  }

  /** The member the client believes leads (learned from response headers). */
  get leaderHint(): NodeId | null {
    return this.leader;
  }

  private member(id: NodeId): ActorRef<StoreProtocol> {
    return this.system.ref<StoreProtocol>(storeActorName(this.clusterId, id));
  }

  private noteHeader(h: ResponseHeader): void {
    if (h.leader) this.leader = h.leader;
  }

  /**
   * Run `attempt` against the leader (when `toLeader`) or any member, retrying retryable
   * failures with back-off until the client's deadline.
   */
  private async call<T>(
    toLeader: boolean,
    attempt: (ref: ActorRef<StoreProtocol>, timeoutMs: number) => Promise<T>,
  ): Promise<T> {
    const deadline = performance.now() + this.timeoutMs;
    let lastErr: unknown;
    for (let n = 0; ; n++) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const ref = toLeader && this.leader ? this.member(this.leader) : this.any;
      try {
        return await attempt(ref, Math.max(1, Math.min(this.attemptTimeoutMs, left)));
      } catch (err) {
        if (err instanceof ConnectionClosedError || !retryable(err)) throw err;
        lastErr = err;
        if (err instanceof NotLeaderError) this.leader = err.leaderHint;
        else if (ref !== this.any) this.leader = null; // that member did not answer: ask anyone
        const pause = backoffDelayMs(n, { initialMs: 20, maxMs: 500, multiplier: 2, jitter: 0.5 });
        if (pause >= deadline - performance.now()) break;
        await sleep(pause);
      }
    }
    throw lastErr ?? new DeadlineExceededError(storeActorName(this.clusterId), 'call', this.timeoutMs, 0);
  }

  private nextRequestId(): string {
    this.seq += 1;
    return `${this.clientId}.${this.seq.toString(36)}`;
  }

  private async write(command: Command): Promise<CommandResult> {
    const withId = { ...command, requestId: command.requestId ?? this.nextRequestId() } as Command;
    return this.call(true, async (ref, timeoutMs) => {
      const r = await ref.ask('write', { command: withId }, { timeoutMs, retry: false });
      this.noteHeader(r.header);
      return r.result;
    });
  }

  // ---- KV ----------------------------------------------------------------------------------

  async range(request: RangeRequest, options: { serializable?: boolean } = {}): Promise<RangeResult> {
    const serializable = options.serializable ?? false;
    return this.call(!serializable, async (ref, timeoutMs) => {
      const r = await ref.ask('range', { request, serializable }, { timeoutMs, retry: false });
      this.noteHeader(r.header);
      return r.result;
    });
  }

  async get(
    key: KeyLike,
    options: { revision?: number; serializable?: boolean } = {},
  ): Promise<KeyValue | undefined> {
    const r = await this.range({ key: toBytes(key), revision: options.revision }, options);
    return r.kvs[0];
  }

  /** Every key starting with `prefix`. */
  async getPrefix(
    prefix: KeyLike,
    options: Omit<RangeRequest, 'key' | 'rangeEnd'> & { serializable?: boolean } = {},
  ): Promise<RangeResult> {
    const key = toBytes(prefix);
    return this.range({ ...options, key, rangeEnd: prefixEnd(key) }, options);
  }

  async put(key: KeyLike, value: KeyLike, options: Omit<PutRequest, 'key' | 'value'> = {}): Promise<Put> {
    const r = await this.write({ kind: 'put', key: toBytes(key), value: toBytes(value), ...options });
    if (r.kind !== 'put') throw new RemoteError('BadResult', `put answered ${r.kind}`);
    return r;
  }

  async delete(key: KeyLike, options: Omit<DeleteRangeRequest, 'key'> = {}): Promise<Deleted> {
    const r = await this.write({ kind: 'deleteRange', key: toBytes(key), ...options });
    if (r.kind !== 'deleteRange') throw new RemoteError('BadResult', `delete answered ${r.kind}`);
    return r;
  }

  /** If every compare holds, run `success`, else `failure`: one revision, atomically. */
  async txn(request: TxnRequest): Promise<TxnResult> {
    const r = await this.write({ kind: 'txn', ...request });
    if (r.kind !== 'txn') throw new RemoteError('BadResult', `txn answered ${r.kind}`);
    return r;
  }

  async compact(revision: number): Promise<void> {
    await this.write({ kind: 'compact', revision });
  }

  // ---- watch -------------------------------------------------------------------------------

  /**
   * Watch a key, prefix or range. The watch survives member failures: it reopens on another
   * member from the revision after the last one it delivered, so the caller sees every
   * revision once, in order. It fails (throws from the iterator) only when that revision
   * was compacted meanwhile (`CompactedError`) or it is cancelled.
   */
  watch(request: WatchRequest): StoreWatch {
    return new StoreWatch(this.any, request);
  }

  /** Watch every key under `prefix`. */
  watchPrefix(prefix: KeyLike, options: Omit<WatchRequest, 'key' | 'rangeEnd'> = {}): StoreWatch {
    const key = toBytes(prefix);
    return this.watch({ ...options, key, rangeEnd: prefixEnd(key) });
  }

  // ---- leases ------------------------------------------------------------------------------

  async leaseGrant(ttlSeconds: number, id?: number): Promise<{ id: number; ttlSeconds: number }> {
    const requestId = this.nextRequestId();
    return this.call(true, async (ref, timeoutMs) => {
      const r = await ref.ask('leaseGrant', { ttlSeconds, id, requestId }, { timeoutMs, retry: false });
      this.noteHeader(r.header);
      return { id: r.id, ttlSeconds: r.ttlSeconds };
    });
  }

  async leaseRevoke(id: number): Promise<void> {
    await this.write({ kind: 'leaseRevoke', id });
  }

  /** Renew once; answers the TTL the lease now has. */
  async leaseKeepAliveOnce(id: number): Promise<number> {
    return this.call(true, async (ref, timeoutMs) => {
      const r = await ref.ask('leaseKeepAlive', { id }, { timeoutMs, retry: false });
      this.noteHeader(r.header);
      return r.ttlSeconds;
    });
  }

  /** Renew every `ttl/3` until `stop()` or until the lease is gone (`lost` resolves then). */
  keepAlive(id: number, ttlSeconds: number): KeepAlive {
    return new KeepAlive(this, id, ttlSeconds);
  }

  async leaseTimeToLive(id: number, keys = false): Promise<LeaseTimeToLive> {
    return this.call(true, async (ref, timeoutMs) => {
      const r = await ref.ask('leaseTimeToLive', { id, keys }, { timeoutMs, retry: false });
      this.noteHeader(r.header);
      return r;
    });
  }

  async leases(): Promise<readonly LeaseRecord[]> {
    return this.call(
      false,
      async (ref, timeoutMs) => (await ref.ask('leases', null, { timeoutMs, retry: false })).leases,
    );
  }

  // ---- cluster and maintenance -------------------------------------------------------------

  async status(member?: NodeId): Promise<MemberStatus> {
    const ref = member ? this.member(member) : this.any;
    const st = await ref.ask('status', null, { timeoutMs: this.attemptTimeoutMs });
    this.noteHeader(st.header);
    return st;
  }

  async hash(member: NodeId, revision = 0): Promise<HashResult> {
    return this.member(member).ask('hash', { revision }, { timeoutMs: this.timeoutMs });
  }

  async members(): Promise<ConfState> {
    return this.call(
      false,
      async (ref, timeoutMs) => (await ref.ask('members', null, { timeoutMs, retry: false })).conf,
    );
  }

  async changeMembership(change: ConfChange): Promise<ConfState> {
    return this.call(true, async (ref, timeoutMs) => {
      const r = await ref.ask(
        'changeMembership',
        { change, timeoutMs: Math.max(timeoutMs, 10_000) },
        { timeoutMs: Math.max(timeoutMs, 10_500), retry: false },
      );
      this.noteHeader(r.header);
      return r.conf;
    });
  }

  async transferLeadership(to?: NodeId): Promise<NodeId> {
    return this.call(true, async (ref, timeoutMs) => {
      const r = await ref.ask('transferLeadership', { to }, { timeoutMs, retry: false });
      this.leader = r.leader;
      return r.leader;
    });
  }

  /** Stream a consistent copy of the backend from `member` (or any) into `write`. */
  async snapshot(
    write: (chunk: Uint8Array) => Promise<void>,
    member?: NodeId,
  ): Promise<{ appliedIndex: number; totalBytes: number }> {
    const ref = member ? this.member(member) : this.any;
    let info = { appliedIndex: 0, totalBytes: 0 };
    for await (const part of ref.stream('snapshot', null, { openTimeoutMs: this.timeoutMs })) {
      await write(part.chunk);
      info = { appliedIndex: part.appliedIndex, totalBytes: part.totalBytes };
    }
    return info;
  }
}

/**
 * A watch that resumes. It keeps the last revision it delivered and, when its stream breaks
 * (member died, frames lost, member shutting down), opens a new one from the next revision
 * after a back-off.
 */
export class StoreWatch implements AsyncIterableIterator<WatchResponse> {
  private readonly ref: ActorRef<StoreProtocol>;
  private readonly request: WatchRequest;
  private current: (AsyncIterableIterator<WatchResponse> & { cancel(): void }) | undefined;
  /** Highest revision delivered (events) or confirmed (progress). */
  private delivered: number;
  private cancelled = false;
  private failures = 0;
  /** Stream restarts so far (for tests and metrics). */
  resumes = 0;

  constructor(ref: ActorRef<StoreProtocol>, request: WatchRequest) {
    this.ref = ref;
    this.request = request;
    this.delivered = (request.startRevision ?? 0) > 0 ? request.startRevision! - 1 : 0;
  }

  get lastRevision(): number {
    return this.delivered;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<WatchResponse> {
    return this;
  }

  async next(): Promise<IteratorResult<WatchResponse>> {
    const maxConsecutiveFailures = 50;
    while (!this.cancelled) {
      if (!this.current) {
        // From now on (0) only before the first response; afterwards from the next revision.
        const startRevision = this.delivered > 0 ? this.delivered + 1 : this.request.startRevision;
        this.current = this.ref.stream(
          'watch',
          { ...this.request, startRevision },
          { heartbeatMs: 2_000, windowFrames: 64 },
        );
      }
      try {
        const r = await this.current.next();
        if (r.done) {
          // The member ended the watch (shutting down): resume elsewhere.
          this.current = undefined;
          continue;
        }
        this.failures = 0;
        // Skip anything a resumed stream repeats (never happens with a correct start, but cheap).
        if (r.value.kind === 'events' && r.value.revision <= this.delivered) continue;
        // A stream resumed on a member that has not yet applied what an earlier one delivered
        // reports progress at its own, older revision: revisions a watch reports never go back.
        if (r.value.kind === 'progress' && r.value.revision < this.delivered) continue;
        this.delivered = Math.max(this.delivered, r.value.revision);
        return r;
      } catch (err) {
        this.current = undefined;
        if (this.cancelled) break;
        if (err instanceof CompactedError || err instanceof WatchCancelledError) throw err;
        if (!(err instanceof StreamError || retryable(err) || err instanceof RemoteError)) throw err;
        this.failures += 1;
        if (this.failures > maxConsecutiveFailures) throw err;
        this.resumes += 1;
        await sleep(
          backoffDelayMs(this.failures - 1, { initialMs: 50, maxMs: 1_000, multiplier: 2, jitter: 0.3 }),
        );
      }
    }
    return { value: undefined, done: true };
  }

  return(): Promise<IteratorResult<WatchResponse>> {
    this.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  cancel(): void {
    this.cancelled = true;
    this.current?.cancel();
    this.current = undefined;
  }
}

/** Renews a lease every third of its TTL until stopped or lost. */
export class KeepAlive {
  /** Resolves when the lease is gone (expired or revoked) or renewal failed for a whole TTL. */
  readonly lost: Promise<void>;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private markLost!: () => void;

  constructor(client: StoreClient, id: number, ttlSeconds: number) {
    this.lost = new Promise((resolve) => {
      this.markLost = resolve;
    });
    const periodMs = Math.max(100, (ttlSeconds * 1000) / 3);
    let lastOk = performance.now();
    const tick = async () => {
      if (this.stopped) return;
      try {
        const ttl = await client.leaseKeepAliveOnce(id);
        lastOk = performance.now();
        if (ttl <= 0) return this.lose();
      } catch (err) {
        if (err instanceof LeaseNotFoundError) return this.lose();
        if (performance.now() - lastOk > ttlSeconds * 1000) return this.lose();
      }
      if (!this.stopped) this.timer = setTimeout(tick, periodMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  private lose(): void {
    this.stopped = true;
    this.markLost();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
