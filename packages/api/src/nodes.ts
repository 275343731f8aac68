/**
 * Node facts and the matching rules the scheduler, the node lifecycle controller and
 * the kubelet share: node conditions, taints and tolerations, node selectors and
 * required node affinity.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
 * https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
 */
import { matchesLabels, type Requirement, requirement, SelectorError } from './labels.ts';
import type {
  Node,
  NodeCondition,
  NodeConditionType,
  NodeSelector,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  Pod,
  Taint,
  TaintEffect,
  Toleration,
} from './types/core.ts';

/** The taints the node lifecycle controller puts on nodes that stop reporting. */
export const taintNodeNotReady = 'node.kubernetes.io/not-ready';
export const taintNodeUnreachable = 'node.kubernetes.io/unreachable';
export const taintNodeUnschedulable = 'node.kubernetes.io/unschedulable';
/** The taint control-plane nodes carry so ordinary pods stay off them. */
export const taintControlPlane = 'node-role.kubernetes.io/control-plane';

export function nodeCondition(node: Node, type: NodeConditionType): NodeCondition | undefined {
  return node.status?.conditions?.find((c) => c.type === type);
}

export function isNodeReady(node: Node): boolean {
  return nodeCondition(node, 'Ready')?.status === 'True';
}

/** Kubernetes' ToleratesTaint: an empty key with Exists tolerates everything. */
export function toleratesTaint(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? '') {
    case '':
    case 'Equal':
      return (toleration.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** The taints with one of `effects` that no toleration tolerates. */
export function untoleratedTaints(
  taints: readonly Taint[] | undefined,
  tolerations: readonly Toleration[] | undefined,
  effects: readonly TaintEffect[] = ['NoSchedule', 'NoExecute'],
): Taint[] {
  return (taints ?? []).filter(
    (t) => effects.includes(t.effect) && !(tolerations ?? []).some((tol) => toleratesTaint(tol, t)),
  );
}

/**
 * How long a pod may stay on a node with a NoExecute taint: undefined when it may stay
 * forever (a toleration without tolerationSeconds), 0 when it is not tolerated at all.
 */
export function tolerationSecondsFor(
  taint: Taint,
  tolerations: readonly Toleration[] | undefined,
): number | undefined {
  const matching = (tolerations ?? []).filter((t) => toleratesTaint(t, taint));
  if (matching.length === 0) return 0;
  if (matching.some((t) => t.tolerationSeconds === undefined)) return undefined;
  return Math.max(0, Math.min(...matching.map((t) => t.tolerationSeconds as number)));
}

function labelRequirement(r: NodeSelectorRequirement): Requirement {
  const ops = {
    In: 'In',
    NotIn: 'NotIn',
    Exists: 'Exists',
    DoesNotExist: 'DoesNotExist',
    Gt: 'GreaterThan',
    Lt: 'LessThan',
  } as const;
  return requirement(r.key, ops[r.operator], r.values ?? []);
}

function matchesField(r: NodeSelectorRequirement, node: Node): boolean {
  // Only metadata.name is selectable, with In or NotIn.
  if (r.key !== 'metadata.name') return false;
  const name = node.metadata.name ?? '';
  if (r.operator === 'In') return (r.values ?? []).includes(name);
  if (r.operator === 'NotIn') return !(r.values ?? []).includes(name);
  return false;
}

/** One term: all its expressions and fields hold. An empty or invalid term matches nothing. */
export function matchesNodeSelectorTerm(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  try {
    const selector = { kind: 'requirements', requirements: exprs.map(labelRequirement) } as const;
    return matchesLabels(selector, node.metadata.labels) && fields.every((f) => matchesField(f, node));
  } catch (err) {
    if (err instanceof SelectorError) return false;
    throw err;
  }
}

/** Any term matches (terms are ORed). */
export function matchesNodeSelector(selector: NodeSelector, node: Node): boolean {
  return selector.nodeSelectorTerms.some((t) => matchesNodeSelectorTerm(t, node));
}

/** The pod's nodeSelector and required node affinity both hold on this node. */
export function podFitsNodeAffinity(pod: Pod, node: Node): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(pod.spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  return required === undefined || matchesNodeSelector(required, node);
}
