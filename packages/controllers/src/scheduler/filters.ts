/**
 * The scheduler's filters, in Kubernetes' default order, each answering for one node
 * whether the pod fits and, if not, why, in the words Kubernetes uses (they are what
 * users read in FailedScheduling events and search for):
 * NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
 * NodeResourcesFit, InterPodAffinity.
 * https://kubernetes.io/docs/reference/scheduling/config/#scheduling-plugins
 */
import {
  podFitsNodeAffinity,
  type Taint,
  type Toleration,
  taintNodeUnschedulable,
  toleratesTaint,
} from '@flotilla/api';
import type { NodeInfo } from './node-info.ts';
import { type PodInfo, termMatches } from './pod-info.ts';
import type { SchedulerCache, TermCounts } from './scheduler-cache.ts';

export const reasons = {
  unschedulable: 'node(s) were unschedulable',
  nodeName: "node(s) didn't match the requested node name",
  nodeAffinity: "node(s) didn't match Pod's node affinity/selector",
  hostPorts: "node(s) didn't have free ports for the requested pod ports",
  tooManyPods: 'Too many pods',
  podAffinity: "node(s) didn't match pod affinity rules",
  podAntiAffinity: "node(s) didn't match pod anti-affinity rules",
  existingAntiAffinity: "node(s) didn't satisfy existing pods anti-affinity rules",
} as const;

export const insufficient = (resource: string): string => `Insufficient ${resource}`;
export const untoleratedTaint = (t: Taint): string =>
  `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`;

/** What the filters of one scheduling cycle share, computed once per pod (PreFilter). */
export type CycleState = {
  readonly info: PodInfo;
  readonly tolerations: readonly Toleration[];
  readonly affinity: readonly TermCounts[];
  readonly antiAffinity: readonly TermCounts[];
  /** Topology values existing pods' anti-affinity keeps this pod out of, by topology key. */
  readonly forbidden: ReadonlyMap<string, ReadonlySet<string>>;
  /** No pod matches the pod's affinity terms yet, and it matches them itself: it may start the group. */
  readonly firstOfGroup: boolean;
  /**
   * Node affinity depends only on the node labels the pod's selector names, so nodes that
   * agree on those share one answer (1,000 nodes in 4 zones: 4 evaluations, not 1,000).
   * Undefined when a term selects by field (the node's name), which every node differs in.
   */
  readonly nodeAffinityKeys: readonly string[] | undefined;
  readonly nodeAffinityMemo: Map<string, boolean>;
};

/** The label keys the pod's nodeSelector and required node affinity look at (undefined: by field). */
function nodeAffinityKeysOf(info: PodInfo): readonly string[] | undefined {
  const keys = new Set(Object.keys(info.pod.spec?.nodeSelector ?? {}));
  const required = info.pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  for (const term of required?.nodeSelectorTerms ?? []) {
    if ((term.matchFields ?? []).length > 0) return undefined;
    for (const e of term.matchExpressions ?? []) keys.add(e.key);
  }
  return [...keys].sort();
}

export function preFilter(cache: SchedulerCache, info: PodInfo): CycleState {
  const affinity = info.requiredAffinity.map((t) => cache.countsFor(t));
  const antiAffinity = info.requiredAntiAffinity.map((t) => cache.countsFor(t));
  const forbidden = new Map<string, Set<string>>();
  for (const counts of cache.antiAffinityTerms()) {
    if (counts.byValue.size === 0 || !termMatches(counts.term, info.pod)) continue;
    let values = forbidden.get(counts.term.topologyKey);
    if (values === undefined) {
      values = new Set();
      forbidden.set(counts.term.topologyKey, values);
    }
    for (const v of counts.byValue.keys()) values.add(v);
  }
  const firstOfGroup =
    affinity.every((c) => c.total === 0) && info.requiredAffinity.every((t) => termMatches(t, info.pod));
  return {
    info,
    tolerations: info.pod.spec?.tolerations ?? [],
    affinity,
    antiAffinity,
    forbidden,
    firstOfGroup,
    nodeAffinityKeys: nodeAffinityKeysOf(info),
    nodeAffinityMemo: new Map(),
  };
}

const unschedulableTaint: Taint = { key: taintNodeUnschedulable, effect: 'NoSchedule' };

