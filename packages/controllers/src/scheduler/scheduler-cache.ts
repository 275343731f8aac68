/**
 * The scheduler's picture of the cluster (Kubernetes' scheduler cache): nodes with the
 * pods bound to them, plus pods it has assumed onto a node while their binding is in
 * flight, so the next pod is not placed on capacity that is already promised. An
 * assumed pod becomes an ordinary one when the informer shows it bound, and is forgotten
 * if its binding fails.
 *
 * Pod (anti-)affinity needs, per topology domain, how many pods match a term. Scanning
 * every pod for every scheduling cycle would cost O(pods); instead two indexes are kept
 * up to date as pods come and go: the required anti-affinity terms of placed pods with
 * the domains they occupy, and (for terms incoming pods ask about) the count of matching
 * pods per domain, kept for the most recently used terms.
 */
import type { Node, Pod } from '@flotilla/api';
import { sameJson } from '../json.ts';
import { NodeInfo } from './node-info.ts';
import { type AffinityTerm, type PodInfo, podInfoOf, termMatches } from './pod-info.ts';

/** Per topology value, how many pods match a term; and how many match in all. */
export type TermCounts = {
  readonly term: AffinityTerm;
  readonly byValue: Map<string, number>;
  total: number;
};

/** Terms whose matching-pod counts are kept; the least recently used is dropped beyond it. */
export const maxTrackedAffinityTerms = 256;

type Placement = { readonly node: string; readonly info: PodInfo; assumed: boolean };

export class SchedulerCache {
  private readonly nodeInfos = new Map<string, NodeInfo>();
  private nodeOrder: NodeInfo[] = [];
  private readonly placements = new Map<string, Placement>();
  /** Placements on nodes not seen yet, by node name. */
  private readonly waiting = new Map<string, Placement[]>();
  /** Required anti-affinity terms of placed pods, by term key. */
  private readonly antiTerms = new Map<string, TermCounts>();
  /** Matching-pod counts of terms incoming pods asked about, most recently used last. */
  private readonly tracked = new Map<string, TermCounts>();

  get nodes(): readonly NodeInfo[] {
    return this.nodeOrder;
  }

  node(name: string): NodeInfo | undefined {
    return this.nodeInfos.get(name);
  }

  get podCount(): number {
    return this.placements.size;
  }

  isAssumed(podKey: string): boolean {
    return this.placements.get(podKey)?.assumed === true;
  }

  placementOf(podKey: string): string | undefined {
    return this.placements.get(podKey)?.node;
  }

  // ---- nodes ---------------------------------------------------------------------------------

  setNode(node: Node): void {
    const name = node.metadata.name ?? '';
    const existing = this.nodeInfos.get(name);
    if (existing === undefined) {
      this.nodeInfos.set(name, new NodeInfo(node));
      this.nodeOrder = [...this.nodeInfos.values()];
      // Pods bound before their node was seen.
      for (const p of this.waiting.get(name) ?? []) if (this.placements.get(p.info.key) === p) this.place(p);
      this.waiting.delete(name);
      return;
    }
    const labelsChanged = !sameJson(existing.node.metadata.labels, node.metadata.labels);
    if (labelsChanged) for (const info of existing.pods.values()) this.index(info, existing, -1);
    existing.setNode(node);
    if (labelsChanged) for (const info of existing.pods.values()) this.index(info, existing, 1);
  }

  removeNode(name: string): void {
    const info = this.nodeInfos.get(name);
    if (info === undefined) return;
    for (const p of info.pods.values()) this.index(p, info, -1);
    this.nodeInfos.delete(name);
    this.nodeOrder = [...this.nodeInfos.values()];
  }

  // ---- pods ----------------------------------------------------------------------------------

