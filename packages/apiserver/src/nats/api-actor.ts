/**
 * The API as actor requests (ApiProtocol): actor `apiserver.<cluster>`, served by every
 * replica in one queue group, with the verbs, options and Status errors of the HTTP side
 * and watches and logs as flow-controlled streams. A reply must fit one NATS message, so
 * a list is cut into pages by bytes as well as by `limit` (the client follows `continue`).
 */
import type { ActorDefinition, RequestContext, StreamSink } from '@flotilla/actor';
import { ask, stream } from '@flotilla/actor';
import type {
  ApiProtocol,
  CollectionTarget,
  KubeList,
  KubeObject,
  LogChunk,
  ObjectTarget,
  ResourceInfo,
  WatchEvent,
} from '@flotilla/api';
import {
  apiActorName,
  badRequest,
  findResource,
  internalError,
  methodNotSupported,
  notFound,
  StatusError,
  scaleOf,
} from '@flotilla/api';
import type { ApiServerMetrics } from '../metrics.ts';
import type { CollectionRef, ObjectRef, RegistryContext } from '../registry/context.ts';
import { deleteCollection, deleteObject } from '../registry/deletes.ts';
import { openPodLog, type PodLogTarget } from '../registry/pod-logs.ts';
import { getObject, listObjects } from '../registry/reads.ts';
import { ObjectWatch } from '../registry/watch.ts';
import {
  bindPod,
  createObject,
  patchObject,
  type UpdateSubresource,
  updateObject,
} from '../registry/writes.ts';

export type ApiActorOptions = {
  readonly registry: RegistryContext;
  readonly logTarget: PodLogTarget;
  readonly metrics: ApiServerMetrics;
  readonly clusterId: string;
  /** Bytes of objects one list reply may carry (a fraction of NATS' max payload). */
  readonly maxReplyBytes: number;
  readonly watchTimeoutMs: () => number;
  /** Requests handled at once by this replica; beyond it callers are told to retry. */
  readonly maxInFlight: number;
};

function resourceOf(target: { group: string; version: string; resource: string }): ResourceInfo {
  const info = findResource(target.group, target.version, target.resource);
  if (info === undefined) {
    throw notFound({ group: target.group, resource: target.resource }, '');
  }
  return info;
}

function objectRef(t: ObjectTarget): ObjectRef {
  return { info: resourceOf(t), namespace: t.namespace, name: t.name };
}

function collectionRef(t: CollectionTarget): CollectionRef {
  return { info: resourceOf(t), namespace: t.namespace };
}

function refuse(t: ObjectTarget, verb: string): StatusError {
  return methodNotSupported({ group: t.group, resource: `${t.resource}/${t.subresource ?? ''}` }, verb);
}

function writeSubresource(t: ObjectTarget, verb: 'update' | 'patch'): UpdateSubresource | undefined {
  switch (t.subresource) {
    case undefined:
    case '':
      return undefined;
    case 'status':
    case 'scale':
      return t.subresource;
    case 'finalize':
      if (verb === 'update') return 'finalize';
      throw refuse(t, verb);
    default:
      throw refuse(t, verb);
  }
}

/**
 * A list answer cut to what one NATS message holds: the deleted objects that fit, and in
 * `remainingItemCount` how many more were deleted (the deletion itself is complete).
 */
function fitReply(list: KubeList<KubeObject>, maxBytes: number): KubeList<KubeObject> {
  const items: KubeObject[] = [];
  let bytes = 0;
  for (const item of list.items) {
    const size = Buffer.byteLength(JSON.stringify(item));
    if (items.length > 0 && bytes + size > maxBytes) break;
    items.push(item);
    bytes += size;
  }
  if (items.length === list.items.length) return list;
  return {
    ...list,
    metadata: { ...list.metadata, remainingItemCount: list.items.length - items.length },
    items,
  };
}