/** The reasons `node` cannot take the pod (those of the first filter that fails), or none. */
export function filter(state: CycleState, node: NodeInfo): readonly string[] {
  const pod = state.info.pod;
  // NodeUnschedulable
  if (
    node.node.spec?.unschedulable === true &&
    !state.tolerations.some((t) => toleratesTaint(t, unschedulableTaint))
  ) {
    return [reasons.unschedulable];
  }
  // NodeName
  const wanted = pod.spec?.nodeName;
  if (wanted && wanted !== node.name) return [reasons.nodeName];
  // TaintToleration: the first NoSchedule or NoExecute taint not tolerated.
  for (const taint of node.hardTaints) {
    if (!state.tolerations.some((t) => toleratesTaint(t, taint))) return [untoleratedTaint(taint)];
  }
  // NodeAffinity
  if (!fitsNodeAffinity(state, node)) return [reasons.nodeAffinity];
  // NodePorts
  for (const p of state.info.hostPorts) {
    const clash = node.hostPorts.some(
      (q) =>
        q.port === p.port &&
        q.protocol === p.protocol &&
        (q.ip === p.ip || q.ip === '0.0.0.0' || p.ip === '0.0.0.0'),
    );
    if (clash) return [reasons.hostPorts];
  }
  // NodeResourcesFit: every resource short is reported.
  const short = resourcesShort(state.info, node);
  if (short.length > 0) return short;
  // InterPodAffinity: the pod's affinity, its anti-affinity, then existing pods' anti-affinity.
  if (state.affinity.length > 0) {
    let everyTermMet = true;
    for (const counts of state.affinity) {
      const v = node.labels[counts.term.topologyKey];
      if (v === undefined) return [reasons.podAffinity];
      if ((counts.byValue.get(v) ?? 0) === 0) everyTermMet = false;
    }
    if (!everyTermMet && !state.firstOfGroup) return [reasons.podAffinity];
  }
  for (const counts of state.antiAffinity) {
    const v = node.labels[counts.term.topologyKey];
    if (v !== undefined && (counts.byValue.get(v) ?? 0) > 0) return [reasons.podAntiAffinity];
  }
  for (const [key, values] of state.forbidden) {
    const v = node.labels[key];
    if (v !== undefined && values.has(v)) return [reasons.existingAntiAffinity];
  }
  return [];
}

function fitsNodeAffinity(state: CycleState, node: NodeInfo): boolean {
  const keys = state.nodeAffinityKeys;
  if (keys === undefined) return podFitsNodeAffinity(state.info.pod, node.node);
  if (keys.length === 0) return true;
  const labels = node.labels;
  const projection = keys.map((k) => (Object.hasOwn(labels, k) ? `=${labels[k]}` : '!')).join('\u0000');
  let fits = state.nodeAffinityMemo.get(projection);
  if (fits === undefined) {
    fits = podFitsNodeAffinity(state.info.pod, node.node);
    state.nodeAffinityMemo.set(projection, fits);
  }
  return fits;
}

function resourcesShort(info: PodInfo, node: NodeInfo): string[] {
  const out: string[] = [];
  if (node.pods.size + 1 > node.allocatablePods) out.push(reasons.tooManyPods);
  const r = info.requests;
  if (r.milliCpu > 0 && r.milliCpu > node.allocatableMilliCpu - node.requestedMilliCpu)
    out.push(insufficient('cpu'));
  if (r.memory > 0 && r.memory > node.allocatableMemory - node.requestedMemory)
    out.push(insufficient('memory'));
  for (const [name, amount] of r.scalar) {
    if (amount <= 0) continue;
    const free = (node.allocatableScalar.get(name) ?? 0) - (node.requestedScalar.get(name) ?? 0);
    if (amount > free) out.push(insufficient(name));
  }
  return out;
}

/**
 * Kubernetes' FitError message: `0/3 nodes are available: 1 node(s) had untolerated
 * taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu.` — each reason
 * with the number of nodes that gave it, sorted.
 */
export function failureMessage(
  totalNodes: number,
  reasonsByNode: ReadonlyMap<string, readonly string[]>,
): string {
  const histogram = new Map<string, number>();
  for (const rs of reasonsByNode.values()) for (const r of rs) histogram.set(r, (histogram.get(r) ?? 0) + 1);
  const parts = [...histogram.entries()].map(([r, n]) => `${n} ${r}`).sort();
  const head = `0/${totalNodes} nodes are available`;
  return parts.length === 0 ? `${head}.` : `${head}: ${parts.join(', ')}.`;
}
