/**
 * How an existing object changes in the store (a create, in writes.ts, is a txn guarded by
 * "the key does not exist"). An update, patch or delete reads the object, decides what it
 * becomes, and writes it guarded by the mod revision it read: if someone else wrote in
 * between, the txn fails, returns the newer object in the same round trip, and the
 * decision is made again (Kubernetes' GuaranteedUpdate). A client that sent a
 * resourceVersion gets 409 instead, from its decide function.
 */
import { backoffDelayMs, sleep } from '@flotilla/actor';
import type { KubeObject, Service } from '@flotilla/api';
import { conflict, groupResourceOf, jsonEqual, optimisticLockMessage } from '@flotilla/api';
import type { Compare, RequestOp } from '@flotilla/store';
import { objectKey, terminatingKey } from '../storage/keys.ts';
import {
  keyBytes,
  linearizable,
  rangeResponse,
  type StoredObject,
  serializable,
} from '../storage/object-store.ts';
import { notFoundOf, type ObjectRef, type RegistryContext, withResourceVersion } from './context.ts';
import { recordSizeOp } from './paging.ts';

/** What an update makes of the current object. */
export type Decision =
  | { readonly kind: 'write'; readonly object: KubeObject }
  /** Complete a pending deletion (the last finalizer went): `object` is the answer. */
  | { readonly kind: 'remove'; readonly object: KubeObject }
  | { readonly kind: 'unchanged'; readonly object: KubeObject };

export type Committed = {
  readonly object: KubeObject;
  readonly removed: boolean;
};

function jsonOf(obj: KubeObject): unknown {
  const { resourceVersion: _, ...metadata } = obj.metadata;
  return JSON.parse(JSON.stringify({ ...obj, metadata }));
}

/** True when `next` would store exactly what is stored: such writes are skipped. */
export function sameStored(next: KubeObject, current: KubeObject): boolean {
  return jsonEqual(jsonOf(next), jsonOf(current));
}

const conflictBackoff = { initialMs: 5, maxMs: 200, multiplier: 2, jitter: 0.5 };

const isNamespaces = (ref: ObjectRef): boolean => ref.info.group === '' && ref.info.plural === 'namespaces';

/**
 * The terminating marker follows the namespace in the same txn: present while it is
 * marked for deletion, gone with it (creates in the namespace compare against it).
 */
function terminatingMarker(name: string, next: KubeObject | undefined): RequestOp[] {
  const key = keyBytes(terminatingKey(name));
  if (next === undefined) return [{ op: 'deleteRange', key }];
  if (next.metadata.deletionTimestamp === undefined) return [];
  return [{ op: 'put', key, value: keyBytes(next.metadata.uid ?? '') }];
}

const isServices = (ref: ObjectRef): boolean => ref.info.group === '' && ref.info.plural === 'services';

/**
 * Reads the object and applies `decide` until the write commits. The first read is
 * served by any store member (no ReadIndex round), since the txn's guard catches a stale
 * one: its failure branch returns the latest object, and `decide` runs again on it, at
 * most `maxConflictRetries` times. An answer given without writing (an error, "unchanged",
 * not found, a dry run) is only given once a linearizable read confirms that the object
 * it was decided on is the latest.
 */
export async function guaranteedUpdate(
  ctx: RegistryContext,
  ref: ObjectRef,
  dryRun: boolean,
  decide: (current: StoredObject) => Decision | Promise<Decision>,
): Promise<Committed> {
  const key = objectKey(ref.info, ref.namespace, ref.name);
  let current = await ctx.store.get(key, serializable);
  let confirmed = false;
  /** Re-reads the object linearizably once; true when it had changed (decide again). */
  const changedSinceRead = async (): Promise<boolean> => {
    if (confirmed) return false;
    confirmed = true;
    const latest = await ctx.store.get(key, linearizable);
    const changed = latest?.modRevision !== current?.modRevision;
    current = latest;
    return changed;
  };
  for (let attempt = 0; ; attempt++) {
    if (current === undefined) {
      if (await changedSinceRead()) continue;
      throw notFoundOf(ref);
    }
    const stored: StoredObject = current;
    let decision: Decision;
    try {
      decision = await decide(stored);
    } catch (err) {
      if (await changedSinceRead()) continue;
      throw err;
    }
    if (decision.kind === 'unchanged') {
      if (await changedSinceRead()) continue;
      return { object: stored.object, removed: false };
    }
    const removing = decision.kind === 'remove';
    let object = decision.object;
    const compares: Compare[] = [
      { key: keyBytes(key), target: 'mod', modRevision: stored.modRevision, result: '=' },
    ];
    const ops: RequestOp[] = [];
    if (isServices(ref)) {
      const plan = await ctx.allocations.plan(
        ctx.store,
        stored.object as Service,
        removing ? undefined : (object as Service),
      );
      if (!removing && plan.service !== undefined) object = plan.service;
      compares.push(...plan.compares);
      ops.push(...plan.ops);
    }
    if (dryRun) {
      if (await changedSinceRead()) continue;
      return { object: withResourceVersion(object, stored.modRevision), removed: removing };
    }
    const writes: RequestOp[] = [];
    if (removing) writes.push({ op: 'deleteRange', key: keyBytes(key) });
    else {
      const value = ctx.store.encode(object);
      // The lease (an Event's expiry) stays as it was.
      writes.push(
        { op: 'put', key: keyBytes(key), value, ignoreLease: true },
        recordSizeOp(ref.info, value.byteLength),
      );
    }
    if (isNamespaces(ref)) writes.push(...terminatingMarker(ref.name, removing ? undefined : object));
    const outcome = await ctx.store.txn(compares, [...writes, ...ops], [{ op: 'range', key: keyBytes(key) }]);
    if (outcome.succeeded) {
      return { object: removing ? object : withResourceVersion(object, outcome.revision), removed: removing };
    }
    if (attempt >= ctx.maxConflictRetries) {
      throw conflict(groupResourceOf(ref.info), ref.name, optimisticLockMessage);
    }
    ctx.metrics.conflictRetries.inc({ resource: ref.info.plural });
    // Writers racing for one object (or one allocator bitmap) spread out after a few rounds.
    if (attempt >= 2) await sleep(backoffDelayMs(attempt - 2, conflictBackoff));
    // The failed txn read the latest object: it needs no confirming.
    const kv = rangeResponse(outcome, 0)?.[0];
    current = kv === undefined ? undefined : ctx.store.decode(kv);
    confirmed = true;
  }
}
