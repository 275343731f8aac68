/**
 * Errors that cross process boundaries. Every error a handler throws reaches the caller
 * as `{ code, message, data }`; codes registered with `registerRemoteError` come back
 * as their own class, anything else as a `RemoteError`.
 */
export class FlotillaError extends Error {
  /** Stable, machine-readable code; the wire carries this, not the class name. */
  readonly code: string;
  /** Extra structured detail that survives the wire (must be msgpack-encodable). */
  readonly data: unknown;

  constructor(code: string, message: string, data?: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
  }
}

/** Nobody subscribes to the target subject (NATS told us so at once). */
export class NoRespondersError extends FlotillaError {
  readonly target: string;
  constructor(target: string, attempts: number) {
    super(
      'NoResponders',
      `no actor answers on ${target} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`,
      {
        target,
        attempts,
      },
    );
    this.target = target;
  }
}

/** The caller's deadline passed before an answer came. */
export class DeadlineExceededError extends FlotillaError {
  readonly target: string;
  constructor(target: string, method: string, timeoutMs: number, attempts: number) {
    super(
      'DeadlineExceeded',
      `${target}.${method}: no answer within ${timeoutMs} ms (${attempts} attempt(s))`,
      {
        target,
        method,
        timeoutMs,
        attempts,
      },
    );
    this.target = target;
  }
}

export class ConnectionClosedError extends FlotillaError {
  constructor(message = 'the NATS connection is closed') {
    super('ConnectionClosed', message);
  }
}

export class UnknownMethodError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('UnknownMethod', message, data);
  }
  static of(actor: string, method: string): UnknownMethodError {
    return new UnknownMethodError(`actor ${actor} has no method ${JSON.stringify(method)}`, {
      actor,
      method,
    });
  }
}

/** The actor is shutting down and takes no new work. */
export class ShuttingDownError extends FlotillaError {
  constructor(message: string, data?: unknown) {
    super('ShuttingDown', message, data);
  }
  static of(actor: string): ShuttingDownError {
    return new ShuttingDownError(`actor ${actor} is shutting down`, { actor });
  }
}

/** A handler failed with an error that has no registered class on this side. */
export class RemoteError extends FlotillaError {}

/** A stream ended abnormally: lost frames, a silent peer, or a consumer that fell behind. */
export class StreamError extends FlotillaError {}

export type WireError = { readonly code: string; readonly message: string; readonly data?: unknown };

type ErrorFactory = (message: string, data: unknown) => Error;
const registry = new Map<string, ErrorFactory>([
  ['UnknownMethod', (m, d) => new UnknownMethodError(m, d)],
  ['ShuttingDown', (m, d) => new ShuttingDownError(m, d)],
]);

/**
 * Make errors with `code` arrive on the calling side as the class `make` builds,
 * e.g. `registerRemoteError('NotLeader', (msg, data) => new NotLeaderError(...))`.
 */
export function registerRemoteError(code: string, make: ErrorFactory): void {
  registry.set(code, make);
}

export function toWireError(err: unknown): WireError {
  if (err instanceof FlotillaError) {
    return err.data === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, data: err.data };
  }
  if (err instanceof Error) return { code: 'Internal', message: err.message };
  return { code: 'Internal', message: String(err) };
}

export function fromWireError(wire: WireError): Error {
  const make = registry.get(wire.code);
  if (make) return make(wire.message, wire.data);
  return wire.code.startsWith('Stream')
    ? new StreamError(wire.code, wire.message, wire.data)
    : new RemoteError(wire.code, wire.message, wire.data);
}
