import { Packr } from 'msgpackr';
import {
  InvalidRequestError,
  KeyTooLargeError,
  RequestTooLargeError,
  TooManyTxnOpsError,
  ValueTooLargeError,
} from './errors.ts';
import { storeLimits } from './limits.ts';
import { checkTxnKeys } from './txn.ts';
import type {
  ApplyResult,
  Bytes,
  Command,
  Compare,
  CompareResult,
  DeleteRangeRequest,
  LeaseCheckpoint,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from './types.ts';

// Records off: a log entry must decode the same on every member and after any restart.
// copyBuffers: decoded keys and values must not pin (or alias) the entry's buffer.
const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number', copyBuffers: true });

export function encodeCommand(command: Command): Uint8Array {
  return packr.pack(command);
}

export function encodeResult(result: ApplyResult): Uint8Array {
  return packr.pack(result);
}

/** Results come from this store's own encoder (the dedup table, a peer's apply): trusted. */
export function decodeResult(bytes: Uint8Array): ApplyResult {
  return packr.unpack(bytes) as ApplyResult;
}

/**
 * Decode and validate a log entry's command. Throws a typed `StoreError` for anything
 * that is not a well-formed command within the store's limits. The command it returns is
 * rebuilt field by field in a fixed order with defaults omitted, so equal commands encode
 * to equal bytes (the dedup digest depends on that).
 */
export function decodeCommand(bytes: Uint8Array): Command {
  if (bytes.length > storeLimits.maxRequestBytes) {
    throw RequestTooLargeError.of(bytes.length, storeLimits.maxRequestBytes);
  }
  let raw: unknown;
  try {
    raw = packr.unpack(bytes);
  } catch (err) {
    throw InvalidRequestError.of('command', `is not valid msgpack (${(err as Error).message})`);
  }
  return parseCommand(raw);
}

/** FNV-1a (32-bit) of the command without its request id: tells a retry from a reuse. */
export function commandDigest(command: Command): number {
  const { requestId: _, ...rest } = command;
  const bytes = packr.pack(rest);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

type Fields = Readonly<Record<string, unknown>>;

function fields(x: unknown, field: string): Fields {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) {
    throw InvalidRequestError.of(field, 'must be a map');
  }
  return x as Fields;
}

function list(x: unknown, field: string, maxItems: number): readonly unknown[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x)) throw InvalidRequestError.of(field, 'must be an array');
  if (x.length > maxItems) throw InvalidRequestError.of(field, `has more than ${maxItems} items`);
  return x;
}

function bytes(x: unknown, field: string): Bytes {
  if (!(x instanceof Uint8Array)) throw InvalidRequestError.of(field, 'must be bytes');
  return x;
}

function key(x: unknown, field: string): Bytes {
  const k = bytes(x, field);
  if (k.length === 0) throw InvalidRequestError.of(field, 'is not provided (empty key)');
  if (k.length > storeLimits.maxKeyBytes) throw KeyTooLargeError.of(k.length, storeLimits.maxKeyBytes);
  return k;
}

function rangeEnd(x: unknown, field: string): Bytes | undefined {
  if (x === undefined || x === null) return undefined;
  const end = bytes(x, field);
  if (end.length > storeLimits.maxKeyBytes) throw KeyTooLargeError.of(end.length, storeLimits.maxKeyBytes);
  return end.length === 0 ? undefined : end;
}

function flag(x: unknown, field: string): boolean {
  if (x === undefined || x === null) return false;
  if (typeof x !== 'boolean') throw InvalidRequestError.of(field, 'must be a boolean');
  return x;
}

function integer(x: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x > max) {
    throw InvalidRequestError.of(field, `must be an integer in [${min}, ${max}]`);
  }
  return x;
}

function optInteger(x: unknown, field: string): number {
  return x === undefined || x === null ? 0 : integer(x, field, 0);
}

function oneOf<T extends string>(x: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (x === undefined || x === null) return fallback;
  if (typeof x !== 'string' || !(allowed as readonly string[]).includes(x)) {
    throw InvalidRequestError.of(field, `must be one of ${allowed.join(', ')}`);
  }
  return x as T;
}

