import { FlotillaError, fromWireError, registerRemoteError } from '@flotilla/actor';
import type { ApplyResult, ErrorResult } from './types.ts';

/**
 * Every error the store reports on purpose. Each class takes `(message, data)` so it can be
 * rebuilt from the wire (see `registerRemoteError` below) and offers a static `of(...)` that
 * writes the message; `data` carries the structured detail.
 */
export class StoreError extends FlotillaError {}

type RevisionData = { readonly revision: number; readonly compactedRevision: number };
/** The requested revision is below the compacted revision: its history is gone. */
export class CompactedError extends StoreError {
  declare readonly data: RevisionData;
  constructor(message: string, data: RevisionData) {
    super('Compacted', message, data);
  }
  static of(revision: number, compactedRevision: number): CompactedError {
    return new CompactedError(
      `revision ${revision} has been compacted (compacted revision is ${compactedRevision})`,
      { revision, compactedRevision },
    );
  }
}

type FutureData = { readonly revision: number; readonly currentRevision: number };
/** The requested revision has not happened yet. */
export class FutureRevisionError extends StoreError {
  declare readonly data: FutureData;
  constructor(message: string, data: FutureData) {
    super('FutureRevision', message, data);
  }
  static of(revision: number, currentRevision: number): FutureRevisionError {
    return new FutureRevisionError(
      `revision ${revision} is a future revision (current revision is ${currentRevision})`,
      { revision, currentRevision },
    );
  }
}

type SizeData = { readonly bytes: number; readonly maxBytes: number };
export class KeyTooLargeError extends StoreError {
  declare readonly data: SizeData;
  constructor(message: string, data: SizeData) {
    super('KeyTooLarge', message, data);
  }
  static of(bytes: number, maxBytes: number): KeyTooLargeError {
    return new KeyTooLargeError(`key of ${bytes} bytes exceeds the limit of ${maxBytes} bytes`, {
      bytes,
      maxBytes,
    });
  }
}

export class ValueTooLargeError extends StoreError {
  declare readonly data: SizeData;
  constructor(message: string, data: SizeData) {
    super('ValueTooLarge', message, data);
  }
  static of(bytes: number, maxBytes: number): ValueTooLargeError {
    return new ValueTooLargeError(`value of ${bytes} bytes exceeds the limit of ${maxBytes} bytes`, {
      bytes,
      maxBytes,
    });
  }
}

export class RequestTooLargeError extends StoreError {
  declare readonly data: SizeData;
  constructor(message: string, data: SizeData) {
    super('RequestTooLarge', message, data);
  }
  static of(bytes: number, maxBytes: number): RequestTooLargeError {
    return new RequestTooLargeError(`request of ${bytes} bytes exceeds the limit of ${maxBytes} bytes`, {
      bytes,
      maxBytes,
    });
  }
}

type OpsData = { readonly ops: number; readonly maxOps: number };
export class TooManyTxnOpsError extends StoreError {
  declare readonly data: OpsData;
  constructor(message: string, data: OpsData) {
    super('TooManyTxnOps', message, data);
  }
  static of(ops: number, maxOps: number): TooManyTxnOpsError {
    return new TooManyTxnOpsError(`too many operations in txn request (${ops} > ${maxOps})`, { ops, maxOps });
  }
}

type FieldData = { readonly field: string };
/** The command or request is malformed: wrong types, missing fields, out-of-range numbers. */
export class InvalidRequestError extends StoreError {
  declare readonly data: FieldData;
  constructor(message: string, data: FieldData) {
    super('InvalidRequest', message, data);
  }
  static of(field: string, problem: string): InvalidRequestError {
    return new InvalidRequestError(`invalid request: ${field} ${problem}`, { field });
  }
}

type KeyData = { readonly key: string };
/** A txn branch puts one key twice, or puts a key it also deletes (etcd's rule). */
export class DuplicateKeyError extends StoreError {
  declare readonly data: KeyData;
  constructor(message: string, data: KeyData) {
    super('DuplicateKey', message, data);
  }
  static of(key: Uint8Array): DuplicateKeyError {
    const shown = Buffer.from(key).toString('hex');
    return new DuplicateKeyError(`duplicate key given in txn request (key hex ${shown})`, { key: shown });
  }
}

/** A put with ignoreValue or ignoreLease names a key that does not exist. */
export class KeyNotFoundError extends StoreError {
  declare readonly data: KeyData;
  constructor(message: string, data: KeyData) {
    super('KeyNotFound', message, data);
  }
  static of(key: Uint8Array): KeyNotFoundError {
    const shown = Buffer.from(key).toString('hex');
    return new KeyNotFoundError(`key not found (key hex ${shown})`, { key: shown });
  }
}

type LeaseData = { readonly id: number };
export class LeaseNotFoundError extends StoreError {
  declare readonly data: LeaseData;
  constructor(message: string, data: LeaseData) {
    super('LeaseNotFound', message, data);
  }
  static of(id: number): LeaseNotFoundError {
    return new LeaseNotFoundError(`lease ${id} not found`, { id });
  }
}

export class LeaseExistsError extends StoreError {
  declare readonly data: LeaseData;
  constructor(message: string, data: LeaseData) {
    super('LeaseExists', message, data);
  }
  static of(id: number): LeaseExistsError {
    return new LeaseExistsError(`lease ${id} already exists`, { id });
  }
}