  /** A pod the informer shows bound to a node (confirms an assumed one). */
  setBoundPod(pod: Pod): void {
    const node = pod.spec?.nodeName;
    if (!node) return;
    const key = `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
    const prev = this.placements.get(key);
    // What a PodInfo holds of the spec (requests, ports, affinity) cannot change once the
    // pod exists; only labels can. Reuse it instead of parsing the requests again.
    const info =
      prev !== undefined &&
      prev.info.pod.metadata.uid === pod.metadata.uid &&
      sameJson(prev.info.pod.metadata.labels, pod.metadata.labels)
        ? { ...prev.info, pod }
        : podInfoOf(pod);
    if (prev !== undefined) this.unplace(prev);
    const placement: Placement = { node, info, assumed: false };
    this.placements.set(info.key, placement);
    this.place(placement);
  }

  /** Places `info` on `node` ahead of its binding. */
  assume(info: PodInfo, node: string): void {
    const prev = this.placements.get(info.key);
    if (prev !== undefined) this.unplace(prev);
    const placement: Placement = { node, info, assumed: true };
    this.placements.set(info.key, placement);
    this.place(placement);
  }

  /** Drops a pod (deleted, or an assumed pod whose binding failed). */
  removePod(podKey: string): void {
    const prev = this.placements.get(podKey);
    if (prev === undefined) return;
    this.placements.delete(podKey);
    this.unplace(prev);
  }

  /** Drops an assumed pod only (a bound one stays). */
  forget(podKey: string): void {
    if (this.placements.get(podKey)?.assumed === true) this.removePod(podKey);
  }

  // ---- affinity indexes -------------------------------------------------------------------------

  /** The anti-affinity terms of placed pods, with the topology values they occupy. */
  antiAffinityTerms(): IterableIterator<TermCounts> {
    return this.antiTerms.values();
  }

  /** How many placed pods match `term` in each topology value (kept up to date from now on). */
  countsFor(term: AffinityTerm): TermCounts {
    let counts = this.tracked.get(term.key);
    if (counts !== undefined) {
      this.tracked.delete(term.key);
      this.tracked.set(term.key, counts);
      return counts;
    }
    counts = { term, byValue: new Map(), total: 0 };
    for (const p of this.placements.values()) {
      const n = this.nodeInfos.get(p.node);
      if (n !== undefined && termMatches(term, p.info.pod)) add(counts, n.labels[term.topologyKey], 1);
    }
    this.tracked.set(term.key, counts);
    if (this.tracked.size > maxTrackedAffinityTerms) {
      const oldest = this.tracked.keys().next().value;
      if (oldest !== undefined) this.tracked.delete(oldest);
    }
    return counts;
  }

  private place(p: Placement): void {
    const n = this.nodeInfos.get(p.node);
    if (n === undefined) {
      const list = this.waiting.get(p.node) ?? [];
      list.push(p);
      this.waiting.set(p.node, list);
      return;
    }
    n.addPod(p.info);
    this.index(p.info, n, 1);
  }

  private unplace(p: Placement): void {
    const n = this.nodeInfos.get(p.node);
    if (n === undefined || n.removePod(p.info.key) === undefined) return;
    this.index(p.info, n, -1);
  }

  private index(info: PodInfo, n: NodeInfo, sign: 1 | -1): void {
    for (const term of info.requiredAntiAffinity) {
      let counts = this.antiTerms.get(term.key);
      if (counts === undefined) {
        if (sign < 0) continue;
        counts = { term, byValue: new Map(), total: 0 };
        this.antiTerms.set(term.key, counts);
      }
      add(counts, n.labels[term.topologyKey], sign);
      if (counts.total <= 0) this.antiTerms.delete(term.key);
    }
    for (const counts of this.tracked.values()) {
      if (termMatches(counts.term, info.pod)) add(counts, n.labels[counts.term.topologyKey], sign);
    }
  }
}

function add(counts: TermCounts, value: string | undefined, delta: number): void {
  counts.total += delta;
  if (value === undefined) return;
  const n = (counts.byValue.get(value) ?? 0) + delta;
  if (n <= 0) counts.byValue.delete(value);
  else counts.byValue.set(value, n);
}
