/**
 * Cluster IPs and node ports of Services. Each range's allocation is a bitmap in the store
 * (RangeAllocator's snapshot under `/registry/ranges/...`), and every write of a Service
 * that takes or frees an address writes the bitmap in the same transaction, guarded by
 * the bitmap's mod revision. So the bitmaps always equal the addresses stored Services
 * hold: two replicas racing for one address cannot both commit, and a replica that dies
 * mid-request commits both writes or neither (no leak, nothing to repair afterwards).
 * https://kubernetes.io/docs/concepts/services-networking/cluster-ip-allocation/
 */
import {
  findResource,
  internalError,
  invalidField,
  invalidObject,
  type PortRange,
  portOutOfRangeMessage,
  RangeAllocator,
  type RangeSnapshot,
  type ResourceInfo,
  type Service,
  type ServiceIPRange,
  serviceIPAt,
  serviceIPOffset,
} from '@flotilla/api';
import type { Compare, RequestOp } from '@flotilla/store';
import { nodePortAllocationKey, serviceIPAllocationKey } from '../storage/keys.ts';
import { keyBytes, type ObjectStore } from '../storage/object-store.ts';

const servicesInfo = findResource('', 'v1', 'services') as ResourceInfo;

/** The two bitmaps as read from the store, with the mod revision each was read at (0: absent). */
export type AllocationState = {
  readonly ips: RangeAllocator;
  readonly ipsRevision: number;
  readonly ports: RangeAllocator;
  readonly portsRevision: number;
};

/** What a Service write must add to its transaction, and the Service with its addresses. */
export type AllocationPlan = {
  readonly service: Service | undefined;
  readonly compares: readonly Compare[];
  readonly ops: readonly RequestOp[];
};

type MutableService = {
  -readonly [K in keyof Service]: Service[K];
} & { spec: { clusterIP?: string; clusterIPs?: string[]; ports?: { nodePort?: number; port: number }[] } };

function clusterIPOf(s: Service | undefined): string | undefined {
  const ip = s?.spec?.clusterIP;
  return ip && ip !== 'None' && s?.spec?.type !== 'ExternalName' ? ip : undefined;
}

function usesNodePorts(s: Service | undefined): boolean {
  return s?.spec?.type === 'NodePort' || s?.spec?.type === 'LoadBalancer';
}

function nodePortsOf(s: Service | undefined): Set<number> {
  if (!usesNodePorts(s)) return new Set();
  return new Set((s?.spec?.ports ?? []).map((p) => p.nodePort ?? 0).filter((p) => p > 0));
}

/** An update that keeps the cluster IP and every node port, and needs no new one. */
function sameAddresses(prev: Service, next: Service): boolean {
  const ip = next.spec?.clusterIP || next.spec?.clusterIPs?.[0] || undefined;
  if ((next.spec?.type ?? 'ClusterIP') !== (prev.spec?.type ?? 'ClusterIP') || ip !== prev.spec?.clusterIP)
    return false;
  if (!usesNodePorts(next)) return true;
  const ports = next.spec?.ports ?? [];
  if (ports.some((p) => !p.nodePort)) return false;
  const held = nodePortsOf(prev);
  const wanted = nodePortsOf(next);
  return held.size === wanted.size && [...wanted].every((p) => held.has(p));
}

/**
 * What a client meant by clusterIP and clusterIPs on an update (Kubernetes'
 * normalizeClusterIPs): an old client that sends only `clusterIP` changes the first of
 * `clusterIPs` with it, or clears both, so that validation judges the change it meant.
 */
