import { randomBytes } from 'node:crypto';
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type BackoffPolicy, backoffDelayMs, defaultBackoff, sleep } from './backoff.ts';
import { ClientStream, defaultStreamOptions, type StreamOptions } from './client-stream.ts';
import { encode } from './codec.ts';
import { connectNats, type NatsOptions } from './connection.ts';
import {
  ConnectionClosedError,
  DeadlineExceededError,
  FlotillaError,
  fromWireError,
  NoRespondersError,
  ShuttingDownError,
  toWireError,
  UnknownMethodError,
} from './errors.ts';
import { type Frame, parseFrame } from './frames.ts';
import { type ActorMetrics, actorMetrics, createRegistry } from './metrics.ts';
import type {
  AskMethods,
  Handlers,
  ItemOf,
  Protocol,
  ReqOf,
  RequestContext,
  ResOf,
  StreamMethods,
  TellMethods,
} from './protocol.ts';
import { RequestMux } from './request-mux.ts';
import { ServerStream } from './server-stream.ts';

export interface ActorSystemOptions {
  readonly nc: NatsConnection;
  readonly log: Logger;
  readonly registry?: Registry;
  /** Subject prefix, one per cluster, so that clusters can share NATS servers. */
  readonly prefix?: string;
  /** Close the connection on shutdown (true when the system opened it). */
  readonly ownsConnection?: boolean;
}

export interface ActorDefinition<P extends Protocol> {
  /** The actor's address; its subject is `<prefix>.<name>`. */
  readonly name: string;
  /** Join this queue group: each request goes to one member of the group (stateless services). */
  readonly queue?: string;
  readonly handlers: Handlers<P>;
  /**
   * Runs before the actor subscribes. If it throws, it is retried with back-off until it
   * succeeds or the actor is stopped: the actor is supervised, not abandoned.
   */
  readonly setup?: () => Promise<void> | void;
  readonly setupBackoff?: BackoffPolicy;
  /** Requests handled at once; beyond it callers get `Overloaded` and retry. */
  readonly maxInFlight?: number;
  /** Bytes a stream may queue for a slow consumer before failing it. */
  readonly maxStreamBufferedBytes?: number;
  /**
   * Remember answers by request id so that a retried ask is answered, not re-executed.
   * Off by default: most handlers are idempotent reads.
   */
  readonly dedupe?: { readonly maxEntries: number; readonly ttlMs: number };
  /** Extra bindings for this actor's log lines (component, member, ...). */
  readonly logBindings?: Record<string, unknown>;
}

export interface AskOptions {
  /** Total time the caller waits, across retries. */
  readonly timeoutMs?: number;
  /** Time one attempt waits before it is retried with the same request id. */
  readonly attemptTimeoutMs?: number;
  /** Retry on timeout and no-responders (default true). */
  readonly retry?: boolean;
  /** Reuse a request id (e.g. across the caller's own retries). */
  readonly requestId?: string;
}

export const defaultAskTimeoutMs = 5_000;
const minAttemptTimeoutMs = 250;

class OverloadedError extends FlotillaError {
  constructor(actor: string, limit: number) {
    super('Overloaded', `actor ${actor} has ${limit} requests in flight`, { actor, limit });
  }
}

/**
 * The actors of one process and its view of the others. Owns the NATS connection,
 * request ids, the metrics of the actor layer, and shutdown.
 */
export class ActorSystem {
  readonly nc: NatsConnection;
  readonly log: Logger;
  readonly registry: Registry;
  readonly prefix: string;
  /** Unique per system instance; request ids and the control subject carry it. */
  readonly id = randomBytes(6).toString('base64url');
  readonly metrics: ActorMetrics;
  private readonly ownsConnection: boolean;
  private readonly hosts = new Set<ActorHost<Protocol>>();
  private readonly streams = new Map<string, ServerStream<unknown>>();
  private ctlSub: Subscription | undefined;
  private readonly mux: RequestMux;
  private seq = 0;
  private stopping: Promise<void> | undefined;