type RequestIdData = { readonly requestId: string };
/** A request id came back with a different command: a client bug, refused rather than guessed. */
export class RequestIdReusedError extends StoreError {
  declare readonly data: RequestIdData;
  constructor(message: string, data: RequestIdData) {
    super('RequestIdReused', message, data);
  }
  static of(requestId: string): RequestIdReusedError {
    return new RequestIdReusedError(
      `request id ${JSON.stringify(requestId)} was already used for a different command`,
      { requestId },
    );
  }
}

type NotKeptData = { readonly requestId: string; readonly appliedIndex: number; readonly revision: number };
/** A retried request had been applied, but its result was too large to keep: it is not applied again. */
export class ResultNotKeptError extends StoreError {
  declare readonly data: NotKeptData;
  constructor(message: string, data: NotKeptData) {
    super('ResultNotKept', message, data);
  }
  static of(requestId: string, appliedIndex: number, revision: number): ResultNotKeptError {
    return new ResultNotKeptError(
      `request ${JSON.stringify(requestId)} was applied at index ${appliedIndex} (revision ${revision}); ` +
        'its result was too large to keep for retries',
      { requestId, appliedIndex, revision },
    );
  }
}

export type WatchCancelReason = 'slow' | 'compacted' | 'reset' | 'closing';
type WatchData = {
  readonly watchId: number;
  readonly reason: WatchCancelReason;
  readonly nextRevision: number;
};
/**
 * The store ended a watch. The watcher had received every event below `nextRevision`;
 * watching again from there loses nothing (unless that revision is compacted by then).
 */
export class WatchCancelledError extends StoreError {
  declare readonly data: WatchData;
  constructor(message: string, data: WatchData) {
    super('WatchCancelled', message, data);
  }
  static of(
    watchId: number,
    reason: WatchCancelReason,
    nextRevision: number,
    detail: string,
  ): WatchCancelledError {
    return new WatchCancelledError(`watch ${watchId} cancelled (${reason}): ${detail}`, {
      watchId,
      reason,
      nextRevision,
    });
  }
}

/** Lease deadlines are known only to the leader's lessor; ask the leader. */
export class LessorNotPrimaryError extends StoreError {
  constructor(message = 'this member is not the lease primary (not the leader)') {
    super('LessorNotPrimary', message);
  }
}

type SnapshotData = { readonly path: string };
export class SnapshotInvalidError extends StoreError {
  declare readonly data: SnapshotData;
  constructor(message: string, data: SnapshotData) {
    super('SnapshotInvalid', message, data);
  }
  static of(path: string, problem: string): SnapshotInvalidError {
    return new SnapshotInvalidError(`snapshot ${path} is not usable: ${problem}`, { path });
  }
}

type UnavailableData = { readonly reason: 'closed' | 'restoring' };
/** The store cannot serve now: it is closed, or replacing its state with a snapshot. */
export class StoreUnavailableError extends StoreError {
  declare readonly data: UnavailableData;
  constructor(message: string, data: UnavailableData) {
    super('StoreUnavailable', message, data);
  }
  static of(reason: UnavailableData['reason']): StoreUnavailableError {
    const why = reason === 'closed' ? 'is closed' : 'is being restored from a snapshot';
    return new StoreUnavailableError(`the store ${why}`, { reason });
  }
}

// Errors crossing NATS come back as these classes on the calling side.
const factories: ReadonlyArray<readonly [string, (message: string, data: never) => Error]> = [
  ['Compacted', (m, d) => new CompactedError(m, d)],
  ['FutureRevision', (m, d) => new FutureRevisionError(m, d)],
  ['KeyTooLarge', (m, d) => new KeyTooLargeError(m, d)],
  ['ValueTooLarge', (m, d) => new ValueTooLargeError(m, d)],
  ['RequestTooLarge', (m, d) => new RequestTooLargeError(m, d)],
  ['TooManyTxnOps', (m, d) => new TooManyTxnOpsError(m, d)],
  ['InvalidRequest', (m, d) => new InvalidRequestError(m, d)],
  ['DuplicateKey', (m, d) => new DuplicateKeyError(m, d)],
  ['KeyNotFound', (m, d) => new KeyNotFoundError(m, d)],
  ['LeaseNotFound', (m, d) => new LeaseNotFoundError(m, d)],
  ['LeaseExists', (m, d) => new LeaseExistsError(m, d)],
  ['RequestIdReused', (m, d) => new RequestIdReusedError(m, d)],
  ['ResultNotKept', (m, d) => new ResultNotKeptError(m, d)],
  ['WatchCancelled', (m, d) => new WatchCancelledError(m, d)],
  ['LessorNotPrimary', (m) => new LessorNotPrimaryError(m)],
  ['SnapshotInvalid', (m, d) => new SnapshotInvalidError(m, d)],
  ['StoreUnavailable', (m, d) => new StoreUnavailableError(m, d)],
];
for (const [code, make] of factories) {
  registerRemoteError(code, (message, data) => make(message, data as never));
}

export function errorResult(err: StoreError): ErrorResult {
  return err.data === undefined
    ? { kind: 'error', code: err.code, message: err.message }
    : { kind: 'error', code: err.code, message: err.message, data: err.data };
}

/** The typed error an error result stands for. */
export function errorOf(result: ErrorResult): Error {
  return fromWireError(
    result.data === undefined
      ? { code: result.code, message: result.message }
      : { code: result.code, message: result.message, data: result.data },
  );
}

/** The result of a command that applied, or its typed error thrown. */
export function resultOrThrow(result: ApplyResult): Exclude<ApplyResult, ErrorResult> {
  if (result.kind === 'error') throw errorOf(result);
  return result;
}