export function normalizeClusterIPs(next: Service, prev: Service): Service {
  const before = prev.spec ?? {};
  const after = next.spec ?? {};
  let ips = after.clusterIPs;
  if (
    (before.clusterIPs ?? []).length > 0 &&
    (ips ?? []).length === 0 &&
    before.clusterIP === after.clusterIP
  ) {
    ips = before.clusterIPs;
  }
  const same = JSON.stringify(ips ?? []) === JSON.stringify(before.clusterIPs ?? []);
  if ((before.clusterIP ?? '') !== (after.clusterIP ?? '') && same) {
    ips = after.clusterIP ? [after.clusterIP] : undefined;
  }
  if (ips === after.clusterIPs) return next;
  const { clusterIPs: _, ...spec } = after;
  return { ...next, spec: ips === undefined ? spec : { ...spec, clusterIPs: ips } };
}

/**
 * A Service that stops using node ports (its type changed to ClusterIP or ExternalName)
 * drops the ones it was given, as Kubernetes does, instead of failing validation.
 */
export function dropTypeDependentFields(next: Service, prev: Service): Service {
  if (usesNodePorts(next) || !usesNodePorts(prev)) return next;
  const held = nodePortsOf(prev);
  const ports = next.spec?.ports;
  if (ports === undefined || !ports.some((p) => p.nodePort !== undefined && held.has(p.nodePort)))
    return next;
  return {
    ...next,
    spec: {
      ...next.spec,
      ports: ports.map((p) => {
        if (p.nodePort === undefined || !held.has(p.nodePort)) return p;
        const { nodePort: _, ...rest } = p;
        return rest;
      }),
    },
  };
}

export class ServiceAllocations {
  readonly ipRange: ServiceIPRange;
  readonly portRange: PortRange;
  private readonly random: () => number;

  constructor(ipRange: ServiceIPRange, portRange: PortRange, random: () => number) {
    this.ipRange = ipRange;
    this.portRange = portRange;
    this.random = random;
  }

  /** The first address of the range, which the `kubernetes` Service takes. */
  get firstIP(): string {
    return serviceIPAt(this.ipRange, 0);
  }

  async read(store: ObjectStore): Promise<AllocationState> {
    const [ips, ports] = await Promise.all([
      store.raw(serviceIPAllocationKey),
      store.raw(nodePortAllocationKey),
    ]);
    return {
      ips: this.restore(this.ipRange, ips?.value),
      ipsRevision: ips?.modRevision ?? 0,
      ports: this.restore(this.portRange, ports?.value),
      portsRevision: ports?.modRevision ?? 0,
    };
  }

  /** Reads the bitmaps and plans the change from `prev` to `next` (undefined: absent). */
  async plan(
    store: ObjectStore,
    prev: Service | undefined,
    next: Service | undefined,
  ): Promise<AllocationPlan> {
    if (!this.involved(prev) && !this.involved(next)) return { service: next, compares: [], ops: [] };
    if (prev !== undefined && next !== undefined && sameAddresses(prev, next)) {
      return { service: next, compares: [], ops: [] };
    }
    const state = await this.read(store);
    return this.planWith(state, prev, next);
  }

  /** Plans against bitmaps already read (they are changed in place). */
  planWith(state: AllocationState, prev: Service | undefined, next: Service | undefined): AllocationPlan {
    const ipsBefore = state.ips.snapshot().data;
    const portsBefore = state.ports.snapshot().data;
    const service = next === undefined ? undefined : (structuredClone(next) as unknown as MutableService);
    this.planIP(state.ips, prev, service);
    this.planPorts(state.ports, prev, service);
    const compares: Compare[] = [];
    const ops: RequestOp[] = [];
    const add = (key: string, allocator: RangeAllocator, revision: number, before: string) => {
      const snapshot = allocator.snapshot();
      if (snapshot.data === before) return;
      compares.push({ key: keyBytes(key), target: 'mod', modRevision: revision, result: '=' });
      ops.push({ op: 'put', key: keyBytes(key), value: keyBytes(JSON.stringify(snapshot)) });
    };
    add(serviceIPAllocationKey, state.ips, state.ipsRevision, ipsBefore);
    add(nodePortAllocationKey, state.ports, state.portsRevision, portsBefore);
    return { service: service as unknown as Service | undefined, compares, ops };
  }

