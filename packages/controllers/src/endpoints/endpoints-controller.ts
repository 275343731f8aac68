/**
 * The Endpoints controller: for each Service with a selector, an Endpoints object of the
 * same name listing the selected pods' addresses (ready ones under `addresses`, the rest
 * under `notReadyAddresses`) with the port each service port reaches on them, grouped
 * into subsets of pods that share the same ports.
 * https://kubernetes.io/docs/reference/kubernetes-api/service-resources/endpoints-v1/
 */
import {
  type EndpointAddress,
  type EndpointPort,
  type EndpointSubset,
  type Endpoints,
  isNotFound,
  type Pod,
  type ResourceClient,
  type Service,
} from '@flotilla/api';
import type { ControllerContext } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler } from '../controller.ts';
import type { Informer } from '../informer/informer.ts';
import { sameJson } from '../json.ts';
import { endpointsResource, podsResource, servicesResource, splitKey } from '../resources.ts';
import {
  belongsInEndpoints,
  countsAsReady,
  hasSelector,
  podIPv4,
  selectedPods,
  targetPortOf,
  watchServicesOfPods,
} from './service-pods.ts';

/** The label Kubernetes puts on the Endpoints of a headless Service. */
export const headlessLabel = 'service.kubernetes.io/headless';

export class EndpointsController implements Reconciler {
  readonly name = 'endpoints';
  private readonly services: Informer<Service>;
  private readonly pods: Informer<Pod>;
  private readonly endpointsInformer: Informer<Endpoints>;
  private readonly endpoints: ResourceClient<Endpoints>;

  constructor(ctx: ControllerContext) {
    this.services = ctx.informers.informer<Service>(servicesResource);
    this.pods = ctx.informers.informer<Pod>(podsResource);
    this.endpointsInformer = ctx.informers.informer<Endpoints>(endpointsResource);
    this.endpoints = ctx.client.resource<Endpoints>(endpointsResource);
  }

  watch(enqueue: Enqueue): () => void {
    return watchServicesOfPods(this.services, this.pods, enqueue);
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const service = this.services.cache.get(key);
    const current = this.endpointsInformer.cache.get(key);
    if (service === undefined) {
      if (current !== undefined) await this.ignoreGone(this.endpoints.delete(name, { namespace }));
      return done;
    }
    if (!hasSelector(service)) return done;
    const subsets = this.subsetsFor(service);
    const labels: Record<string, string> = { ...(service.metadata.labels ?? {}) };
    if (service.spec?.clusterIP === 'None') labels[headlessLabel] = '';
    const wanted: Endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace, ...(Object.keys(labels).length === 0 ? {} : { labels }) },
      ...(subsets.length === 0 ? {} : { subsets }),
    };
    if (current === undefined) {
      await this.endpoints.create(wanted);
      return done;
    }
    const same = sameJson(current.subsets ?? [], subsets) && sameJson(current.metadata.labels ?? {}, labels);
    if (!same) {
      const { subsets: _old, ...rest } = current;
      await this.endpoints.update({
        ...rest,
        metadata: { ...current.metadata, labels },
        ...(subsets.length === 0 ? {} : { subsets }),
      });
    }
    return done;
  }

  private subsetsFor(service: Service): EndpointSubset[] {
    const ports = service.spec?.ports ?? [];
    // Pods with the same resolved ports share a subset (Kubernetes' RepackSubsets).
    const groups = new Map<
      string,
      { ports: EndpointPort[]; ready: EndpointAddress[]; notReady: EndpointAddress[] }
    >();
    for (const pod of selectedPods(service, this.pods)) {
      if (!belongsInEndpoints(pod, service.spec?.publishNotReadyAddresses === true)) continue;
      const resolved: EndpointPort[] = [];
      for (const sp of ports) {
        const port = targetPortOf(sp, pod);
        if (port === undefined) continue;
        resolved.push({
          ...(sp.name === undefined ? {} : { name: sp.name }),
          port,
          protocol: sp.protocol ?? 'TCP',
          ...(sp.appProtocol === undefined ? {} : { appProtocol: sp.appProtocol }),
        });
      }
      if (ports.length > 0 && resolved.length === 0) continue;
      const address: EndpointAddress = {
        ip: podIPv4(pod) ?? '',
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
      const groupKey = JSON.stringify(resolved);
      let group = groups.get(groupKey);
      if (group === undefined) {
        group = { ports: resolved, ready: [], notReady: [] };
        groups.set(groupKey, group);
      }
      (countsAsReady(pod, service) ? group.ready : group.notReady).push(address);
    }
    const byIp = (a: EndpointAddress, b: EndpointAddress) =>
      a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : (a.targetRef?.uid ?? '') < (b.targetRef?.uid ?? '') ? -1 : 1;
    return [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]) => ({
        ...(g.ready.length === 0 ? {} : { addresses: g.ready.sort(byIp) }),
        ...(g.notReady.length === 0 ? {} : { notReadyAddresses: g.notReady.sort(byIp) }),
        ...(g.ports.length === 0 ? {} : { ports: g.ports }),
      }));
  }

  private async ignoreGone(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