  static async connect(
    options: NatsOptions & { log: Logger; registry?: Registry; prefix?: string },
  ): Promise<ActorSystem> {
    const nc = await connectNats(options, options.log);
    return new ActorSystem({ ...options, nc, ownsConnection: true });
  }

  constructor(options: ActorSystemOptions) {
    this.nc = options.nc;
    this.log = options.log;
    this.registry = options.registry ?? createRegistry();
    this.prefix = options.prefix ?? 'flotilla';
    this.ownsConnection = options.ownsConnection ?? false;
    this.metrics = actorMetrics(this.registry);
    this.mux = new RequestMux(this.nc, `${this.prefix}._r.${this.id}`);
  }

  subject(name: string): string {
    return `${this.prefix}.${name}`;
  }

  get controlSubject(): string {
    return `${this.prefix}._ctl.${this.id}`;
  }

  nextRequestId(): string {
    this.seq += 1;
    return `${this.id}.${this.seq.toString(36)}`;
  }

  get shuttingDown(): boolean {
    return this.stopping !== undefined;
  }

  /** Start an actor. It serves once `setup` (if any) has succeeded; see `ready`. */
  spawn<P extends Protocol>(definition: ActorDefinition<P>): ActorHost<P> {
    if (this.stopping) throw ShuttingDownError.of(definition.name);
    const host = new ActorHost<P>(this, definition);
    this.hosts.add(host as unknown as ActorHost<Protocol>);
    host.start();
    return host;
  }

  /** A handle to send to the actor named `name`, wherever it runs. */
  ref<P extends Protocol>(name: string): ActorRef<P> {
    return new ActorRef<P>(this, name);
  }

  /**
   * Stop taking work, let every in-flight request finish (up to `timeoutMs`), end the
   * streams, and drain the connection.
   */
  shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= (async () => {
      const timeoutMs = options.timeoutMs ?? 10_000;
      await Promise.all([...this.hosts].map((h) => h.stop(timeoutMs)));
      for (const s of this.streams.values()) s.fail(ShuttingDownError.of('stream producer'));
      this.ctlSub?.unsubscribe();
      this.mux.close();
      if (this.ownsConnection && !this.nc.isClosed()) {
        await this.nc.drain().catch((err: unknown) => this.log.warn({ err }, 'nats drain failed'));
      }
    })();
    return this.stopping;
  }

  /** @internal */
  registerStream(stream: ServerStream<unknown>): void {
    this.ctlSub ??= this.nc.subscribe(this.controlSubject, { callback: (_err, msg) => this.onControl(msg) });
    this.streams.set(stream.id, stream);
  }

  /** @internal */
  unregisterStream(stream: ServerStream<unknown>): void {
    this.streams.delete(stream.id);
  }

  /** @internal */
  findStream(id: string): ServerStream<unknown> | undefined {
    return this.streams.get(id);
  }

  /** @internal */
  removeHost(host: ActorHost<Protocol>): void {
    this.hosts.delete(host);
  }

  private onControl(msg: Msg): void {
    const parsed = parseFrame(msg.data);
    if (!parsed.ok) {
      this.metrics.dropped.inc({ actor: '_ctl', reason: parsed.reason });
      return;
    }
    const f = parsed.frame;
    if (f.k === 'credit') this.streams.get(f.id)?.onCredit(f.a);
    else if (f.k === 'cancel') this.streams.get(f.id)?.onCancel();
    else this.metrics.dropped.inc({ actor: '_ctl', reason: `unexpected-${f.k}` });
  }

  /**
   * Send one request frame, retrying on timeout and no-responders with back-off until
   * the overall deadline. Returns the reply frame (`ok` or `err`).
   */
  async request(
    target: string,
    method: string,
    makeFrame: (attemptTimeoutMs: number) => Frame,
    options: AskOptions,
  ): Promise<Frame> {
    const timeoutMs = options.timeoutMs ?? defaultAskTimeoutMs;
    const attemptMs = Math.min(
      timeoutMs,
      options.attemptTimeoutMs ?? Math.max(minAttemptTimeoutMs, timeoutMs / 3),
    );
    const retry = options.retry ?? true;
    const subject = this.subject(target);
    const deadline = performance.now() + timeoutMs;
    let attempts = 0;
    let lastFailure: 'timeout' | 'no-responders' = 'timeout';
    for (;;) {
      const remaining = deadline - performance.now();
      if (remaining <= 0 || (attempts > 0 && !retry)) break;
      const thisAttemptMs = Math.max(1, Math.floor(Math.min(attemptMs, remaining)));
      attempts += 1;
      const outcome = await this.mux.request(subject, encode(makeFrame(thisAttemptMs)), thisAttemptMs);
      if (outcome.kind === 'closed') throw new ConnectionClosedError();
      if (outcome.kind === 'no-responders') {
        lastFailure = 'no-responders';
        this.metrics.askRetries.inc({ target, reason: 'no-responders' });
        // Give up early rather than sleep into the deadline and report a timeout.
        const pause = backoffDelayMs(attempts - 1, defaultBackoff);
        if (!retry || pause >= deadline - performance.now()) break;
        await sleep(pause);
        continue;
      }
      if (outcome.kind === 'timeout') {
        lastFailure = 'timeout';
        this.metrics.askRetries.inc({ target, reason: 'timeout' });
        continue;
      }
      const parsed = parseFrame(outcome.data);
      if (!parsed.ok)
        throw new FlotillaError('BadReply', `${target}.${method}: unreadable reply (${parsed.reason})`);
      const f = parsed.frame;
      if (f.k === 'err' && (f.e.code === 'Overloaded' || f.e.code === 'ShuttingDown') && retry) {
        this.metrics.askRetries.inc({ target, reason: f.e.code });
        const pause = Math.min(backoffDelayMs(attempts - 1, defaultBackoff), deadline - performance.now());
        if (pause > 0) await sleep(pause);
        if (deadline - performance.now() > 0) continue;
      }
      return f;
    }
    if (lastFailure === 'no-responders') throw new NoRespondersError(subject, attempts);
    throw new DeadlineExceededError(target, method, timeoutMs, attempts);
  }
}

