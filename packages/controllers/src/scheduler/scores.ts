/**
 * The scheduler's scores: each rates every feasible node from 0 to 100 and has a weight
 * (Kubernetes' defaults); the node with the highest weighted sum wins.
 * - NodeResourcesFit (LeastAllocated, weight 1): more room left for cpu and memory;
 * - NodeResourcesBalancedAllocation (1): cpu and memory used in equal shares;
 * - NodeAffinity (2): weights of the preferred node affinity terms that match;
 * - TaintToleration (3): fewer PreferNoSchedule taints the pod does not tolerate;
 * - InterPodAffinity (2): preferred pod affinity (+weight) and anti-affinity (−weight)
 *   for each matching pod in the node's topology domain;
 * - SelectorSpread (2): fewer pods of the same controller already on the node.
 * https://kubernetes.io/docs/reference/scheduling/config/#scheduling-plugins
 */
import { matchesNodeSelectorTerm, toleratesTaint } from '@flotilla/api';
import type { CycleState } from './filters.ts';
import type { NodeInfo } from './node-info.ts';
import type { SchedulerCache } from './scheduler-cache.ts';

export const maxNodeScore = 100;

export type ScoreWeights = {
  readonly leastAllocated: number;
  readonly balancedAllocation: number;
  readonly nodeAffinity: number;
  readonly taintToleration: number;
  readonly interPodAffinity: number;
  readonly selectorSpread: number;
};

export const defaultScoreWeights: ScoreWeights = {
  leastAllocated: 1,
  balancedAllocation: 1,
  nodeAffinity: 2,
  taintToleration: 3,
  interPodAffinity: 2,
  selectorSpread: 2,
};

export function leastAllocated(state: CycleState, node: NodeInfo): number {
  const cpu = room(node.allocatableMilliCpu, node.scoringMilliCpu + state.info.scoringRequests.milliCpu);
  const memory = room(node.allocatableMemory, node.scoringMemory + state.info.scoringRequests.memory);
  return Math.floor((cpu + memory) / 2);
}

function room(capacity: number, requested: number): number {
  if (capacity <= 0 || requested > capacity) return 0;
  return ((capacity - requested) * maxNodeScore) / capacity;
}

export function balancedAllocation(state: CycleState, node: NodeInfo): number {
  const share = (capacity: number, requested: number) =>
    capacity <= 0 ? 1 : Math.min(1, requested / capacity);
  const cpu = share(node.allocatableMilliCpu, node.scoringMilliCpu + state.info.scoringRequests.milliCpu);
  const memory = share(node.allocatableMemory, node.scoringMemory + state.info.scoringRequests.memory);
  // With two resources the standard deviation of the shares is half their difference.
  return Math.floor((1 - Math.abs(cpu - memory) / 2) * maxNodeScore);
}

/** Raw scores; normalized across nodes afterwards. */
export function preferredNodeAffinity(state: CycleState, node: NodeInfo): number {
  let sum = 0;
  for (const t of state.info.pod.spec?.affinity?.nodeAffinity
    ?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (matchesNodeSelectorTerm(t.preference, node.node)) sum += t.weight;
  }
  return sum;
}

export function intolerablePreferNoSchedule(state: CycleState, node: NodeInfo): number {
  let count = 0;
  for (const taint of node.softTaints) if (!state.tolerations.some((t) => toleratesTaint(t, taint))) count++;
  return count;
}

export function preferredPodAffinity(state: CycleState, node: NodeInfo, cache: SchedulerCache): number {
  let sum = 0;
  for (const { weight, term } of state.info.preferredAffinity) {
    const v = node.labels[term.topologyKey];
    if (v !== undefined) sum += weight * (cache.countsFor(term).byValue.get(v) ?? 0);
  }
  for (const { weight, term } of state.info.preferredAntiAffinity) {
    const v = node.labels[term.topologyKey];
    if (v !== undefined) sum -= weight * (cache.countsFor(term).byValue.get(v) ?? 0);
  }
  return sum;
}

export function controllerPodsOn(state: CycleState, node: NodeInfo): number {
  const uid = state.info.controllerUid;
  return uid === undefined ? 0 : (node.controllerPods.get(uid) ?? 0);
}

/** Scales raw scores to 0..100 by the highest (or, reversed, so the lowest gets 100). */
export function normalize(raw: Float64Array, reverse: boolean): void {
  let max = 0;
  for (const v of raw) if (v > max) max = v;
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i] ?? 0;
    if (max === 0) raw[i] = reverse ? maxNodeScore : 0;
    else raw[i] = reverse ? maxNodeScore - (v * maxNodeScore) / max : (v * maxNodeScore) / max;
  }
}

/** Scales scores that may be negative to 0..100 between the lowest and the highest. */
export function normalizeRange(raw: Float64Array): void {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of raw) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  for (let i = 0; i < raw.length; i++) {
    raw[i] = max === min ? 0 : (((raw[i] ?? 0) - min) * maxNodeScore) / (max - min);
  }
}

/** The weighted total score of every feasible node, in the order given. */
export function scoreNodes(
  state: CycleState,
  nodes: readonly NodeInfo[],
  cache: SchedulerCache,
  weights: ScoreWeights,
): Float64Array {
  const n = nodes.length;
  const total = new Float64Array(n);
  const column = new Float64Array(n);
  const addColumn = (weight: number) => {
    for (let i = 0; i < n; i++) total[i] = (total[i] ?? 0) + weight * (column[i] ?? 0);
  };
  for (let i = 0; i < n; i++) column[i] = leastAllocated(state, nodes[i]!);
  addColumn(weights.leastAllocated);
  for (let i = 0; i < n; i++) column[i] = balancedAllocation(state, nodes[i]!);
  addColumn(weights.balancedAllocation);
  if (
    (state.info.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [])
      .length > 0
  ) {
    for (let i = 0; i < n; i++) column[i] = preferredNodeAffinity(state, nodes[i]!);
    normalize(column, false);
    addColumn(weights.nodeAffinity);
  }
  for (let i = 0; i < n; i++) column[i] = intolerablePreferNoSchedule(state, nodes[i]!);
  normalize(column, true);
  addColumn(weights.taintToleration);
  if (state.info.preferredAffinity.length + state.info.preferredAntiAffinity.length > 0) {
    for (let i = 0; i < n; i++) column[i] = preferredPodAffinity(state, nodes[i]!, cache);
    normalizeRange(column);
    addColumn(weights.interPodAffinity);
  }
  if (state.info.controllerUid !== undefined) {
    for (let i = 0; i < n; i++) column[i] = controllerPodsOn(state, nodes[i]!);
    normalize(column, true);
    addColumn(weights.selectorSpread);
  }
  return total;
}
