/**
 * What the Endpoints and EndpointSlice controllers share: which pods back a Service,
 * which of them count as ready, and which port a service port reaches on each pod.
 * https://kubernetes.io/docs/concepts/services-networking/service/#endpoints
 */
import {
  type ContainerPort,
  isPodReady,
  isPodTerminal,
  labelSelectorFromStruct,
  matchesLabels,
  type Pod,
  type Service,
  type ServicePort,
  selectorFromSet,
} from '@flotilla/api';
import type { Enqueue } from '../controller.ts';
import { namespaceIndex } from '../informer/cache.ts';
import type { Informer } from '../informer/informer.ts';
import { sameJson } from '../json.ts';
import { keyOf } from '../resources.ts';

/** A Service the controllers manage: one with a selector (others are managed by hand). */
export function hasSelector(service: Service): boolean {
  return service.spec?.selector !== undefined && service.spec.type !== 'ExternalName';
}

/** The pods a Service selects, in its namespace. */
export function selectedPods(service: Service, pods: Informer<Pod>): Pod[] {
  const selector = selectorFromSet(service.spec?.selector ?? {});
  return pods.cache
    .byIndex(namespaceIndex, service.metadata.namespace ?? '')
    .filter((p) => matchesLabels(selector, p.metadata.labels));
}

/** The pod's IPv4 address, if it has one yet. */
export function podIPv4(pod: Pod): string | undefined {
  const ip = pod.status?.podIPs?.[0]?.ip ?? pod.status?.podIP;
  return ip !== undefined && ip !== '' && !ip.includes(':') ? ip : undefined;
}

/** Kubernetes' ShouldPodBeInEndpoints: an address, not finished, and not terminating unless asked. */
export function belongsInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (podIPv4(pod) === undefined || isPodTerminal(pod)) return false;
  return includeTerminating || pod.metadata.deletionTimestamp === undefined;
}

export function countsAsReady(pod: Pod, service: Service): boolean {
  return service.spec?.publishNotReadyAddresses === true || isPodReady(pod);
}

/** The port a service port reaches on `pod`: a number, or a named container port; undefined if none. */
export function targetPortOf(servicePort: ServicePort, pod: Pod): number | undefined {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === 'number') return target;
  const asNumber = Number(target);
  if (Number.isInteger(asNumber) && asNumber > 0) return asNumber;
  const protocol = servicePort.protocol ?? 'TCP';
  const found: ContainerPort | undefined = (pod.spec?.containers ?? [])
    .flatMap((c) => c.ports ?? [])
    .find((p) => p.name === target && (p.protocol ?? 'TCP') === protocol);
  return found?.containerPort;
}

/** Informer handlers that enqueue the Services a pod belongs to, before and after a change. */
export function watchServicesOfPods(
  services: Informer<Service>,
  pods: Informer<Pod>,
  enqueue: Enqueue,
): () => void {
  const offServices = services.addHandler({
    onAdd: (s) => enqueue.add(keyOf(s)),
    onUpdate: (_, s) => enqueue.add(keyOf(s)),
    onDelete: (s) => enqueue.add(keyOf(s)),
  });
  const enqueueFor = (pod: Pod) => {
    for (const s of services.cache.byIndex(namespaceIndex, pod.metadata.namespace ?? '')) {
      if (!hasSelector(s)) continue;
      if (
        matchesLabels(labelSelectorFromStruct({ matchLabels: s.spec?.selector ?? {} }), pod.metadata.labels)
      ) {
        enqueue.add(keyOf(s));
      }
    }
  };
  const offPods = pods.addHandler({
    onAdd: enqueueFor,
    onUpdate: (prev, pod) => {
      if (prev.metadata.resourceVersion === pod.metadata.resourceVersion && prev !== pod) return;
      enqueueFor(prev);
      if (!sameJson(prev.metadata.labels, pod.metadata.labels)) enqueueFor(pod);
    },
    onDelete: enqueueFor,
  });
  return () => {
    offServices();
    offPods();
  };
}
