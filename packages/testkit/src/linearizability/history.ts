import { assertNever } from '@flotilla/actor';
import { CallAlreadyEndedError, HistoryFullError, InvalidHistoryError } from './errors.ts';

export type ClientId = string | number;

/**
 * One operation of a concurrent history. Times are milliseconds on one clock, taken just
 * before the request left and just after its answer arrived. An operation whose outcome is
 * unknown (a timeout, a lost connection) has no return: it may have taken effect at any
 * moment after its call, or never (Wing & Gong's pending operation).
 */
export type Operation<Input, Output> =
  | {
      readonly kind: 'ok';
      readonly client: ClientId;
      readonly input: Input;
      readonly output: Output;
      readonly callMs: number;
      readonly returnMs: number;
    }
  /** Definitely did not take effect (the server said so); the checker ignores it. */
  | {
      readonly kind: 'failed';
      readonly client: ClientId;
      readonly input: Input;
      readonly callMs: number;
      readonly returnMs: number;
    }
  | { readonly kind: 'unknown'; readonly client: ClientId; readonly input: Input; readonly callMs: number };

export type HistoryCounts = {
  readonly ok: number;
  readonly failed: number;
  readonly unknown: number;
  /** Invoked and not yet ended; `operations()` reports these as unknown. */
  readonly pending: number;
};

export type HistoryOptions = {
  /** Milliseconds on a monotonic clock; `performance.now` unless a test injects one. */
  readonly now?: () => number;
  readonly maxOperations?: number;
};

/** Enough for a long chaos run (16 clients for 10 minutes at ~1,500 operations/s). */
export const defaultMaxHistoryOperations = 1_000_000;

type Pending<Input> = {
  readonly kind: 'pending';
  readonly client: ClientId;
  readonly input: Input;
  readonly callMs: number;
};

type Ending<Output> =
  | { readonly kind: 'ok'; readonly output: Output }
  | { readonly kind: 'failed' }
  | { readonly kind: 'unknown' };

/** The PendingCall method that asks for each ending, for error messages. */
const endingMethod = { ok: 'complete', failed: 'fail', unknown: 'unknown' } as const;

/** The handle of one invoked operation: end it exactly once. */
export class PendingCall<Output> {
  /** Position in the history, as reports number operations. */
  readonly index: number;
  readonly #end: (ending: Ending<Output>) => void;

  constructor(index: number, end: (ending: Ending<Output>) => void) {
    this.index = index;
    this.#end = end;
  }

  /** The operation took effect and answered `output`. */
  complete(output: Output): void {
    this.#end({ kind: 'ok', output });
  }

  /** The operation definitely did not take effect (e.g. rejected before it was proposed). */
  fail(): void {
    this.#end({ kind: 'failed' });
  }

  /** Nobody knows whether it took effect (a timeout, a dropped connection). */
  unknown(): void {
    this.#end({ kind: 'unknown' });
  }
}

/**
 * Records a concurrent history as a workload runs:
 * `const call = history.invoke(client, input); ... call.complete(output)`.
 */
export class History<Input, Output> {
  readonly #now: () => number;
  readonly #maxOperations: number;
  readonly #records: (Operation<Input, Output> | Pending<Input>)[] = [];
  #pending = 0;

  constructor(options: HistoryOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#maxOperations = options.maxOperations ?? defaultMaxHistoryOperations;
  }

  get size(): number {
    return this.#records.length;
  }

  invoke(client: ClientId, input: Input): PendingCall<Output> {
    if (this.#records.length >= this.#maxOperations) throw new HistoryFullError(this.#maxOperations);
    const index = this.#records.length;
    this.#records.push({ kind: 'pending', client, input, callMs: this.#now() });
    this.#pending++;
    return new PendingCall(index, (ending) => this.#end(index, ending));
  }

  /** A snapshot of the history so far; operations still in flight count as unknown. */
  operations(): Operation<Input, Output>[] {
    return this.#records.map((r) =>
      r.kind === 'pending' ? { kind: 'unknown', client: r.client, input: r.input, callMs: r.callMs } : r,
    );
  }

  counts(): HistoryCounts {
    let ok = 0;
    let failed = 0;
    let unknown = 0;
    for (const r of this.#records) {
      if (r.kind === 'ok') ok++;
      else if (r.kind === 'failed') failed++;
      else if (r.kind === 'unknown') unknown++;
    }
    return { ok, failed, unknown, pending: this.#pending };
  }

  #end(index: number, ending: Ending<Output>): void {
    const record = this.#records[index]!;
    if (record.kind !== 'pending') {
      throw new CallAlreadyEndedError(index, record.kind, endingMethod[ending.kind]);
    }
    const { client, input, callMs } = record;
    this.#pending--;
    switch (ending.kind) {
      case 'ok':
        this.#records[index] = {
          kind: 'ok',
          client,
          input,
          output: ending.output,
          callMs,
          returnMs: this.#now(),
        };
        return;
      case 'failed':
        this.#records[index] = { kind: 'failed', client, input, callMs, returnMs: this.#now() };
        return;
      case 'unknown':
        this.#records[index] = { kind: 'unknown', client, input, callMs };
        return;
      default:
        assertNever(ending, 'call ending');
    }
  }
}

/** Throws InvalidHistoryError on the first operation that cannot be part of a real history. */
export function validateHistory<Input, Output>(history: readonly Operation<Input, Output>[]): void {
  if (!Array.isArray(history)) throw new InvalidHistoryError('a history is an array of operations');
  for (let i = 0; i < history.length; i++) {
    const op: Operation<Input, Output> | undefined = history[i];
    if (typeof op !== 'object' || op === null) throw new InvalidHistoryError('not an operation object', i);
    if (typeof op.client !== 'string' && typeof op.client !== 'number') {
      throw new InvalidHistoryError('client must be a string or a number', i);
    }
    if (!Number.isFinite(op.callMs))
      throw new InvalidHistoryError(`callMs ${String(op.callMs)} is not finite`, i);
    switch (op.kind) {
      case 'ok':
      case 'failed':
        if (!Number.isFinite(op.returnMs)) {
          throw new InvalidHistoryError(`returnMs ${String(op.returnMs)} is not finite`, i);
        }
        if (op.returnMs < op.callMs) {
          throw new InvalidHistoryError(
            `returns at ${op.returnMs} ms, before its call at ${op.callMs} ms`,
            i,
          );
        }
        break;
      case 'unknown':
        break;
      default:
        throw new InvalidHistoryError(
          `kind ${JSON.stringify((op as { kind: unknown }).kind)} is not ok, failed or unknown`,
          i,
        );
    }
  }
}
