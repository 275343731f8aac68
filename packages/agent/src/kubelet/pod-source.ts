import { FlotillaError } from '@flotilla/actor';
import type {
  ConfigMap,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodStatus,
  Secret,
} from '@flotilla/api';

/** Names one pod; the uid tells apart two pods that had the same name at different times. */
export type PodRef = { readonly namespace: string; readonly name: string; readonly uid: string };

/**
 * What the kubelet is told about the pods bound to its node (a watch on
 * `spec.nodeName=<node>` in the real agent). `synced` says the initial listing is
 * complete: only then may the kubelet treat what runs without a desired pod as an orphan
 * — before it, a restarted agent would kill pods it simply had not heard of yet.
 */
export type PodEvent =
  | { readonly kind: 'added'; readonly pod: Pod }
  | { readonly kind: 'updated'; readonly pod: Pod }
  | { readonly kind: 'deleted'; readonly pod: Pod }
  | { readonly kind: 'synced' };

export type PodSource = AsyncIterable<PodEvent>;

/**
 * Where the kubelet reports pods (the API server's pods/status in the real agent).
 * Each call carries a status that differs from the last one reported for that pod.
 */
export interface StatusSink {
  podStatus(pod: PodRef, status: PodStatus): void | Promise<void>;
  /**
   * The pod's containers are stopped after its deletion: the API object may be removed
   * now (kubelet's final delete with grace period 0).
   */
  podTerminated(pod: PodRef): void | Promise<void>;
}

/** The objects pods refer to, read on demand (an informer's cache in the real agent). */
export interface ObjectLookup {
  configMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  secret(namespace: string, name: string): Promise<Secret | undefined>;
  persistentVolumeClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined>;
  persistentVolume(name: string): Promise<PersistentVolume | undefined>;
}

export class PodSourceFullError extends FlotillaError {
  constructor(maxPendingEvents: number) {
    super('PodSourceFull', `more than ${maxPendingEvents} pod events are waiting for the kubelet`);
  }
}

/**
 * An in-memory pod source: whoever holds it pushes events, the kubelet iterates them.
 * Pending events are bounded; pushing into a full queue throws.
 */
export class InMemoryPodSource implements PodSource {
  private readonly queue: PodEvent[] = [];
  private readonly maxPendingEvents: number;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(maxPendingEvents = 10_000) {
    this.maxPendingEvents = maxPendingEvents;
  }

  push(event: PodEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxPendingEvents) throw new PodSourceFullError(this.maxPendingEvents);
    this.queue.push(event);
    this.wake?.();
  }

  add(pod: Pod): void {
    this.push({ kind: 'added', pod });
  }

  update(pod: Pod): void {
    this.push({ kind: 'updated', pod });
  }

  delete(pod: Pod): void {
    this.push({ kind: 'deleted', pod });
  }

  synced(): void {
    this.push({ kind: 'synced' });
  }

  /** Ends the iteration once the pending events are consumed. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PodEvent> {
    for (;;) {
      const next = this.queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}

/** Lookups over fixed maps, for tests and fake nodes. */
export class InMemoryObjectLookup implements ObjectLookup {
  readonly configMaps = new Map<string, ConfigMap>();
  readonly secrets = new Map<string, Secret>();
  readonly claims = new Map<string, PersistentVolumeClaim>();
  readonly volumes = new Map<string, PersistentVolume>();

  async configMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    return this.configMaps.get(`${namespace}/${name}`);
  }
  async secret(namespace: string, name: string): Promise<Secret | undefined> {
    return this.secrets.get(`${namespace}/${name}`);
  }
  async persistentVolumeClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined> {
    return this.claims.get(`${namespace}/${name}`);
  }
  async persistentVolume(name: string): Promise<PersistentVolume | undefined> {
    return this.volumes.get(name);
  }

  putConfigMap(cm: ConfigMap): void {
    this.configMaps.set(`${cm.metadata.namespace ?? 'default'}/${cm.metadata.name}`, cm);
  }
  putSecret(s: Secret): void {
    this.secrets.set(`${s.metadata.namespace ?? 'default'}/${s.metadata.name}`, s);
  }
  putClaim(c: PersistentVolumeClaim): void {
    this.claims.set(`${c.metadata.namespace ?? 'default'}/${c.metadata.name}`, c);
  }
  putVolume(v: PersistentVolume): void {
    this.volumes.set(v.metadata.name ?? '', v);
  }
}

export function podRefOf(pod: Pod): PodRef {
  return {
    namespace: pod.metadata.namespace ?? 'default',
    name: pod.metadata.name ?? '',
    uid: pod.metadata.uid ?? '',
  };
}

export function podKey(ref: PodRef): string {
  return `${ref.namespace}/${ref.name}`;
}
