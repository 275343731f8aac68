import { type BackoffPolicy, backoffDelayMs, type Logger, sleep } from '@flotilla/actor';
import {
  isResourceExpired,
  type KubeObject,
  type ListOptions,
  type ResourceClient,
  StatusError,
} from '@flotilla/api';

/**
 * What a list-then-watch delivers: every object as added, updated or deleted, and
 * `synced` after each complete listing (the first one, and each after a 410 Gone), so a
 * consumer knows when an object missing from its view is really gone.
 */
export type ListWatchEvent<T extends KubeObject> =
  | { readonly kind: 'added' | 'updated' | 'deleted'; readonly object: T }
  | { readonly kind: 'synced' };

export type ListWatchOptions = {
  /** Names the watched resource in logs and metrics (`pods`, `services`, ...). */
  readonly name: string;
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly logger: Logger;
  /** Aborting ends the iteration (the open watch is cancelled). */
  readonly signal: AbortSignal;
  /** Delay between failed lists or watches. */
  readonly retryBackoff?: BackoffPolicy;
  /** Called on every failed list or watch (for a metric). */
  readonly onFailure?: (err: unknown) => void;
};

export const defaultListWatchRetryBackoff: BackoffPolicy = {
  initialMs: 100,
  maxMs: 5_000,
  multiplier: 2,
  jitter: 0.2,
};

/** `namespace/name`, or `name` for a cluster-scoped object. */
export function objectKey(object: KubeObject): string {
  const ns = object.metadata.namespace;
  return ns === undefined || ns === '' ? (object.metadata.name ?? '') : `${ns}/${object.metadata.name ?? ''}`;
}

/**
 * The informer's loop without its cache (client-go's Reflector): list, then watch from
 * the list's revision; a watch the server ends is opened again from the last revision
 * seen (NatsApiClient already resumes one whose replica died); a 410 lists again and
 * delivers only the difference from what was delivered before (adds, updates of objects
 * whose resourceVersion moved, deletes of objects gone). Failures retry with back-off,
 * forever, until `signal` aborts. Events are produced as the consumer asks for them, so
 * nothing queues here: a slow consumer slows the watch (whose window is bounded).
 */
export async function* listAndWatch<T extends KubeObject>(
  resource: ResourceClient<T>,
  options: ListWatchOptions,
): AsyncGenerator<ListWatchEvent<T>> {
  const log = options.logger.child({ watch: options.name });
  const backoff = options.retryBackoff ?? defaultListWatchRetryBackoff;
  const selection: ListOptions & { namespace?: string } = {
    ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    ...(options.labelSelector === undefined ? {} : { labelSelector: options.labelSelector }),
    ...(options.fieldSelector === undefined ? {} : { fieldSelector: options.fieldSelector }),
  };
  /** The last version delivered of every object not deleted, by key. */
  const known = new Map<string, T>();
  let revision: string | undefined;
  let failures = 0;
  const signal = options.signal;
  while (!signal.aborted) {
    try {
      if (revision === undefined) {
        const list = await resource.list(selection);
        if (signal.aborted) return;
        const seen = new Set<string>();
        for (const object of list.items) {
          const key = objectKey(object);
          seen.add(key);
          const before = known.get(key);
          if (before?.metadata.resourceVersion === object.metadata.resourceVersion) continue;
          known.set(key, object);
          yield { kind: before === undefined ? 'added' : 'updated', object };
        }
        for (const [key, last] of known) {
          if (seen.has(key)) continue;
          known.delete(key);
          // Deleted while no watch saw it: its last known version stands for it.
          yield { kind: 'deleted', object: last };
        }
        revision = list.metadata.resourceVersion ?? '';
        yield { kind: 'synced' };
      }
      // Aborted while the consumer held an event of the listing: an abort listener added
      // now would never fire, and the watch would wait for its next event.
      if (signal.aborted) return;
      const watch = resource.watch({ ...selection, resourceVersion: revision, allowWatchBookmarks: true });
      const cancel = () => watch.cancel();
      signal.addEventListener('abort', cancel, { once: true });
      let delivered = 0;
      try {
        for await (const event of watch) {
          if (signal.aborted) return;
          if (event.type === 'ERROR') throw new StatusError(event.object);
          const object = event.object;
          revision = object.metadata.resourceVersion ?? revision;
          failures = 0;
          delivered += 1;
          if (event.type === 'BOOKMARK') continue;
          const key = objectKey(object);
          if (event.type === 'DELETED') {
            known.delete(key);
            yield { kind: 'deleted', object };
          } else {
            const before = known.get(key);
            known.set(key, object);
            yield { kind: before === undefined ? 'added' : 'updated', object };
          }
        }
      } finally {
        signal.removeEventListener('abort', cancel);
        watch.cancel();
      }
      // The server ended the watch (its timeout): open it again, without spinning on a
      // server that keeps ending watches at once.
      if (delivered === 0) {
        failures += 1;
        await sleep(backoffDelayMs(Math.min(failures - 1, 16), backoff), signal).catch(() => undefined);
      }
    } catch (err) {
      if (signal.aborted) return;
      failures += 1;
      options.onFailure?.(err);
      if (isResourceExpired(err)) {
        // Compacted past our revision: list again and deliver the difference.
        revision = undefined;
        log.info({ err: (err as Error).message }, 'watch expired; listing again');
      } else {
        log.warn({ err, failures }, 'list or watch failed; retrying');
      }
      await sleep(backoffDelayMs(Math.min(failures - 1, 16), backoff), signal).catch(() => undefined);
    }
  }
}