/** The sending side: a name and a protocol, usable from any process. */
export class ActorRef<P extends Protocol> {
  private readonly system: ActorSystem;
  readonly name: string;

  constructor(system: ActorSystem, name: string) {
    this.system = system;
    this.name = name;
  }

  async ask<M extends AskMethods<P>>(
    method: M,
    req: ReqOf<P, M>,
    options: AskOptions = {},
  ): Promise<ResOf<P, M>> {
    const id = options.requestId ?? this.system.nextRequestId();
    const f = await this.system.request(
      this.name,
      method,
      (t) => ({ v: 1, k: 'ask', id, m: method, t, b: req }),
      options,
    );
    if (f.k === 'ok') return f.b as ResOf<P, M>;
    if (f.k === 'err') throw fromWireError(f.e);
    throw new FlotillaError('BadReply', `${this.name}.${method}: unexpected ${f.k} frame`);
  }

  /** Fire and forget: delivered at most once, to whoever listens now. */
  tell<M extends TellMethods<P>>(method: M, msg: ReqOf<P, M>): void {
    if (this.system.nc.isClosed()) throw new ConnectionClosedError();
    this.system.nc.publish(this.system.subject(this.name), encode({ v: 1, k: 'tell', m: method, b: msg }));
  }

  /** Open a stream: iterate it with `for await`; `cancel()` or `break` stops it. */
  stream<M extends StreamMethods<P>>(
    method: M,
    req: ReqOf<P, M>,
    options: StreamOptions & AskOptions = {},
  ): ClientStream<ItemOf<P, M>> {
    const id = this.system.nextRequestId();
    const inbox = createInbox(`${this.system.prefix}._inbox`);
    const stream = new ClientStream<ItemOf<P, M>>(this.system.nc, id, inbox, options);
    const w = stream.windowFrames;
    const hb = stream.heartbeatMs;
    this.system
      .request(this.name, method, () => ({ v: 1, k: 'open', id, m: method, b: req, r: inbox, w, hb }), {
        ...options,
        timeoutMs: options.openTimeoutMs ?? options.timeoutMs ?? defaultStreamOptions.openTimeoutMs,
      })
      .then(
        (f) => {
          if (f.k === 'ok') stream.accepted((f.b as { ctl: string }).ctl);
          else if (f.k === 'err') stream.rejected(fromWireError(f.e));
          else stream.rejected(new FlotillaError('BadReply', `unexpected ${f.k} frame opening a stream`));
        },
        (err: unknown) => stream.rejected(err),
      );
    return stream;
  }
}

