/**
 * The Kubernetes API as actor requests: what the API server serves on NATS (actor
 * `apiserver.<cluster>`, a queue group of every replica) and what `ApiClient` sends. The
 * verbs, objects, options and errors are those of the REST API, so a component inside the
 * cluster and kubectl outside it see one API. Errors arrive as `StatusError` (registered
 * with the actor layer), carrying the same `Status` the HTTP side would send.
 *
 * This file is the contract between packages/apiserver (server) and every component that
 * uses the API over NATS (controllers, scheduler, agents): change it only with both sides.
 */
import type { Ask, Stream } from '@flotilla/actor';
import type { DeleteOptions, KubeList, KubeObject, Status, WatchEvent } from '../types/meta.ts';

/** Which resource: its group ('' for core), version and plural name, as in URLs. */
export type ResourceRef = {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
};

export type ObjectTarget = ResourceRef & {
  readonly namespace?: string;
  readonly name: string;
  /** `status`, `scale`, `binding`, `finalize` (log is a stream of its own). */
  readonly subresource?: string;
};

export type CollectionTarget = ResourceRef & {
  /** Absent for cluster-scoped resources, or to list across all namespaces. */
  readonly namespace?: string;
};

export type ListOptions = {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  /** As in the REST API: '' or absent = most recent (linearizable), '0' = any (serializable), N = at N. */
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: 'Exact' | 'NotOlderThan';
};

export type WatchOptions = {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Start after this revision; absent = from now (after a fresh list the caller passes the list's). */
  readonly resourceVersion?: string;
  readonly allowWatchBookmarks?: boolean;
  readonly timeoutSeconds?: number;
  /** Send the current objects as ADDED first (like `resourceVersion` absent in the REST API's watch). */
  readonly sendInitialEvents?: boolean;
};

export type WriteOptions = {
  readonly dryRun?: boolean;
  readonly fieldValidation?: 'Ignore' | 'Warn' | 'Strict';
  readonly fieldManager?: string;
};

export type PatchType = 'json' | 'merge' | 'strategic';

export type LogOptions = {
  readonly container?: string;
  readonly follow?: boolean;
  readonly previous?: boolean;
  readonly tailLines?: number;
  readonly sinceSeconds?: number;
  readonly timestamps?: boolean;
  readonly limitBytes?: number;
};

/** One chunk of a pod's log: text as the container wrote it (lines end with \n). */
export type LogChunk = { readonly text: string };

export type ApiProtocol = {
  get: Ask<ObjectTarget, KubeObject>;
  /**
   * A reply must fit one NATS message, so the server may cut a list short (by bytes, even
   * without `limit`) and give a `continue` token; NatsApiClient.list follows it.
   */
  list: Ask<CollectionTarget & ListOptions, KubeList<KubeObject>>;
  create: Ask<
    CollectionTarget &
      WriteOptions & { readonly object: KubeObject; readonly name?: string; readonly subresource?: string },
    KubeObject
  >;
  update: Ask<ObjectTarget & WriteOptions & { readonly object: KubeObject }, KubeObject>;
  patch: Ask<
    ObjectTarget & WriteOptions & { readonly patchType: PatchType; readonly patch: unknown },
    KubeObject
  >;
  /** Answers the object (being deleted, with finalizers or a grace period) or a Success Status. */
  delete: Ask<ObjectTarget & { readonly options?: DeleteOptions }, KubeObject | Status>;
  /** The deleted objects that fit one message; `remainingItemCount` counts the others. */
  deleteCollection: Ask<
    CollectionTarget & ListOptions & { readonly options?: DeleteOptions },
    KubeList<KubeObject>
  >;
  watch: Stream<CollectionTarget & WatchOptions, WatchEvent>;
  log: Stream<ObjectTarget & LogOptions, LogChunk>;
};

export const apiActorName = (clusterId: string) => `apiserver.${clusterId}`;

/**
 * What a node agent serves for the API server (actor `agent.<cluster>.<node>`): the things
 * only the node can answer, such as a container's log.
 */
export type AgentProtocol = {
  log: Stream<{ readonly namespace: string; readonly pod: string } & LogOptions, LogChunk>;
};

export const agentActorName = (clusterId: string, node: string) => `agent.${clusterId}.${node}`;