export function parsePutRequest(f: Fields, field: string): PutRequest {
  const k = key(f.key, `${field}.key`);
  const value = bytes(f.value ?? new Uint8Array(0), `${field}.value`);
  if (value.length > storeLimits.maxValueBytes) {
    throw ValueTooLargeError.of(value.length, storeLimits.maxValueBytes);
  }
  const lease = optInteger(f.lease, `${field}.lease`);
  const prevKv = flag(f.prevKv, `${field}.prevKv`);
  const ignoreValue = flag(f.ignoreValue, `${field}.ignoreValue`);
  const ignoreLease = flag(f.ignoreLease, `${field}.ignoreLease`);
  if (ignoreValue && value.length > 0) {
    throw InvalidRequestError.of(`${field}.value`, 'must be empty when ignoreValue is set');
  }
  if (ignoreLease && lease !== 0) {
    throw InvalidRequestError.of(`${field}.lease`, 'must be 0 when ignoreLease is set');
  }
  return {
    key: k,
    value,
    ...(lease !== 0 && { lease }),
    ...(prevKv && { prevKv }),
    ...(ignoreValue && { ignoreValue }),
    ...(ignoreLease && { ignoreLease }),
  };
}

export function parseDeleteRangeRequest(f: Fields, field: string): DeleteRangeRequest {
  const k = key(f.key, `${field}.key`);
  const end = rangeEnd(f.rangeEnd, `${field}.rangeEnd`);
  const prevKv = flag(f.prevKv, `${field}.prevKv`);
  return { key: k, ...(end && { rangeEnd: end }), ...(prevKv && { prevKv }) };
}

const sortOrders: readonly SortOrder[] = ['none', 'ascend', 'descend'];
const sortTargets: readonly SortTarget[] = ['key', 'version', 'create', 'mod', 'value'];

export function parseRangeRequest(f: Fields, field: string): RangeRequest {
  const k = key(f.key, `${field}.key`);
  const end = rangeEnd(f.rangeEnd, `${field}.rangeEnd`);
  const limit = optInteger(f.limit, `${field}.limit`);
  const revision = optInteger(f.revision, `${field}.revision`);
  const keysOnly = flag(f.keysOnly, `${field}.keysOnly`);
  const countOnly = flag(f.countOnly, `${field}.countOnly`);
  const sortOrder = oneOf(f.sortOrder, `${field}.sortOrder`, sortOrders, 'none');
  const sortTarget = oneOf(f.sortTarget, `${field}.sortTarget`, sortTargets, 'key');
  return {
    key: k,
    ...(end && { rangeEnd: end }),
    ...(limit !== 0 && { limit }),
    ...(revision !== 0 && { revision }),
    ...(keysOnly && { keysOnly }),
    ...(countOnly && { countOnly }),
    ...(sortOrder !== 'none' && { sortOrder }),
    ...(sortTarget !== 'key' && { sortTarget }),
  };
}

const compareResults: readonly CompareResult[] = ['=', '!=', '<', '>'];

function parseCompare(x: unknown, field: string): Compare {
  const f = fields(x, field);
  const end = rangeEnd(f.rangeEnd, `${field}.rangeEnd`);
  const base = {
    key: key(f.key, `${field}.key`),
    ...(end && { rangeEnd: end }),
    result: oneOf(f.result, `${field}.result`, compareResults, '='),
  };
  const target = f.target;
  switch (target) {
    case 'value':
      return { target, value: bytes(f.value, `${field}.value`), ...base };
    case 'version':
      return { target, version: integer(f.version, `${field}.version`, 0), ...base };
    case 'create':
      return { target, createRevision: integer(f.createRevision, `${field}.createRevision`, 0), ...base };
    case 'mod':
      return { target, modRevision: integer(f.modRevision, `${field}.modRevision`, 0), ...base };
    case 'lease':
      return { target, lease: integer(f.lease, `${field}.lease`, 0), ...base };
    default:
      throw InvalidRequestError.of(`${field}.target`, 'must be one of value, version, create, mod, lease');
  }
}

function checkOpCount(x: unknown): void {
  if (Array.isArray(x) && x.length > storeLimits.maxTxnOps) {
    throw TooManyTxnOpsError.of(x.length, storeLimits.maxTxnOps);
  }
}

