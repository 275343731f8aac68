/**
 * The namespace controller: a namespace being deleted (phase Terminating, the
 * `kubernetes` finalizer in its spec) has everything in it deleted; once nothing is
 * left, the finalizer is removed through the `finalize` subresource and the API server
 * removes the namespace. Progress is reported in the NamespaceContentRemaining and
 * NamespaceDeletionContentFailure conditions, as Kubernetes does.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#deleting-a-namespace
 */
import {
  isNotFound,
  type KubeObject,
  type Namespace,
  type NamespaceCondition,
  type ResourceInfo,
  resources,
  timeFromMs,
  withCondition,
} from '@flotilla/api';
import type { ControllerContext } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler, requeueAfter } from '../controller.ts';
import type { Informer } from '../informer/informer.ts';
import { sameJson } from '../json.ts';
import { keyOf, namespacesResource } from '../resources.ts';

/** Writes a namespace's `finalize` subresource (PUT); the API client has no verb for it. */
export type NamespaceFinalizer = (namespace: Namespace) => Promise<Namespace>;

export type NamespaceControllerOptions = {
  readonly finalize: NamespaceFinalizer;
  /** How soon to look again while content is still going away. */
  readonly recheckMs?: number;
};

/** The finalizer the namespace controller owns. */
export const namespaceFinalizer = 'kubernetes';

/** Every namespaced resource that can be listed and deleted. */
const contentResources: readonly ResourceInfo[] = resources.filter(
  (r) => r.namespaced && r.verbs.includes('delete') && r.verbs.includes('list'),
);

export class NamespaceController implements Reconciler {
  readonly name = 'namespace';
  private readonly informer: Informer<Namespace>;
  private readonly ctx: ControllerContext;
  private readonly finalize: NamespaceFinalizer;
  private readonly recheckMs: number;

  constructor(ctx: ControllerContext, options: NamespaceControllerOptions) {
    this.ctx = ctx;
    this.informer = ctx.informers.informer<Namespace>(namespacesResource);
    this.finalize = options.finalize;
    this.recheckMs = options.recheckMs ?? 1_000;
  }

  watch(enqueue: Enqueue): () => void {
    return this.informer.addHandler({
      onAdd: (ns) => {
        if (ns.metadata.deletionTimestamp !== undefined) enqueue.add(keyOf(ns));
      },
      onUpdate: (_, ns) => {
        if (ns.metadata.deletionTimestamp !== undefined) enqueue.add(keyOf(ns));
      },
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const ns = this.informer.cache.get(key);
    if (ns === undefined || ns.metadata.deletionTimestamp === undefined) return done;
    if (!(ns.spec?.finalizers ?? []).includes(namespaceFinalizer)) return done;
    const remaining = new Map<string, number>();
    const failures: string[] = [];
    for (const info of contentResources) {
      const client = this.ctx.client.resource<KubeObject>({
        group: info.group,
        version: info.version,
        resource: info.plural,
      });
      const items = (await client.list({ namespace: key })).items;
      if (items.length === 0) continue;
      remaining.set(info.group === '' ? info.plural : `${info.plural}.${info.group}`, items.length);
      for (const obj of items) {
        if (obj.metadata.deletionTimestamp !== undefined) continue;
        try {
          await client.delete(obj.metadata.name ?? '', {
            namespace: key,
            propagationPolicy: 'Background',
            preconditions: { uid: obj.metadata.uid ?? '' },
          });
        } catch (err) {
          if (!isNotFound(err))
            failures.push(`${info.plural}/${obj.metadata.name}: ${(err as Error).message}`);
        }
      }
    }
    if (remaining.size > 0) {
      await this.report(ns, remaining, failures);
      return requeueAfter(this.recheckMs);
    }
    const finalizers = (ns.spec?.finalizers ?? []).filter((f) => f !== namespaceFinalizer);
    await this.finalize({ ...ns, spec: { ...ns.spec, finalizers } });
    return done;
  }

  private async report(ns: Namespace, remaining: ReadonlyMap<string, number>, failures: readonly string[]) {
    const now = timeFromMs(this.ctx.now());
    const counts = [...remaining.entries()].map(([r, n]) => `${r} has ${n} resource instances`).join(', ');
    let conditions: NamespaceCondition[] = withCondition(ns.status?.conditions, {
      type: 'NamespaceContentRemaining',
      status: 'True',
      lastTransitionTime: now,
      reason: 'SomeResourcesRemain',
      message: `Some resources are remaining: ${counts}`,
    });
    conditions = withCondition(
      conditions,
      failures.length === 0
        ? {
            type: 'NamespaceDeletionContentFailure',
            status: 'False',
            lastTransitionTime: now,
            reason: 'ContentDeleted',
            message: 'All content successfully deleted, may be waiting on finalization',
          }
        : {
            type: 'NamespaceDeletionContentFailure',
            status: 'True',
            lastTransitionTime: now,
            reason: 'ContentDeletionFailed',
            message: `Failed to delete all resource types, ${failures.length} remaining: ${failures.slice(0, 3).join('; ')}`,
          },
    );
    if (sameJson(conditions, ns.status?.conditions)) return;
    try {
      await this.ctx.client
        .resource<Namespace>(namespacesResource)
        .updateStatus({ ...ns, status: { ...ns.status, conditions } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
