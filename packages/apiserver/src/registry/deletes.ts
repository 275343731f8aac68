/**
 * delete and deletecollection. planDelete (from @flotilla/api) decides: remove now, or
 * mark the object (deletionTimestamp; a pod's grace period; the `orphan` or
 * `foregroundDeletion` finalizer that tells the garbage collector how to treat
 * dependents) and let whoever owns the finalizers or the grace period finish it: the
 * node agent for a running pod, the garbage collector, the namespace controller.
 * https://kubernetes.io/docs/concepts/architecture/garbage-collection/
 */
import type { DeleteOptions, KubeList, KubeObject, ListOptions, Status } from '@flotilla/api';
import {
  checkPreconditions,
  forbidden,
  groupResourceOf,
  invalid as invalidStatus,
  isNotFound,
  planDelete,
  StatusError,
  successStatus,
  validateDeleteOptions,
} from '@flotilla/api';
import { guaranteedUpdate } from './commit.ts';
import {
  apiVersionOf,
  type CollectionRef,
  checkObjectRef,
  type ObjectRef,
  type RegistryContext,
} from './context.ts';
import { listObjects } from './reads.ts';

/** Namespaces the cluster cannot do without (Kubernetes refuses to delete them too). */
export const undeletableNamespaces: ReadonlySet<string> = new Set(['default', 'kube-system', 'kube-public']);

/** Resources whose DELETE answers with the object rather than a Status (ReturnDeletedObject). */
const returnsDeletedObject = new Set(['/pods', '/services', '/namespaces']);

export type DeleteResult = {
  /** The object (marked, or as it was when removed) or a Success Status. */
  readonly answer: KubeObject | Status;
  /** Still in the store, waiting for finalizers or a grace period. */
  readonly pending: boolean;
};

function checkDeleteOptions(options: DeleteOptions): void {
  const errors = validateDeleteOptions(options);
  if (errors.length > 0) throw invalidStatus({ group: 'meta.k8s.io', kind: 'DeleteOptions' }, '', errors);
}

/** DELETE of one object. */
export async function deleteObject(
  ctx: RegistryContext,
  ref: ObjectRef,
  options: DeleteOptions,
): Promise<DeleteResult> {
  checkObjectRef(ref);
  checkDeleteOptions(options);
  const { info } = ref;
  if (info.group === '' && info.plural === 'namespaces' && undeletableNamespaces.has(ref.name)) {
    throw forbidden(groupResourceOf(info), ref.name, 'this namespace may not be deleted');
  }
  const dryRun = (options.dryRun ?? []).includes('All');
  const committed = await guaranteedUpdate(ctx, ref, dryRun, (current) => {
    const failed = checkPreconditions(info, current.object, options);
    if (failed !== undefined) throw failed;
    const plan = planDelete(current.object, options, ctx.nowMs());
    switch (plan.kind) {
      case 'remove':
        return { kind: 'remove', object: current.object };
      case 'mark':
        return { kind: 'write', object: plan.object };
      case 'unchanged':
        return { kind: 'unchanged', object: plan.object };
    }
  });
  if (!committed.removed) return { answer: committed.object, pending: true };
  if (returnsDeletedObject.has(`${info.group}/${info.plural}`))
    return { answer: committed.object, pending: false };
  const uid = committed.object.metadata.uid;
  return {
    answer: successStatus({
      name: ref.name,
      group: info.group,
      kind: info.plural,
      ...(uid === undefined ? {} : { uid }),
    }),
    pending: false,
  };
}

/**
 * DELETE of a collection: every selected object is deleted with the same options; one
 * already gone meanwhile is skipped. Answers the list of what was deleted (or marked).
 */
export async function deleteCollection(
  ctx: RegistryContext,
  ref: CollectionRef,
  listOptions: ListOptions,
  options: DeleteOptions,
): Promise<KubeList<KubeObject>> {
  checkDeleteOptions(options);
  const list = await listObjects(ctx, ref, { ...listOptions, limit: undefined, continue: undefined });
  const deleted: KubeObject[] = [];
  for (const item of list.items) {
    const name = item.metadata.name ?? '';
    try {
      const result = await deleteObject(ctx, { ...ref, namespace: item.metadata.namespace, name }, options);
      deleted.push(result.answer.kind === 'Status' ? item : (result.answer as KubeObject));
    } catch (err) {
      if (err instanceof StatusError && isNotFound(err)) continue;
      throw err;
    }
  }
  return {
    apiVersion: apiVersionOf(ref.info),
    kind: ref.info.listKind,
    metadata: { resourceVersion: list.metadata.resourceVersion ?? '' },
    items: deleted,
  };
}