export function apiActor(options: ApiActorOptions): ActorDefinition<ApiProtocol> {
  const ctx = options.registry;
  const { metrics } = options;

  /** Counts, times, and turns anything that is not a Status into a logged 500. */
  const measured = async <T>(verb: string, resource: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let code = 200;
    try {
      return await run();
    } catch (err) {
      const status =
        err instanceof StatusError ? err : internalError(err instanceof Error ? err.message : String(err));
      if (!(err instanceof StatusError)) ctx.log.error({ err, verb, resource }, 'NATS request failed');
      code = status.status.code;
      throw status;
    } finally {
      metrics.requests.inc({ verb, resource, code: String(code), transport: 'nats' });
      metrics.duration.observe({ verb, resource, transport: 'nats' }, (performance.now() - started) / 1000);
    }
  };

  const streamTo = async <T>(sink: StreamSink<T>, source: AsyncIterableIterator<T> & { cancel(): void }) => {
    const stop = () => source.cancel();
    sink.signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const item of source) {
        if (sink.closed) break;
        await sink.send(item);
      }
      sink.end();
    } finally {
      source.cancel();
      sink.signal.removeEventListener('abort', stop);
    }
  };

  return {
    name: apiActorName(options.clusterId),
    queue: apiActorName(options.clusterId),
    maxInFlight: options.maxInFlight,
    logBindings: { component: 'apiserver' },
    handlers: {
      get: ask((req: ObjectTarget) =>
        measured('get', req.resource, async () => {
          const sub = req.subresource;
          if (sub !== undefined && sub !== '' && sub !== 'status' && sub !== 'scale')
            throw refuse(req, 'get');
          const object = await getObject(ctx, objectRef(req));
          return sub === 'scale' ? (scaleOf(object as never) as unknown as KubeObject) : object;
        }),
      ),
      list: ask((req) =>
        measured('list', req.resource, () =>
          listObjects(ctx, collectionRef(req), { ...req, maxReplyBytes: options.maxReplyBytes }),
        ),
      ),
      create: ask((req) =>
        measured('create', req.resource, async () => {
          const opts = { dryRun: req.dryRun, fieldValidation: req.fieldValidation };
          if (req.subresource === 'binding') {
            if (req.name === undefined) throw badRequest('binding a pod needs its name');
            const ref = { ...collectionRef(req), name: req.name };
            return (await bindPod(ctx, ref, req.object, opts)) as unknown as KubeObject;
          }
          if (req.subresource !== undefined && req.subresource !== '') {
            throw methodNotSupported(
              { group: req.group, resource: `${req.resource}/${req.subresource}` },
              'create',
            );
          }
          return (await createObject(ctx, collectionRef(req), req.object, opts)).object;
        }),
      ),
      update: ask((req) =>
        measured('update', req.resource, async () => {
          const sub = writeSubresource(req, 'update');
          const opts = { dryRun: req.dryRun, fieldValidation: req.fieldValidation };
          return (await updateObject(ctx, objectRef(req), sub, req.object, opts)).object;
        }),
      ),
      patch: ask((req) =>
        measured('patch', req.resource, async () => {
          const sub = writeSubresource(req, 'patch');
          if (sub === 'finalize') throw refuse(req, 'patch');
          const opts = { dryRun: req.dryRun, fieldValidation: req.fieldValidation };
          return (await patchObject(ctx, objectRef(req), sub, req.patchType, req.patch, opts)).object;
        }),
      ),
      delete: ask((req) =>
        measured(
          'delete',
          req.resource,
          async () => (await deleteObject(ctx, objectRef(req), req.options ?? {})).answer,
        ),
      ),
      deleteCollection: ask((req) =>
        measured('deletecollection', req.resource, async () =>
          fitReply(
            await deleteCollection(ctx, collectionRef(req), req, req.options ?? {}),
            options.maxReplyBytes,
          ),
        ),
      ),
      watch: stream(async (req, sink: StreamSink<WatchEvent>, _rc: RequestContext) => {
        const watch = await measured('watch', req.resource, () =>
          ObjectWatch.open(ctx, collectionRef(req), { ...req, defaultTimeoutMs: options.watchTimeoutMs() }),
        );
        metrics.watches.inc({ transport: 'nats' });
        const stop = () => watch.cancel();
        sink.signal.addEventListener('abort', stop, { once: true });
        try {
          for await (const event of watch) {
            metrics.watchEvents.inc({ transport: 'nats', type: event.type });
            // Over NATS a failed watch fails the stream: the client's iterator throws the Status.
            if (event.type === 'ERROR') return sink.fail(new StatusError(event.object));
            if (sink.closed) break;
            await sink.send(event);
          }
          sink.end();
        } finally {
          watch.cancel();
          sink.signal.removeEventListener('abort', stop);
          metrics.watches.dec({ transport: 'nats' });
        }
      }),
      log: stream(async (req, sink: StreamSink<LogChunk>) => {
        const log = await measured('get', 'pods', async () => {
          if (req.group !== '' || req.resource !== 'pods')
            throw refuse({ ...req, subresource: 'log' }, 'get');
          return openPodLog(ctx, options.logTarget, objectRef(req), req);
        });
        await streamTo(sink, log);
      }),
    },
  };
}
