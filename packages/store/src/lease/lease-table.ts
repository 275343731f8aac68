import type { Backend } from '../mvcc/backend.ts';
import { readUint64, uint64Key } from '../mvcc/keys.ts';
import { decodeLeaseValue, encodeLeaseValue } from '../mvcc/records.ts';
import type { Bytes, LeaseRecord } from '../mvcc/types.ts';

/**
 * Leases as the backend holds them: a record per lease, and one entry per attached key
 * under the lease's id so revoking a lease finds its keys without scanning the key space.
 * Writes happen inside apply's transaction.
 */

const attached = Buffer.of(0);
const leaseIdBytes = 8;

function attachmentKey(id: number, key: Bytes): Buffer {
  const out = Buffer.allocUnsafe(leaseIdBytes + key.length);
  uint64Key(id).copy(out, 0);
  out.set(key, leaseIdBytes);
  return out;
}

export function readLease(b: Backend, id: number): LeaseRecord | undefined {
  const bytes = b.leases.getBinary(uint64Key(id));
  if (bytes === undefined) return undefined;
  return { id, ...decodeLeaseValue(bytes) };
}

export function leaseExists(b: Backend, id: number): boolean {
  return b.leases.doesExist(uint64Key(id));
}

export function writeLease(b: Backend, lease: LeaseRecord): void {
  b.leases.putSync(
    uint64Key(lease.id),
    encodeLeaseValue({ ttlSeconds: lease.ttlSeconds, remainingTtlSeconds: lease.remainingTtlSeconds }),
  );
}

/** Removes the lease record; its keys must have been deleted (which detaches them) first. */
export function removeLease(b: Backend, id: number): void {
  b.leases.removeSync(uint64Key(id));
}

export function attachKey(b: Backend, id: number, key: Bytes): void {
  b.leaseKeys.putSync(attachmentKey(id, key), attached);
}

export function detachKey(b: Backend, id: number, key: Bytes): void {
  b.leaseKeys.removeSync(attachmentKey(id, key));
}

/** The keys attached to a lease, in key order. */
export function leaseKeys(b: Backend, id: number): Bytes[] {
  const out: Bytes[] = [];
  const start = uint64Key(id);
  for (const key of b.leaseKeys.getKeys({ start, end: uint64Key(id + 1) })) {
    out.push((key as Uint8Array).subarray(leaseIdBytes));
  }
  return out;
}

export function listLeases(b: Backend): LeaseRecord[] {
  const out: LeaseRecord[] = [];
  for (const { key, value } of b.leases.getRange({})) {
    out.push({ id: readUint64(key as Uint8Array, 0), ...decodeLeaseValue(value) });
  }
  return out;
}