const heartbeatBoundsMs = { min: 20, max: 60_000 } as const;
/** Room left in a message for NATS' own framing and headers. */
const replyHeadroomBytes = 1_024;

/** The serving side of one actor: its subscription, supervision, and in-flight accounting. */
export class ActorHost<P extends Protocol> {
  readonly name: string;
  readonly log: Logger;
  /** Resolves once setup succeeded and the actor is subscribed. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private state: 'starting' | 'serving' | 'stopping' | 'stopped' = 'starting';
  private sub: Subscription | undefined;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly warned = new Set<string>();
  private readonly maxInFlight: number;
  private readonly maxStreamBufferedBytes: number;
  private readonly dedupe: Map<string, { at: number; reply: Promise<Uint8Array> }> | undefined;
  private readonly ownStreams = new Set<ServerStream<unknown>>();
  private readonly handledOk;
  private readonly stopSignal = new AbortController();
  private readonly table: ReadonlyMap<string, { kind: string; fn: (...args: never[]) => unknown }>;

  private readonly system: ActorSystem;
  private readonly def: ActorDefinition<P>;

  constructor(system: ActorSystem, def: ActorDefinition<P>) {
    this.system = system;
    this.def = def;
    this.name = def.name;
    this.log = system.log.child({ actor: def.name, ...def.logBindings });
    this.maxInFlight = def.maxInFlight ?? 10_000;
    this.maxStreamBufferedBytes = def.maxStreamBufferedBytes ?? 4 * 1024 * 1024;
    this.dedupe = def.dedupe ? new Map() : undefined;
    this.table = new Map(
      Object.entries(
        def.handlers as unknown as Record<string, { kind: string; fn: (...args: never[]) => unknown }>,
      ),
    );
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve;
    });
    // Cached label children: the ask path should not hash label sets per request.
    const cache = new Map<string, ReturnType<typeof system.metrics.handled.labels>>();
    this.handledOk = (method: string) => {
      let c = cache.get(method);
      if (!c) {
        c = system.metrics.handled.labels(def.name, method, 'ok');
        cache.set(method, c);
      }
      return c;
    };
  }

  get serving(): boolean {
    return this.state === 'serving';
  }

  /** @internal */
  start(): void {
    void this.superviseSetup();
  }

  private async superviseSetup(): Promise<void> {
    const policy = this.def.setupBackoff ?? { initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 0.2 };
    for (let attempt = 0; this.state === 'starting'; attempt++) {
      try {
        await this.def.setup?.();
        break;
      } catch (err) {
        const delay = backoffDelayMs(attempt, policy);
        this.log.error({ err, attempt, retryInMs: delay }, 'actor setup failed; retrying');
        try {
          await sleep(delay, this.stopSignal.signal);
        } catch {
          return;
        }
      }
    }
    if (this.state !== 'starting') return;
    this.sub = this.system.nc.subscribe(this.system.subject(this.name), {
      queue: this.def.queue,
      callback: (err, msg) => {
        if (err) this.log.warn({ err }, 'subscription error');
        else this.onMessage(msg);
      },
    });
    this.state = 'serving';
    this.log.debug({ subject: this.system.subject(this.name), queue: this.def.queue }, 'actor serving');
    this.resolveReady();
  }

