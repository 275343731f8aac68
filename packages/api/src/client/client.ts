/**
 * The typed API client every component inside the cluster uses (over NATS, see
 * protocol.ts). The implementation lives beside this file; tests and tools may provide
 * their own (an in-memory one for pure unit tests of reconcile functions).
 */
import type { DeleteOptions, KubeList, KubeObject, Status, WatchEvent } from '../types/meta.ts';
import type {
  ListOptions,
  LogChunk,
  LogOptions,
  PatchType,
  ResourceRef,
  WatchOptions,
  WriteOptions,
} from './protocol.ts';

export interface ResourceClient<T extends KubeObject> {
  readonly ref: ResourceRef;
  get(name: string, namespace?: string): Promise<T>;
  list(options?: ListOptions & { readonly namespace?: string }): Promise<KubeList<T>>;
  /**
   * Events after `resourceVersion`. The iterator ends when the server ends the watch
   * (timeout) and throws on errors; a 410 Gone arrives as a `StatusError` with code 410,
   * after which the caller lists again (the informer does this). NatsApiClient resumes a
   * stream that breaks (its replica died) after the last resourceVersion it delivered, so
   * the caller sees every change once.
   */
  watch(options?: WatchOptions & { readonly namespace?: string }): AsyncIterableIterator<WatchEvent<T>> & {
    cancel(): void;
  };
  create(object: T, options?: WriteOptions): Promise<T>;
  update(object: T, options?: WriteOptions): Promise<T>;
  updateStatus(object: T, options?: WriteOptions): Promise<T>;
  patch(
    name: string,
    patchType: PatchType,
    patch: unknown,
    options?: WriteOptions & { readonly namespace?: string; readonly subresource?: string },
  ): Promise<T>;
  delete(name: string, options?: DeleteOptions & { readonly namespace?: string }): Promise<T | Status>;
}

export interface ApiClient {
  /** A client for one resource, e.g. `client.resource<Pod>({ group: '', version: 'v1', resource: 'pods' })`. */
  resource<T extends KubeObject>(ref: ResourceRef): ResourceClient<T>;
  /** `pods/binding`: assign a pod to a node (the scheduler's write). */
  bind(namespace: string, pod: string, node: string): Promise<void>;
  /** A pod's log, through the API server from the pod's agent. */
  logs(
    namespace: string,
    pod: string,
    options?: LogOptions,
  ): AsyncIterableIterator<LogChunk> & { cancel(): void };
}
