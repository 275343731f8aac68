/**
 * How many keys to ask the store for at once. A store reply travels as one NATS message,
 * so a page must never outgrow the connection's max payload, whatever its objects weigh.
 * The store's range has a count limit but no byte limit, so every write of an object also
 * records, in the same txn, the largest size an object of its resource has ever had
 * (`/registry/_sizes/<group>/<resource>`, a nested txn that only raises it). A list reads
 * that record at the revision it pages at: every object of that snapshot was counted by
 * then, so `budget / largest` keys always fit. The record never shrinks: a resource that
 * once held a huge object is paged cautiously ever after.
 */
import type { ResourceInfo } from '@flotilla/api';
import type { RequestOp } from '@flotilla/store';
import { objectSizeKey } from '../storage/keys.ts';
import { keyBytes, type ObjectStore, type ReadMode } from '../storage/object-store.ts';

export type PagingLimits = {
  /** Bytes of object values one store reply may carry (a fraction of NATS' max payload). */
  readonly pageBudgetBytes: number;
  readonly maxKeysPerPage: number;
};

/** The size record's digits: fixed width, so that byte order is numeric order. */
const sizeDigits = 10;

export function encodeSize(bytes: number): Uint8Array {
  return keyBytes(String(Math.max(0, Math.trunc(bytes))).padStart(sizeDigits, '0'));
}

export function decodeSize(value: Uint8Array): number {
  const n = Number(new TextDecoder().decode(value));
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** The txn op that raises the resource's size record to `bytes` if it is lower (or absent). */
export function recordSizeOp(info: ResourceInfo, bytes: number): RequestOp {
  const key = keyBytes(objectSizeKey(info));
  const value = encodeSize(bytes);
  return {
    op: 'txn',
    compare: [{ key, target: 'version', version: 0, result: '=' }],
    success: [{ op: 'put', key, value }],
    failure: [
      {
        op: 'txn',
        compare: [{ key, target: 'value', value, result: '<' }],
        success: [{ op: 'put', key, value }],
        failure: [],
      },
    ],
  };
}

/** Keys per page when no object is larger than `largestBytes`; at most `wanted` when given. */
export function keysPerPage(limits: PagingLimits, largestBytes: number, wanted?: number): number {
  const fit = Math.floor(limits.pageBudgetBytes / Math.max(1, largestBytes));
  const keys = Math.max(1, Math.min(limits.maxKeysPerPage, fit));
  return wanted === undefined ? keys : Math.max(1, Math.min(keys, wanted));
}

/** A snapshot to page through: the revision every page is read at, and the largest object in it. */
export type PagedRead = {
  readonly mode: ReadMode & { readonly kind: 'at' };
  readonly revision: number;
  readonly largestBytes: number;
};

/**
 * Pins a read: the size record is read with `mode`, and its revision becomes the one every
 * page is read at (so the record covers every object the pages will hold).
 */
export async function pinRead(store: ObjectStore, info: ResourceInfo, mode: ReadMode): Promise<PagedRead> {
  const { kv, revision } = await store.rawAt(objectSizeKey(info), mode);
  return {
    mode: { kind: 'at', revision },
    revision,
    largestBytes: kv === undefined ? 0 : decodeSize(kv.value),
  };
}
