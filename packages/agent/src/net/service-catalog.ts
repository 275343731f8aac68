import { FlotillaError } from '@flotilla/actor';
import {
  type Endpoint,
  type EndpointSlice,
  type Endpoints,
  type Protocol,
  parseIP,
  type Service,
  type ServiceType,
} from '@flotilla/api';

/** The objects the service proxy and the cluster DNS watch. */
export type ServiceObject = Service | Endpoints | EndpointSlice;

/**
 * What a watch of Services, Endpoints and EndpointSlices delivers, merged into one
 * stream. `synced` says the initial listing is complete: before it, a missing
 * Service may only not have been listed yet, so nothing is removed on its account.
 */
export type ServiceCatalogEvent =
  | { readonly kind: 'added' | 'updated' | 'deleted'; readonly object: ServiceObject }
  | { readonly kind: 'synced' };

export type ServiceCatalogSource = AsyncIterable<ServiceCatalogEvent>;

/** The label an EndpointSlice names its Service with. */
export const serviceNameLabel = 'kubernetes.io/service-name';
/** Kubernetes' default ClientIP affinity timeout: three hours. */
export const defaultAffinityTimeoutSeconds = 10_800;

export type ServicePortView = {
  /** '' for the single unnamed port. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly nodePort: number | undefined;
};

export type EndpointPortView = { readonly name: string; readonly protocol: Protocol; readonly port: number };

export type EndpointView = {
  readonly ip: string;
  readonly hostname: string | undefined;
  readonly nodeName: string | undefined;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly ports: readonly EndpointPortView[];
};

/** How clients reach a Service. */
export type ServiceAddress =
  | { readonly kind: 'clusterIP'; readonly ip: string }
  | { readonly kind: 'headless' }
  | { readonly kind: 'externalName'; readonly name: string }
  /** No cluster IP allocated (yet): neither routed nor named. */
  | { readonly kind: 'unallocated' };

export type SessionAffinity =
  | { readonly kind: 'None' }
  | { readonly kind: 'ClientIP'; readonly timeoutSeconds: number };

/** A Service and its endpoints, normalized: defaults applied, IPv4 only, one list of endpoints. */
export type ServiceView = {
  readonly namespace: string;
  readonly name: string;
  readonly type: ServiceType;
  readonly address: ServiceAddress;
  readonly ports: readonly ServicePortView[];
  readonly sessionAffinity: SessionAffinity;
  readonly publishNotReadyAddresses: boolean;
  /** Sorted by address; an address may appear once per slice or subset that lists it. */
  readonly endpoints: readonly EndpointView[];
};

export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

const isIPv4 = (ip: string): boolean => parseIP(ip)?.family === 'IPv4';

function serviceAddress(service: Service): ServiceAddress {
  const spec = service.spec;
  if (spec?.type === 'ExternalName') return { kind: 'externalName', name: spec.externalName ?? '' };
  const ip = spec?.clusterIP ?? '';
  if (ip === 'None') return { kind: 'headless' };
  const v4 = [ip, ...(spec?.clusterIPs ?? [])].find(isIPv4);
  return v4 === undefined ? { kind: 'unallocated' } : { kind: 'clusterIP', ip: v4 };
}

function sliceEndpoints(slice: EndpointSlice): EndpointView[] {
  if (slice.addressType !== 'IPv4') return [];
  const ports: EndpointPortView[] = [];
  for (const p of slice.ports ?? []) {
    if (p.port !== undefined) ports.push({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port });
  }
  return slice.endpoints.flatMap((e: Endpoint) =>
    e.addresses.filter(isIPv4).map(
      (ip): EndpointView => ({
        ip,
        hostname: e.hostname,
        nodeName: e.nodeName,
        // A nil condition means ready (EndpointSlice API); serving follows ready when unset.
        ready: e.conditions?.ready ?? true,
        serving: e.conditions?.serving ?? e.conditions?.ready ?? true,
        terminating: e.conditions?.terminating ?? false,
        ports,
      }),
    ),
  );
}

function legacyEndpoints(endpoints: Endpoints): EndpointView[] {
  const out: EndpointView[] = [];
  for (const subset of endpoints.subsets ?? []) {
    const ports = (subset.ports ?? []).map(
      (p): EndpointPortView => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port }),
    );
    const add = (ready: boolean) => (a: { ip: string; hostname?: string; nodeName?: string }) => {
      if (!isIPv4(a.ip)) return;
      out.push({
        ip: a.ip,
        hostname: a.hostname,
        nodeName: a.nodeName,
        ready,
        serving: ready,
        terminating: false,
        ports,
      });
    };
    (subset.addresses ?? []).forEach(add(true));
    (subset.notReadyAddresses ?? []).forEach(add(false));
  }
  return out;
}