  /** Stop taking requests and wait (up to `timeoutMs`) for the ones in flight. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasServing = this.state === 'serving';
    this.state = 'stopping';
    this.stopSignal.abort();
    if (wasServing && this.sub && !this.system.nc.isClosed()) {
      // drain: unsubscribe, then deliver what the server already sent us.
      await this.sub.drain().catch(() => undefined);
    }
    if (this.inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (this.inFlight > 0)
        this.log.warn({ inFlight: this.inFlight }, 'stopped with requests still in flight');
    }
    for (const s of this.ownStreams) s.fail(ShuttingDownError.of(this.name));
    this.state = 'stopped';
    this.system.removeHost(this as unknown as ActorHost<Protocol>);
  }

  private drop(reason: string, detail?: Record<string, unknown>): void {
    this.system.metrics.dropped.inc({ actor: this.name, reason });
    if (!this.warned.has(reason)) {
      this.warned.add(reason);
      this.log.warn(
        { reason, ...detail },
        'dropped a frame (logged once per reason; see flotilla_actor_frames_dropped_total)',
      );
    }
  }

  /**
   * Answer a request. A reply larger than the server's payload limit cannot be sent: the
   * caller gets a typed `ResponseTooLarge` instead of silence, and the process goes on.
   */
  private respond(msg: Msg, bytes: Uint8Array): void {
    const limit = this.system.nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
    let payload = bytes;
    if (bytes.byteLength > limit - replyHeadroomBytes) {
      this.drop('response-too-large', { bytes: bytes.byteLength, limit });
      payload = encode({
        v: 1,
        k: 'err',
        e: toWireError(
          new FlotillaError(
            'ResponseTooLarge',
            `reply of ${bytes.byteLength} bytes exceeds the ${limit}-byte message limit`,
            {
              bytes: bytes.byteLength,
              limit,
            },
          ),
        ),
      });
    }
    try {
      msg.respond(payload);
    } catch (err) {
      // Closed or draining connection: the caller times out and retries elsewhere.
      this.log.debug({ err }, 'could not send a reply');
    }
  }

  private onMessage(msg: Msg): void {
    const parsed = parseFrame(msg.data);
    if (!parsed.ok) return this.drop(parsed.reason, { bytes: msg.data.byteLength });
    const f = parsed.frame;
    switch (f.k) {
      case 'ask':
        return this.onAsk(f, msg);
      case 'tell':
        return this.onTell(f);
      case 'open':
        return this.onOpen(f, msg);
      default:
        return this.drop(`unexpected-${f.k}`);
    }
  }

  private context(requestId: string, method: string, timeoutMs: number): RequestContext {
    const deadline = performance.now() + timeoutMs;
    return { requestId, method, remainingMs: () => deadline - performance.now(), log: this.log };
  }

  private handler(method: string, kind: string): ((...args: never[]) => unknown) | undefined {
    const h = this.table.get(method);
    return h && h.kind === kind ? h.fn : undefined;
  }

  private onAsk(f: Extract<Frame, { k: 'ask' }>, msg: Msg): void {
    if (!msg.reply) return this.drop('ask-without-reply');
    const fn = this.handler(f.m, 'ask') as ((req: unknown, ctx: RequestContext) => unknown) | undefined;
    if (!fn) {
      this.drop('unknown-method', { method: f.m });
      this.respond(msg, encode({ v: 1, k: 'err', e: toWireError(UnknownMethodError.of(this.name, f.m)) }));
      return;
    }
    if (this.dedupe) {
      const seen = this.dedupe.get(f.id);
      if (seen) {
        void seen.reply.then((bytes) => this.respond(msg, bytes));
        return;
      }
    }
    if (this.inFlight >= this.maxInFlight) {
      this.respond(
        msg,
        encode({ v: 1, k: 'err', e: toWireError(new OverloadedError(this.name, this.maxInFlight)) }),
      );
      return;
    }
    const reply = this.invoke(fn, f.b, this.context(f.id, f.m, f.t), f.m);
    if (reply instanceof Uint8Array) {
      // A synchronous handler: answer now, no promise on the hot path.
      if (this.dedupe) this.remember(f.id, Promise.resolve(reply));
      this.respond(msg, reply);
      return;
    }
    this.inFlight += 1;
    if (this.dedupe) this.remember(f.id, reply);
    void reply.then((bytes) => {
      this.respond(msg, bytes);
      this.done();
    });
  }

