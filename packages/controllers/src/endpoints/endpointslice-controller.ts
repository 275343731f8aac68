/**
 * The EndpointSlice controller: the same selected pods as the Endpoints controller, as
 * discovery.k8s.io/v1 EndpointSlices of at most `maxEndpointsPerSlice` endpoints each,
 * labelled with their Service and owned by it. Terminating pods stay listed with
 * `terminating: true` (and `serving` as their readiness), as Kubernetes does since 1.26.
 * Slices are named `<service>-<n>`, filled in a stable order, and rewritten only when
 * their content changes.
 * https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/
 */
import {
  controllerRef,
  type Endpoint,
  type EndpointSlice,
  type EndpointSlicePort,
  isNotFound,
  isPodReady,
  type Pod,
  type ResourceClient,
  type Service,
} from '@flotilla/api';
import type { ControllerContext } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler } from '../controller.ts';
import type { Informer } from '../informer/informer.ts';
import { sameJson } from '../json.ts';
import { endpointSlicesResource, keyFor, podsResource, servicesResource, splitKey } from '../resources.ts';
import {
  belongsInEndpoints,
  hasSelector,
  podIPv4,
  selectedPods,
  targetPortOf,
  watchServicesOfPods,
} from './service-pods.ts';

export const serviceNameLabel = 'kubernetes.io/service-name';
export const managedByLabel = 'endpointslice.kubernetes.io/managed-by';
export const managedBy = 'endpointslice-controller.k8s.io';
/** Kubernetes' --max-endpoints-per-slice default. */
export const defaultMaxEndpointsPerSlice = 100;

export type EndpointSliceOptions = { readonly maxEndpointsPerSlice?: number };

type Wanted = { readonly ports: EndpointSlicePort[]; readonly endpoints: Endpoint[] };

export class EndpointSliceController implements Reconciler {
  readonly name = 'endpointslice';
  private readonly services: Informer<Service>;
  private readonly pods: Informer<Pod>;
  private readonly slicesInformer: Informer<EndpointSlice>;
  private readonly slices: ResourceClient<EndpointSlice>;
  private readonly maxPerSlice: number;

  constructor(ctx: ControllerContext, options: EndpointSliceOptions = {}) {
    this.services = ctx.informers.informer<Service>(servicesResource);
    this.pods = ctx.informers.informer<Pod>(podsResource);
    this.slicesInformer = ctx.informers.informer<EndpointSlice>(endpointSlicesResource, {
      [serviceNameLabel]: (s) => {
        const svc = s.metadata.labels?.[serviceNameLabel];
        return svc === undefined || s.metadata.labels?.[managedByLabel] !== managedBy
          ? []
          : [`${s.metadata.namespace}/${svc}`];
      },
    });
    this.slices = ctx.client.resource<EndpointSlice>(endpointSlicesResource);
    this.maxPerSlice = options.maxEndpointsPerSlice ?? defaultMaxEndpointsPerSlice;
  }

  watch(enqueue: Enqueue): () => void {
    return watchServicesOfPods(this.services, this.pods, enqueue);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const service = this.services.cache.get(key);
    const existing = this.slicesInformer.cache.byIndex(serviceNameLabel, key);
    if (service === undefined || !hasSelector(service)) {
      // The garbage collector removes them too (they are owned); this is quicker.
      for (const s of existing) await this.deleteSlice(s);
      return done;
    }
    const groups = this.wantedGroups(service);
    const chunks: Wanted[] = [];
    for (const g of groups) {
      for (let i = 0; i < Math.max(1, g.endpoints.length); i += this.maxPerSlice) {
        chunks.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + this.maxPerSlice) });
      }
    }
    // An empty service keeps one empty slice, as Kubernetes does.
    if (chunks.length === 0) chunks.push({ ports: [], endpoints: [] });
    const labels = {
      ...(service.metadata.labels ?? {}),
      [serviceNameLabel]: name,
      [managedByLabel]: managedBy,
    };
    // Slices have fixed names (`<service>-<n>`), so a create from a stale cache fails as
    // AlreadyExists instead of adding a duplicate slice.
    const names = chunks.map((_, i) => `${name}-${i}`);
    for (const [i, chunk] of chunks.entries()) {
      const sliceName = names[i] ?? '';
      const current = this.slicesInformer.cache.get(keyFor(namespace, sliceName));
      if (current === undefined) {
        await this.slices.create({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: sliceName, namespace, labels, ownerReferences: [controllerRef(service)] },
          addressType: 'IPv4',
          endpoints: chunk.endpoints,
          ports: chunk.ports,
        });
      } else if (
        !sameJson(current.endpoints, chunk.endpoints) ||
        !sameJson(current.ports ?? [], chunk.ports) ||
        !sameJson(current.metadata.labels, labels)
      ) {
        await this.slices.update({
          ...current,
          metadata: { ...current.metadata, labels },
          endpoints: chunk.endpoints,
          ports: chunk.ports,
        });
      }
    }
    for (const extra of existing)
      if (!names.includes(extra.metadata.name ?? '')) await this.deleteSlice(extra);
    return done;
  }

  /** Endpoints grouped by the ports they resolve to, each group in a stable order. */
  private wantedGroups(service: Service): Wanted[] {
    const groups = new Map<string, Wanted>();
    for (const pod of selectedPods(service, this.pods)) {
      if (!belongsInEndpoints(pod, true)) continue;
      const ports: EndpointSlicePort[] = [];
      for (const sp of service.spec?.ports ?? []) {
        const port = targetPortOf(sp, pod);
        if (port === undefined) continue;
        ports.push({
          name: sp.name ?? '',
          port,
          protocol: sp.protocol ?? 'TCP',
          ...(sp.appProtocol === undefined ? {} : { appProtocol: sp.appProtocol }),
        });
      }
      const terminating = pod.metadata.deletionTimestamp !== undefined;
      const ready = isPodReady(pod) || service.spec?.publishNotReadyAddresses === true;
      const endpoint: Endpoint = {
        addresses: [podIPv4(pod) ?? ''],
        conditions: { ready: ready && !terminating, serving: ready, terminating },
        ...(pod.spec?.hostname && pod.spec.subdomain === service.metadata.name
          ? { hostname: pod.spec.hostname }
          : {}),
        ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
        targetRef: {
          kind: 'Pod',
          namespace: pod.metadata.namespace ?? '',
          name: pod.metadata.name ?? '',
          uid: pod.metadata.uid ?? '',
        },
      };
      const k = JSON.stringify(ports);
      let g = groups.get(k);
      if (g === undefined) {
        g = { ports, endpoints: [] };
        groups.set(k, g);
      }
      g.endpoints.push(endpoint);
    }
    const order = (e: Endpoint) => `${e.addresses[0] ?? ''}/${e.targetRef?.uid ?? ''}`;
    return [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]) => ({
        ports: g.ports,
        endpoints: g.endpoints.sort((a, b) => (order(a) < order(b) ? -1 : 1)),
      }));
  }

  private async deleteSlice(slice: EndpointSlice): Promise<void> {
    try {
      await this.slices.delete(slice.metadata.name ?? '', {
        namespace: slice.metadata.namespace ?? 'default',
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
