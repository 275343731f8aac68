import type { Logger } from 'pino';

/**
 * A protocol names an actor's methods and their message types:
 *
 *   type Kv = {
 *     get: Ask<{ key: string }, { value: string | null }>;
 *     note: Tell<{ text: string }>;
 *     watch: Stream<{ prefix: string }, KvEvent>;
 *   };
 *
 * The phantom fields exist only for the type checker.
 */
export interface Ask<Req, Res> {
  readonly kind: 'ask';
  readonly req: Req;
  readonly res: Res;
}
export interface Tell<Msg> {
  readonly kind: 'tell';
  readonly req: Msg;
}
export interface Stream<Req, Item> {
  readonly kind: 'stream';
  readonly req: Req;
  readonly item: Item;
}

export type Method = Ask<unknown, unknown> | Tell<unknown> | Stream<unknown, unknown>;
export type Protocol = { readonly [method: string]: Method };

export type AskMethods<P extends Protocol> = {
  [K in keyof P]: P[K] extends Ask<unknown, unknown> ? K : never;
}[keyof P] &
  string;
export type TellMethods<P extends Protocol> = {
  [K in keyof P]: P[K] extends Tell<unknown> ? K : never;
}[keyof P] &
  string;
export type StreamMethods<P extends Protocol> = {
  [K in keyof P]: P[K] extends Stream<unknown, unknown> ? K : never;
}[keyof P] &
  string;

export type ReqOf<P extends Protocol, M extends keyof P> = P[M]['req'];
export type ResOf<P extends Protocol, M extends keyof P> = P[M] extends Ask<unknown, infer R> ? R : never;
export type ItemOf<P extends Protocol, M extends keyof P> = P[M] extends Stream<unknown, infer I> ? I : never;

export interface RequestContext {
  /** The caller's request id: the same on every retry of one logical request. */
  readonly requestId: string;
  readonly method: string;
  /** Milliseconds left before the caller gives up on this attempt. */
  remainingMs(): number;
  readonly log: Logger;
}

/** The producing end of a stream, handed to a stream handler. */
export interface StreamSink<Item> {
  /**
   * Queue one item. Resolves once it is on the wire (the consumer granted credit for it),
   * so a producer that awaits each send runs at the consumer's pace. Rejects if the
   * stream is closed, or if un-sent items would exceed the stream's byte bound (the stream
   * then fails with `StreamSlowConsumer`).
   */
  send(item: Item): Promise<void>;
  /** Finish the stream once queued items are sent. */
  end(): void;
  /** Fail the stream with an error the consumer receives (typed, like an ask error). */
  fail(err: unknown): void;
  /** Bytes encoded and waiting for credit. */
  readonly bufferedBytes: number;
  readonly closed: boolean;
  /** Aborted when the stream closes for any reason (consumer cancelled, silent, failed). */
  readonly signal: AbortSignal;
}

export type Handler<M extends Method> =
  M extends Ask<infer Req, infer Res>
    ? (req: Req, ctx: RequestContext) => Res | Promise<Res>
    : M extends Tell<infer Msg>
      ? (msg: Msg, ctx: RequestContext) => void | Promise<void>
      : M extends Stream<infer Req, infer Item>
        ? (req: Req, sink: StreamSink<Item>, ctx: RequestContext) => void | Promise<void>
        : never;

/** Every method of the protocol, each tagged with its kind so the runtime knows how to call it. */
export type Handlers<P extends Protocol> = {
  readonly [M in keyof P]: { readonly kind: P[M]['kind']; readonly fn: Handler<P[M]> };
};

export const ask = <Req, Res>(fn: (req: Req, ctx: RequestContext) => Res | Promise<Res>) =>
  ({ kind: 'ask', fn }) as const;
export const tell = <Msg>(fn: (msg: Msg, ctx: RequestContext) => void | Promise<void>) =>
  ({ kind: 'tell', fn }) as const;
export const stream = <Req, Item>(
  fn: (req: Req, sink: StreamSink<Item>, ctx: RequestContext) => void | Promise<void>,
) => ({ kind: 'stream', fn }) as const;
