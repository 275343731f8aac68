/**
 * The two ways an object reaches the store. A create is a txn guarded by "the key does not
 * exist" (and, in a namespace, "the namespace does"). An update, patch or delete reads
 * the object, decides what it becomes, and writes it guarded by the mod revision it read:
 * if someone else wrote in between, the txn fails, returns the newer object in the same
 * round trip, and the decision is made again (Kubernetes' GuaranteedUpdate). A client
 * that sent a resourceVersion gets 409 instead, from its decide function.
 */
import type { KubeObject, Service } from '@flotilla/api';
import { conflict, groupResourceOf, jsonEqual, optimisticLockMessage } from '@flotilla/api';
import type { Compare, RequestOp } from '@flotilla/store';
import { objectKey } from '../storage/keys.ts';
import { keyBytes, rangeResponse, type StoredObject } from '../storage/object-store.ts';
import { notFoundOf, type ObjectRef, type RegistryContext, withResourceVersion } from './context.ts';

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

const isServices = (ref: ObjectRef): boolean => ref.info.group === '' && ref.info.plural === 'services';

/**
 * Reads the object and applies `decide` until the write commits: the current object is
 * re-read (from the failed txn itself) whenever it changed meanwhile, at most
 * `maxConflictRetries` times.
 */
export async function guaranteedUpdate(
  ctx: RegistryContext,
  ref: ObjectRef,
  dryRun: boolean,
  decide: (current: StoredObject) => Decision | Promise<Decision>,
): Promise<Committed> {
  const key = objectKey(ref.info, ref.namespace, ref.name);
  let current = await ctx.store.get(key);
  for (let attempt = 0; ; attempt++) {
    if (current === undefined) throw notFoundOf(ref);
    ctx.paging.observe(ref.info.plural, current.bytes);
    const decision = await decide(current);
    if (decision.kind === 'unchanged') return { object: current.object, removed: false };
    const removing = decision.kind === 'remove';
    let object = decision.object;
    const compares: Compare[] = [
      { key: keyBytes(key), target: 'mod', modRevision: current.modRevision, result: '=' },
    ];
    const ops: RequestOp[] = [];
    if (isServices(ref)) {
      const plan = await ctx.allocations.plan(
        ctx.store,
        current.object as Service,
        removing ? undefined : (object as Service),
      );
      if (!removing && plan.service !== undefined) object = plan.service;
      compares.push(...plan.compares);
      ops.push(...plan.ops);
    }
    if (dryRun) return { object: withResourceVersion(object, current.modRevision), removed: removing };
    const write: RequestOp = removing
      ? { op: 'deleteRange', key: keyBytes(key) }
      : // The lease (an Event's expiry) stays as it was.
        { op: 'put', key: keyBytes(key), value: ctx.store.encode(object), ignoreLease: true };
    const outcome = await ctx.store.txn(compares, [write, ...ops], [{ op: 'range', key: keyBytes(key) }]);
    if (outcome.succeeded) {
      return { object: removing ? object : withResourceVersion(object, outcome.revision), removed: removing };
    }
    if (attempt >= ctx.maxConflictRetries) {
      throw conflict(groupResourceOf(ref.info), ref.name, optimisticLockMessage);
    }
    ctx.metrics.conflictRetries.inc({ resource: ref.info.plural });
    const kv = rangeResponse(outcome, 0)?.[0];
    current = kv === undefined ? undefined : ctx.store.decode(kv);
  }
}