const compareEndpoints = (a: EndpointView, b: EndpointView): number =>
  compareIPs(a.ip, b.ip) || (a.hostname ?? '').localeCompare(b.hostname ?? '');

/** Numeric order of IPv4 addresses, so 10.0.0.9 comes before 10.0.0.10. */
export function compareIPs(a: string, b: string): number {
  const x = parseIP(a)?.value ?? 0n;
  const y = parseIP(b)?.value ?? 0n;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A Service with its endpoints: from its EndpointSlices when it has any, else from its
 * Endpoints object (the older API, which the endpoints controller may write instead).
 */
export function serviceView(
  service: Service,
  slices: readonly EndpointSlice[],
  endpoints: Endpoints | undefined,
): ServiceView {
  const spec = service.spec;
  const affinityTimeout =
    spec?.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? defaultAffinityTimeoutSeconds;
  const eps =
    slices.length > 0
      ? slices.flatMap(sliceEndpoints)
      : endpoints === undefined
        ? []
        : legacyEndpoints(endpoints);
  return {
    namespace: service.metadata.namespace ?? 'default',
    name: service.metadata.name ?? '',
    type: spec?.type ?? 'ClusterIP',
    address: serviceAddress(service),
    ports: (spec?.ports ?? []).map((p) => ({
      name: p.name ?? '',
      protocol: p.protocol ?? 'TCP',
      port: p.port,
      nodePort: p.nodePort,
    })),
    sessionAffinity:
      spec?.sessionAffinity === 'ClientIP'
        ? { kind: 'ClientIP', timeoutSeconds: affinityTimeout }
        : { kind: 'None' },
    publishNotReadyAddresses: spec?.publishNotReadyAddresses ?? false,
    endpoints: eps.sort(compareEndpoints),
  };
}

function objectKey(object: ServiceObject): string {
  return serviceKey(object.metadata.namespace ?? 'default', object.metadata.name ?? '');
}

/** The Service an EndpointSlice belongs to, by its label. */
function sliceServiceKey(slice: EndpointSlice): string | undefined {
  const name = slice.metadata.labels?.[serviceNameLabel];
  return name === undefined ? undefined : serviceKey(slice.metadata.namespace ?? 'default', name);
}

/**
 * The current Services, Endpoints and EndpointSlices, as a watch delivers them, and
 * the `ServiceView` of each Service (computed when asked, kept until it changes).
 */
export class ServiceCatalog {
  private readonly services = new Map<string, Service>();
  private readonly endpoints = new Map<string, Endpoints>();
  private readonly slices = new Map<string, { readonly service: string; readonly slice: EndpointSlice }>();
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly viewCache = new Map<string, ServiceView>();
  private isSynced = false;

  /** Applies one event; returns the keys (`namespace/name`) of the Services it changed. */
  apply(event: ServiceCatalogEvent): readonly string[] {
    if (event.kind === 'synced') {
      this.isSynced = true;
      return [];
    }
    const deleted = event.kind === 'deleted';
    const object = event.object;
    let changed: string[];
    switch (object.kind) {
      case 'Service': {
        const key = objectKey(object);
        if (deleted) this.services.delete(key);
        else this.services.set(key, object);
        changed = [key];
        break;
      }
      case 'Endpoints': {
        const key = objectKey(object);
        if (deleted) this.endpoints.delete(key);
        else this.endpoints.set(key, object);
        changed = [key];
        break;
      }
      case 'EndpointSlice':
        changed = this.applySlice(object, deleted);
        break;
      default:
        throw new UnknownServiceObjectError(object);
    }
    for (const key of changed) this.viewCache.delete(key);
    return changed;
  }

  get synced(): boolean {
    return this.isSynced;
  }

  get size(): number {
    return this.services.size;
  }

  view(key: string): ServiceView | undefined {
    const cached = this.viewCache.get(key);
    if (cached !== undefined) return cached;
    const service = this.services.get(key);
    if (service === undefined) return undefined;
    const slices = [...(this.slicesByService.get(key) ?? [])].map((k) => this.slices.get(k)!.slice);
    const view = serviceView(service, slices, this.endpoints.get(key));
    this.viewCache.set(key, view);
    return view;
  }

  /** Every Service's view, sorted by key. */
  views(): readonly ServiceView[] {
    return [...this.services.keys()].sort().map((k) => this.view(k)!);
  }

  private applySlice(slice: EndpointSlice, deleted: boolean): string[] {
    const key = objectKey(slice);
    const before = this.slices.get(key);
    const changed: string[] = [];
    if (before !== undefined) {
      this.slicesByService.get(before.service)?.delete(key);
      this.slices.delete(key);
      changed.push(before.service);
    }
    const service = sliceServiceKey(slice);
    if (!deleted && service !== undefined) {
      this.slices.set(key, { service, slice });
      let set = this.slicesByService.get(service);
      if (set === undefined) {
        set = new Set();
        this.slicesByService.set(service, set);
      }
      set.add(key);
      if (!changed.includes(service)) changed.push(service);
    }
    return changed;
  }
}

export class UnknownServiceObjectError extends FlotillaError {
  constructor(object: unknown) {
    super('UnknownServiceObject', 'not a Service, Endpoints or EndpointSlice', {
      kind: (object as { kind?: unknown }).kind,
    });
  }
}

export class ServiceSourceFullError extends FlotillaError {
  constructor(maxPendingEvents: number) {
    super('ServiceSourceFull', `more than ${maxPendingEvents} service events are waiting to be consumed`);
  }
}

/** Consumed events the in-memory source keeps before dropping them from its array. */
const compactAfterEvents = 4096;

/**
 * An in-memory source: whoever holds it pushes events, one consumer iterates them.
 * Pending events are bounded; pushing into a full queue throws.
 */
export class InMemoryServiceSource implements ServiceCatalogSource {
  private queue: ServiceCatalogEvent[] = [];
  /** Index of the next event to hand out: shifting a 100k-entry array per event is quadratic. */
  private head = 0;
  private readonly maxPendingEvents: number;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(maxPendingEvents = 100_000) {
    this.maxPendingEvents = maxPendingEvents;
  }

  push(event: ServiceCatalogEvent): void {
    if (this.closed) return;
    if (this.queue.length - this.head >= this.maxPendingEvents) {
      throw new ServiceSourceFullError(this.maxPendingEvents);
    }
    this.queue.push(event);
    this.wake?.();
  }

  upsert(object: ServiceObject): void {
    this.push({ kind: 'updated', object });
  }

  delete(object: ServiceObject): void {
    this.push({ kind: 'deleted', object });
  }

  synced(): void {
    this.push({ kind: 'synced' });
  }

  /** Ends the iteration once the pending events are consumed. */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ServiceCatalogEvent> {
    for (;;) {
      const next = this.queue[this.head];
      if (next !== undefined) {
        this.head++;
        if (this.head === this.queue.length || this.head >= compactAfterEvents) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
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
