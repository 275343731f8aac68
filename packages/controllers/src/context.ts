/**
 * What every controller is built from: the (leader-guarded) API client it writes
 * through, the process's shared informers it reads, a logger, metrics, and a clock.
 */
import type { Logger, Registry } from '@flotilla/actor';
import type { ApiClient, KubeObject } from '@flotilla/api';
import { controllerOf } from '@flotilla/api';
import { EventRecorder } from './event-recorder.ts';
import type { IndexFunc } from './informer/cache.ts';
import type { InformerFactory } from './informer/informer-factory.ts';

export type ControllerContext = {
  readonly client: ApiClient;
  readonly informers: InformerFactory;
  readonly log: Logger;
  readonly registry: Registry;
  /** Wall-clock milliseconds (condition times, deadlines, tolerations). */
  readonly now: () => number;
};

export function recorderFor(ctx: ControllerContext, component: string): EventRecorder {
  return new EventRecorder({
    client: ctx.client,
    log: ctx.log,
    registry: ctx.registry,
    component,
    now: ctx.now,
  });
}

/** Index of objects by the uid of their controller (the owner reference marked controller). */
export const controllerUidIndex = 'controller-uid';
export const byControllerUid: IndexFunc<KubeObject> = (o) => {
  const ref = controllerOf(o);
  return ref === undefined ? [] : [ref.uid];
};

/** Index of objects by the uid of every owner. */
export const ownerUidIndex = 'owner-uid';
export const byOwnerUid: IndexFunc<KubeObject> = (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid);

/** Index of pods by the node they are bound to. */
export const nodeNameIndex = 'node-name';
export const byNodeName: IndexFunc<KubeObject> = (o) => {
  const name = (o as { spec?: { nodeName?: string } }).spec?.nodeName;
  return name ? [name] : [];
};