  /** Whether the Service holds or needs an address of either range. */
  private involved(s: Service | undefined): boolean {
    if (s === undefined) return false;
    return usesNodePorts(s) || (s.spec?.type !== 'ExternalName' && s.spec?.clusterIP !== 'None');
  }

  private restore(range: ServiceIPRange | PortRange, value: Uint8Array | undefined): RangeAllocator {
    if (value === undefined) return new RangeAllocator(range);
    const snapshot = JSON.parse(new TextDecoder().decode(value)) as RangeSnapshot;
    return RangeAllocator.restore(range, snapshot);
  }

  private invalid(service: MutableService, field: string, value: unknown, detail: string): Error {
    return invalidObject(servicesInfo, service.metadata.name ?? '', [invalidField(field, value, detail)]);
  }

  private planIP(ips: RangeAllocator, prev: Service | undefined, next: MutableService | undefined): void {
    const prevIP = clusterIPOf(prev);
    const release = () => {
      const offset = prevIP === undefined ? undefined : serviceIPOffset(this.ipRange, prevIP);
      if (offset !== undefined) ips.release(offset);
    };
    if (next === undefined) return release();
    const spec = next.spec;
    if (spec.type === 'ExternalName' || spec.clusterIP === 'None') return release();
    const requested = spec.clusterIP || spec.clusterIPs?.[0] || undefined;
    if (requested !== undefined && requested === prevIP) return;
    release();
    if (requested !== undefined) {
      const offset = serviceIPOffset(this.ipRange, requested);
      if (offset === undefined) {
        throw this.invalid(
          next,
          'spec.clusterIPs[0]',
          requested,
          `provided IP is not in the valid range. The range of valid IPs is ${this.ipRange.label}`,
        );
      }
      if (!ips.allocate(offset)) {
        throw this.invalid(next, 'spec.clusterIPs[0]', requested, 'provided IP is already allocated');
      }
      return;
    }
    const offset = ips.allocateNext(Math.floor(this.random() * this.ipRange.size));
    if (offset === undefined) {
      throw internalError(`failed to allocate a serviceIP: range ${this.ipRange.label} is full`);
    }
    const ip = serviceIPAt(this.ipRange, offset);
    spec.clusterIP = ip;
    spec.clusterIPs = [ip];
  }

  private planPorts(
    ports: RangeAllocator,
    prev: Service | undefined,
    next: MutableService | undefined,
  ): void {
    const held = nodePortsOf(prev);
    const kept = new Set<number>();
    const base = this.portRange.base;
    if (next !== undefined && usesNodePorts(next as unknown as Service)) {
      const list = next.spec.ports ?? [];
      // One node port may serve several protocols of the same Service port.
      list.forEach((p, i) => {
        const np = p.nodePort;
        if (np === undefined || np === 0 || kept.has(np)) return;
        if (!held.has(np)) {
          const offset = np - base;
          if (offset < 0 || offset >= this.portRange.size) {
            throw this.invalid(next, `spec.ports[${i}].nodePort`, np, portOutOfRangeMessage(this.portRange));
          }
          if (!ports.allocate(offset)) {
            throw this.invalid(next, `spec.ports[${i}].nodePort`, np, 'provided port is already allocated');
          }
        }
        kept.add(np);
      });
      for (const p of list) {
        if (p.nodePort !== undefined && p.nodePort !== 0) continue;
        const offset = ports.allocateNext(Math.floor(this.random() * this.portRange.size));
        if (offset === undefined) {
          throw internalError(`failed to allocate a nodePort: range ${this.portRange.label} is full`);
        }
        p.nodePort = base + offset;
        kept.add(p.nodePort);
      }
    }
    for (const np of held)
      if (!kept.has(np) && np - base >= 0 && np - base < this.portRange.size) ports.release(np - base);
  }
}
