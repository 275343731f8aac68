/**
 * What the scheduler reads from a pod, computed once per pod version: its requests as
 * plain numbers (millicores, bytes, a pod slot, other resources in thousandths), the
 * requests Kubernetes scores with (a container without requests counts as 100m and
 * 200 MB there), its host ports, and its affinity terms with parsed selectors.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/resource-bin-packing/
 */
import {
  labelSelectorFromStruct,
  matchesLabels,
  nothing,
  type Pod,
  type PodAffinityTerm,
  parseQuantity,
  podRequests,
  quantityMilliValue,
  quantityValue,
  type Selector,
  SelectorError,
} from '@flotilla/api';
import { canonicalJson } from '../json.ts';

/** Kubernetes' DefaultMilliCPURequest and DefaultMemoryRequest, used only for scoring. */
export const defaultMilliCpuForScoring = 100;
export const defaultMemoryForScoring = 200 * 1024 * 1024;

export type Resources = {
  readonly milliCpu: number;
  readonly memory: number;
  /** Other resources (ephemeral-storage, extended resources) in thousandths. */
  readonly scalar: ReadonlyMap<string, number>;
};

export const noResources: Resources = { milliCpu: 0, memory: 0, scalar: new Map() };

/** One pod affinity term, resolved: the namespaces it looks at and its selector. */
export type AffinityTerm = {
  readonly topologyKey: string;
  readonly namespaces: ReadonlySet<string>;
  readonly selector: Selector;
  /** Identifies equal terms across pods (selector, namespaces, topology key). */
  readonly key: string;
};

export type WeightedTerm = { readonly weight: number; readonly term: AffinityTerm };

export type HostPort = { readonly protocol: string; readonly ip: string; readonly port: number };

export type PodInfo = {
  readonly pod: Pod;
  readonly key: string;
  readonly requests: Resources;
  readonly scoringRequests: { readonly milliCpu: number; readonly memory: number };
  readonly hostPorts: readonly HostPort[];
  readonly requiredAffinity: readonly AffinityTerm[];
  readonly requiredAntiAffinity: readonly AffinityTerm[];
  readonly preferredAffinity: readonly WeightedTerm[];
  readonly preferredAntiAffinity: readonly WeightedTerm[];
  /** The uid of the pod's controller (ReplicaSet, ...), for spreading its pods. */
  readonly controllerUid: string | undefined;
};

function resolveTerm(term: PodAffinityTerm, podNamespace: string): AffinityTerm {
  const namespaces = new Set(
    term.namespaces !== undefined && term.namespaces.length > 0 ? term.namespaces : [podNamespace],
  );
  let selector: Selector;
  try {
    // A term without a selector matches no pod, as Kubernetes defines it.
    selector = term.labelSelector === undefined ? nothing : labelSelectorFromStruct(term.labelSelector);
  } catch (err) {
    if (!(err instanceof SelectorError)) throw err;
    selector = nothing;
  }
  const key = canonicalJson({
    s: term.labelSelector ?? null,
    n: [...namespaces].sort(),
    t: term.topologyKey,
  });
  return { topologyKey: term.topologyKey, namespaces, selector, key };
}

export function podInfoOf(pod: Pod): PodInfo {
  const amounts = podRequests(pod.spec);
  let milliCpu = 0;
  let memory = 0;
  const scalar = new Map<string, number>();
  for (const [name, q] of amounts) {
    if (name === 'cpu') milliCpu = quantityMilliValue(q);
    else if (name === 'memory') memory = quantityValue(q);
    else scalar.set(name, quantityMilliValue(q));
  }
  // Scoring counts each container with its request, or the default where it has none.
  let scoreCpu = 0;
  let scoreMemory = 0;
  for (const c of pod.spec?.containers ?? []) {
    const r = c.resources?.requests;
    scoreCpu += r?.cpu !== undefined ? quantityMilliValue(parseQuantity(r.cpu)) : defaultMilliCpuForScoring;
    scoreMemory += r?.memory !== undefined ? quantityValue(parseQuantity(r.memory)) : defaultMemoryForScoring;
  }
  const hostPorts: HostPort[] = [];
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (p.hostPort !== undefined && p.hostPort > 0) {
        hostPorts.push({ protocol: p.protocol ?? 'TCP', ip: p.hostIP ?? '0.0.0.0', port: p.hostPort });
      }
    }
  }
  const ns = pod.metadata.namespace ?? 'default';
  const affinity = pod.spec?.affinity;
  const weighted = (terms: readonly { weight: number; podAffinityTerm: PodAffinityTerm }[] | undefined) =>
    (terms ?? []).map((t) => ({ weight: t.weight, term: resolveTerm(t.podAffinityTerm, ns) }));
  const controller = pod.metadata.ownerReferences?.find((r) => r.controller === true);
  return {
    pod,
    key: `${ns}/${pod.metadata.name ?? ''}`,
    requests: { milliCpu, memory, scalar },
    scoringRequests: { milliCpu: scoreCpu, memory: scoreMemory },
    hostPorts,
    requiredAffinity: (affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) =>
      resolveTerm(t, ns),
    ),
    requiredAntiAffinity: (
      affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []
    ).map((t) => resolveTerm(t, ns)),
    preferredAffinity: weighted(affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution),
    preferredAntiAffinity: weighted(
      affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
    ),
    controllerUid: controller?.uid,
  };
}

/** The term selects `pod`: in one of its namespaces, with matching labels. */
export function termMatches(term: AffinityTerm, pod: Pod): boolean {
  return (
    term.namespaces.has(pod.metadata.namespace ?? 'default') &&
    matchesLabels(term.selector, pod.metadata.labels)
  );
}
