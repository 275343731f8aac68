/**
 * The kubelet's three interfaces (pod-source.ts) backed by the API: the pods bound to
 * this node from a list-and-watch on `spec.nodeName=<node>`, statuses written to
 * `pods/status`, and the objects pods refer to read on demand.
 */
import type { Logger } from '@flotilla/actor';
import {
  type ApiClient,
  type ConfigMap,
  isConflict,
  isNotFound,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type Pod,
  type PodStatus,
  type ResourceClient,
  type ResourceRef,
  type Secret,
} from '@flotilla/api';
import type { ObjectLookup, PodEvent, PodRef, PodSource, StatusSink } from '../kubelet/pod-source.ts';
import type { AgentMetrics } from './agent-metrics.ts';
import { listAndWatch } from './list-watch.ts';

export const podsResource: ResourceRef = { group: '', version: 'v1', resource: 'pods' };
/** Attempts of one status write that keeps meeting a newer version of the pod. */
const maxStatusConflictRetries = 5;

/**
 * The pods bound to this node, as the kubelet wants them. It also remembers the latest
 * version of each, which the status writer starts from (so most writes are one update).
 */
export class ApiPodSource implements PodSource {
  readonly latest = new Map<string, Pod>();
  private readonly pods: ResourceClient<Pod>;
  private readonly options: {
    readonly nodeName: string;
    readonly logger: Logger;
    readonly signal: AbortSignal;
    readonly metrics: AgentMetrics;
  };

  constructor(
    pods: ResourceClient<Pod>,
    options: { nodeName: string; logger: Logger; signal: AbortSignal; metrics: AgentMetrics },
  ) {
    this.pods = pods;
    this.options = options;
  }

  /** Keeps `pod` as the latest version when it is newer than the one held. */
  remember(pod: Pod): void {
    const key = `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
    const held = this.latest.get(key);
    if (held !== undefined && held.metadata.uid !== pod.metadata.uid) return;
    if (held !== undefined && Number(held.metadata.resourceVersion) > Number(pod.metadata.resourceVersion))
      return;
    this.latest.set(key, pod);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PodEvent> {
    const { nodeName, metrics } = this.options;
    for await (const event of listAndWatch(this.pods, {
      name: 'pods',
      fieldSelector: `spec.nodeName=${nodeName}`,
      logger: this.options.logger,
      signal: this.options.signal,
      onFailure: () => metrics.watchFailures.inc({ node: nodeName, resource: 'pods' }),
    })) {
      if (event.kind === 'synced') {
        yield event;
        continue;
      }
      const pod = event.object;
      const key = `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
      if (event.kind === 'deleted') {
        if (this.latest.get(key)?.metadata.uid === pod.metadata.uid) this.latest.delete(key);
      } else {
        const held = this.latest.get(key);
        if (held?.metadata.uid !== pod.metadata.uid) this.latest.set(key, pod);
        else this.remember(pod);
      }
      metrics.pods.set({ node: nodeName }, this.latest.size);
      yield { kind: event.kind, pod };
    }
  }
}

/**
 * Writes what the kubelet observes: `pods/status` (retrying conflicts from the newest
 * version of the same pod), and, once a deleted pod's containers are stopped, the final
 * delete with grace period 0 and a uid precondition, as kubelet's status manager does, so
 * a new pod of the same name is never removed by mistake.
 */
export class ApiStatusSink implements StatusSink {
  private readonly pods: ResourceClient<Pod>;
  private readonly source: ApiPodSource;
  private readonly nodeName: string;
  private readonly metrics: AgentMetrics;
  private readonly log: Logger;

  constructor(
    pods: ResourceClient<Pod>,
    source: ApiPodSource,
    options: { nodeName: string; metrics: AgentMetrics; logger: Logger },
  ) {
    this.pods = pods;
    this.source = source;
    this.nodeName = options.nodeName;
    this.metrics = options.metrics;
    this.log = options.logger.child({ component: 'status-writer' });
  }

  async podStatus(ref: PodRef, status: PodStatus): Promise<void> {
    const started = performance.now();
    let pod = this.source.latest.get(`${ref.namespace}/${ref.name}`);
    for (let attempt = 0; ; attempt++) {
      if (pod === undefined || pod.metadata.uid !== ref.uid) {
        try {
          pod = await this.pods.get(ref.name, ref.namespace);
        } catch (err) {
          if (isNotFound(err)) return this.count('pod-status', 'gone');
          throw err;
        }
        // Another pod of the same name: the one this status was for is gone.
        if (pod.metadata.uid !== ref.uid) return this.count('pod-status', 'gone');
      }
      try {
        const written = await this.pods.updateStatus({ ...pod, status });
        // The next write starts from this version, not from the watch's (a step behind).
        this.source.remember(written);
        this.count('pod-status', 'ok');
        this.metrics.statusWriteSeconds.observe(
          { node: this.nodeName },
          (performance.now() - started) / 1000,
        );
        return;
      } catch (err) {
        if (isNotFound(err)) return this.count('pod-status', 'gone');
        if (!isConflict(err) || attempt >= maxStatusConflictRetries) {
          this.count('pod-status', 'error');
          // The kubelet sends a refused status again.
          throw err;
        }
        pod = undefined;
      }
    }
  }

  async podTerminated(ref: PodRef): Promise<void> {
    try {
      await this.pods.delete(ref.name, {
        namespace: ref.namespace,
        gracePeriodSeconds: 0,
        preconditions: { uid: ref.uid },
      });
      this.count('pod-delete', 'ok');
      this.log.info({ pod: `${ref.namespace}/${ref.name}`, uid: ref.uid }, 'pod removed from the API');
    } catch (err) {
      // Gone already, or a new pod of that name (the uid precondition failed).
      if (isNotFound(err) || isConflict(err)) return this.count('pod-delete', 'gone');
      this.count('pod-delete', 'error');
      throw err;
    }
  }

  private count(write: string, result: string): void {
    this.metrics.apiWrites.inc({ node: this.nodeName, write, result });
  }
}

const configMapsResource: ResourceRef = { group: '', version: 'v1', resource: 'configmaps' };
const secretsResource: ResourceRef = { group: '', version: 'v1', resource: 'secrets' };
const claimsResource: ResourceRef = { group: '', version: 'v1', resource: 'persistentvolumeclaims' };
const volumesResource: ResourceRef = { group: '', version: 'v1', resource: 'persistentvolumes' };

/**
 * ConfigMaps, Secrets, PVCs and PVs read from the API when the kubelet asks (kubelet's
 * "Get" change-detection strategy): a pod's volumes are refreshed every 30 s, so a node
 * costs a few reads a minute per mounted object and no watch of the whole cluster's secrets.
 */
export class ApiObjectLookup implements ObjectLookup {
  private readonly client: ApiClient;

  constructor(client: ApiClient) {
    this.client = client;
  }

  configMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    return orUndefined(this.client.resource<ConfigMap>(configMapsResource).get(name, namespace));
  }
  secret(namespace: string, name: string): Promise<Secret | undefined> {
    return orUndefined(this.client.resource<Secret>(secretsResource).get(name, namespace));
  }
  persistentVolumeClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined> {
    return orUndefined(this.client.resource<PersistentVolumeClaim>(claimsResource).get(name, namespace));
  }
  persistentVolume(name: string): Promise<PersistentVolume | undefined> {
    return orUndefined(this.client.resource<PersistentVolume>(volumesResource).get(name));
  }
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