export function parseTxnRequest(f: Fields, field: string, depth: number): TxnRequest {
  if (depth > storeLimits.maxTxnDepth) {
    throw InvalidRequestError.of(field, `nests txns deeper than ${storeLimits.maxTxnDepth}`);
  }
  checkOpCount(f.compare);
  checkOpCount(f.success);
  checkOpCount(f.failure);
  const compare = list(f.compare, `${field}.compare`, storeLimits.maxTxnOps).map((c, i) =>
    parseCompare(c, `${field}.compare[${i}]`),
  );
  const success = list(f.success, `${field}.success`, storeLimits.maxTxnOps).map((op, i) =>
    parseRequestOp(op, `${field}.success[${i}]`, depth),
  );
  const failure = list(f.failure, `${field}.failure`, storeLimits.maxTxnOps).map((op, i) =>
    parseRequestOp(op, `${field}.failure[${i}]`, depth),
  );
  return { compare, success, failure };
}

function parseRequestOp(x: unknown, field: string, depth: number): RequestOp {
  const f = fields(x, field);
  const op = f.op;
  switch (op) {
    case 'range':
      return { op, ...parseRangeRequest(f, field) };
    case 'put':
      return { op, ...parsePutRequest(f, field) };
    case 'deleteRange':
      return { op, ...parseDeleteRangeRequest(f, field) };
    case 'txn':
      return { op, ...parseTxnRequest(f, field, depth + 1) };
    default:
      throw InvalidRequestError.of(`${field}.op`, 'must be one of range, put, deleteRange, txn');
  }
}

function requestId(x: unknown): { requestId?: string } {
  if (x === undefined || x === null) return {};
  if (typeof x !== 'string' || x.length === 0) {
    throw InvalidRequestError.of('requestId', 'must be a non-empty string');
  }
  if (Buffer.byteLength(x, 'utf8') > storeLimits.maxRequestIdBytes) {
    throw InvalidRequestError.of('requestId', `must be at most ${storeLimits.maxRequestIdBytes} bytes`);
  }
  return { requestId: x };
}

const leaseId = (x: unknown, field: string): number => integer(x, field, 1);

function parseCommand(raw: unknown): Command {
  const f = fields(raw, 'command');
  const kind = f.kind;
  switch (kind) {
    case 'put':
      return { kind, ...requestId(f.requestId), ...parsePutRequest(f, 'put') };
    case 'deleteRange':
      return { kind, ...requestId(f.requestId), ...parseDeleteRangeRequest(f, 'deleteRange') };
    case 'txn': {
      const txn = parseTxnRequest(f, 'txn', 0);
      checkTxnKeys(txn);
      return { kind, ...requestId(f.requestId), ...txn };
    }
    case 'compact':
      return { kind, ...requestId(f.requestId), revision: integer(f.revision, 'compact.revision', 1) };
    case 'leaseGrant':
      return {
        kind,
        ...requestId(f.requestId),
        id: leaseId(f.id, 'leaseGrant.id'),
        ttlSeconds: integer(f.ttlSeconds, 'leaseGrant.ttlSeconds', 1, storeLimits.maxLeaseTtlSeconds),
      };
    case 'leaseRevoke':
      return { kind, ...requestId(f.requestId), id: leaseId(f.id, 'leaseRevoke.id') };
    case 'leaseCheckpoint': {
      const checkpoints: LeaseCheckpoint[] = list(
        f.checkpoints,
        'leaseCheckpoint.checkpoints',
        storeLimits.maxLeasesPerCommand,
      ).map((c, i) => {
        const cf = fields(c, `leaseCheckpoint.checkpoints[${i}]`);
        return {
          id: leaseId(cf.id, `leaseCheckpoint.checkpoints[${i}].id`),
          remainingTtlSeconds: integer(
            cf.remainingTtlSeconds,
            `leaseCheckpoint.checkpoints[${i}].remainingTtlSeconds`,
            0,
            storeLimits.maxLeaseTtlSeconds,
          ),
        };
      });
      return { kind, ...requestId(f.requestId), checkpoints };
    }
    case 'leaseExpire': {
      const ids = list(f.ids, 'leaseExpire.ids', storeLimits.maxLeasesPerCommand).map((id, i) =>
        leaseId(id, `leaseExpire.ids[${i}]`),
      );
      return { kind, ...requestId(f.requestId), ids };
    }
    default:
      throw InvalidRequestError.of(
        'command.kind',
        'must be one of put, deleteRange, txn, compact, leaseGrant, leaseRevoke, leaseCheckpoint, leaseExpire',
      );
  }
}

/** Validate a range request from a caller (the same checks apply gives a txn's range op). */
export function validateRangeRequest(req: unknown): RangeRequest {
  return parseRangeRequest(fields(req, 'range'), 'range');
}
