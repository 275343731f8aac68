import { assertNever } from '@flotilla/actor';
import { DuplicateKeyError } from './errors.ts';
import { compareBytes, inKeyRange, type KeyRange, keyRange, mapKey } from './keys.ts';
import type { Bytes, Compare, KeyValue, RequestOp, TxnRequest } from './types.ts';

type BranchKeys = { readonly puts: ReadonlyMap<string, Bytes>; readonly dels: readonly KeyRange[] };

/**
 * etcd's rule for a txn (checkIntervals): within a branch, no key is put twice and no key
 * is both put and deleted, nested txns included. A key put in both branches of a nested
 * txn is fine, since only one of them runs. It keeps one version per key per revision.
 */
export function checkTxnKeys(txn: TxnRequest): void {
  branchKeys(txn.success);
  branchKeys(txn.failure);
}

function branchKeys(ops: readonly RequestOp[]): BranchKeys {
  const dels: KeyRange[] = [];
  for (const op of ops) if (op.op === 'deleteRange') dels.push(keyRange(op.key, op.rangeEnd));
  const deleted = (k: Bytes) => dels.some((r) => inKeyRange(k, r));
  const puts = new Map<string, Bytes>();
  for (const op of ops) {
    if (op.op !== 'txn') continue;
    const then = branchKeys(op.success);
    const otherwise = branchKeys(op.failure);
    for (const [s, k] of then.puts) {
      if (puts.has(s) || deleted(k)) throw DuplicateKeyError.of(k);
      puts.set(s, k);
    }
    for (const [s, k] of otherwise.puts) {
      if ((puts.has(s) && !then.puts.has(s)) || deleted(k)) throw DuplicateKeyError.of(k);
      puts.set(s, k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (op.op !== 'put') continue;
    const s = mapKey(op.key);
    if (puts.has(s) || deleted(op.key)) throw DuplicateKeyError.of(op.key);
    puts.set(s, op.key);
  }
  return { puts, dels };
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function holdsFor(c: Compare, kv: KeyValue): boolean {
  let order: number;
  switch (c.target) {
    case 'value':
      order = compareBytes(kv.value, c.value);
      break;
    case 'version':
      order = sign(kv.version - c.version);
      break;
    case 'create':
      order = sign(kv.createRevision - c.createRevision);
      break;
    case 'mod':
      order = sign(kv.modRevision - c.modRevision);
      break;
    case 'lease':
      order = sign(kv.lease - c.lease);
      break;
    default:
      return assertNever(c, 'compare target');
  }
  switch (c.result) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '>':
      return order > 0;
    default:
      return assertNever(c.result, 'compare result');
  }
}

/**
 * Whether a compare holds over the keys it names. As in etcd (applyCompare): every key in
 * the range must satisfy it; with no key, a value compare fails and the others compare
 * against a zero key (version, revisions and lease 0).
 */
export function compareHolds(c: Compare, kvs: readonly KeyValue[]): boolean {
  if (kvs.length === 0) {
    if (c.target === 'value') return false;
    return holdsFor(c, {
      key: c.key,
      value: new Uint8Array(0),
      createRevision: 0,
      modRevision: 0,
      version: 0,
      lease: 0,
    });
  }
  return kvs.every((kv) => holdsFor(c, kv));
}

/** Which branch each txn on the way takes: decided up front, on the state before the txn. */
export type TxnPath = {
  readonly succeeded: boolean;
  readonly ops: readonly RequestOp[];
  /** The paths of the nested txns among `ops`, in order. */
  readonly nested: readonly TxnPath[];
};

/**
 * Evaluate every compare on the taken path before any op runs, as etcd does
 * (compareToPath): nested compares see the state from before the txn, not its own writes.
 */
export function txnPath(txn: TxnRequest, holds: (c: Compare) => boolean): TxnPath {
  const succeeded = txn.compare.every(holds);
  const ops = succeeded ? txn.success : txn.failure;
  const nested: TxnPath[] = [];
  for (const op of ops) if (op.op === 'txn') nested.push(txnPath(op, holds));
  return { succeeded, ops, nested };
}