  /** Run a handler; always yields the encoded reply frame, ok or err. */
  private invoke(
    fn: (req: unknown, ctx: RequestContext) => unknown,
    req: unknown,
    ctx: RequestContext,
    method: string,
  ): Uint8Array | Promise<Uint8Array> {
    const onOk = (res: unknown): Uint8Array => {
      this.handledOk(method).inc();
      return encode({ v: 1, k: 'ok', b: res });
    };
    const onErr = (err: unknown): Uint8Array => {
      this.handlerFailed(err, method);
      return encode({ v: 1, k: 'err', e: toWireError(err) });
    };
    try {
      const res = fn(req, ctx);
      return res instanceof Promise ? res.then(onOk, onErr) : onOk(res);
    } catch (err) {
      return onErr(err);
    }
  }

  private handlerFailed(err: unknown, method: string): void {
    const code = err instanceof FlotillaError ? err.code : 'Internal';
    this.system.metrics.handled.inc({ actor: this.name, method, outcome: code });
    // Typed errors are answers (NotLeader, NotFound...); anything else is a bug worth a stack.
    if (err instanceof FlotillaError)
      this.log.debug({ method, code, msg: err.message }, 'handler answered with an error');
    else this.log.error({ err, method }, 'handler threw');
  }

  private remember(id: string, reply: Promise<Uint8Array>): void {
    const table = this.dedupe!;
    const { maxEntries, ttlMs } = this.def.dedupe!;
    const now = performance.now();
    table.set(id, { at: now, reply });
    // Map iterates in insertion order: the oldest entries are first.
    for (const [key, entry] of table) {
      if (table.size <= maxEntries && now - entry.at < ttlMs) break;
      table.delete(key);
    }
  }

  private done(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private onTell(f: Extract<Frame, { k: 'tell' }>): void {
    const fn = this.handler(f.m, 'tell') as ((msg: unknown, ctx: RequestContext) => unknown) | undefined;
    if (!fn) return this.drop('unknown-method', { method: f.m });
    const result = this.invoke(fn, f.b, this.context('', f.m, defaultAskTimeoutMs), f.m);
    if (result instanceof Uint8Array) return;
    this.inFlight += 1;
    void result.then(() => this.done());
  }

  private onOpen(f: Extract<Frame, { k: 'open' }>, msg: Msg): void {
    if (!msg.reply) return this.drop('open-without-reply');
    const fn = this.handler(f.m, 'stream') as
      | ((req: unknown, sink: ServerStream<unknown>, ctx: RequestContext) => unknown)
      | undefined;
    if (!fn) {
      this.drop('unknown-method', { method: f.m });
      this.respond(msg, encode({ v: 1, k: 'err', e: toWireError(UnknownMethodError.of(this.name, f.m)) }));
      return;
    }
    const accepted = encode({ v: 1, k: 'ok', b: { ctl: this.system.controlSubject } });
    const existing = this.system.findStream(f.id);
    if (existing) {
      // A retried open whose first answer was lost: the stream already runs.
      this.respond(msg, accepted);
      return;
    }
    const heartbeatMs = Math.min(heartbeatBoundsMs.max, Math.max(heartbeatBoundsMs.min, f.hb));
    const stream = new ServerStream<unknown>(
      this.system.nc,
      f.id,
      f.r,
      Math.min(f.w, 4096),
      heartbeatMs,
      { maxBufferedBytes: this.maxStreamBufferedBytes },
      (s) => {
        this.system.unregisterStream(s);
        this.ownStreams.delete(s);
        this.system.metrics.streams.dec({ actor: this.name });
      },
    );
    this.system.registerStream(stream);
    this.ownStreams.add(stream);
    this.system.metrics.streams.inc({ actor: this.name });
    this.respond(msg, accepted);
    const ctx = this.context(f.id, f.m, heartbeatMs * 3);
    void Promise.resolve()
      .then(() => fn(f.b, stream, ctx))
      .catch((err: unknown) => {
        this.handlerFailed(err, f.m);
        stream.fail(err);
      });
  }
}
