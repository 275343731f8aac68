/**
 * The node heartbeat kubelet sends since Kubernetes 1.17: a Lease named after the node in
 * `kube-node-lease`, owned by the Node, whose renewTime the node lifecycle controller
 * reads. https://kubernetes.io/docs/concepts/architecture/nodes/#node-heartbeats
 */
import {
  isAlreadyExists,
  isConflict,
  isNotFound,
  type Lease,
  microTimeFromMs,
  type ResourceClient,
  type ResourceRef,
} from '@flotilla/api';

export const leasesResource: ResourceRef = {
  group: 'coordination.k8s.io',
  version: 'v1',
  resource: 'leases',
};
export const nodeLeaseNamespace = 'kube-node-lease';
/** Kubelet's defaults: renew every 10 s, a lease lasts 40 s (nodeLeaseDurationSeconds). */
export const defaultLeaseRenewIntervalMs = 10_000;
export const defaultLeaseDurationSeconds = 40;
/** Attempts of one renewal that keeps meeting a newer version of the Lease. */
const maxLeaseConflictRetries = 3;

export function nodeLeaseObject(
  node: string,
  nodeUid: string,
  durationSeconds: number,
  nowMs: number,
): Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: node,
      namespace: nodeLeaseNamespace,
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid: nodeUid }],
    },
    spec: { holderIdentity: node, leaseDurationSeconds: durationSeconds, renewTime: microTimeFromMs(nowMs) },
  };
}

/**
 * Renews (or creates) the node's Lease and returns its new version. `last` is the
 * version this node wrote before, so a renewal is usually one update; a conflict or a
 * missing Lease reads or creates it again.
 */
export async function renewNodeLease(
  leases: ResourceClient<Lease>,
  wanted: Lease,
  last: Lease | undefined,
): Promise<Lease> {
  let current = last;
  for (let attempt = 0; ; attempt++) {
    if (current === undefined) {
      try {
        return await leases.create(wanted);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        current = await leases.get(wanted.metadata.name ?? '', nodeLeaseNamespace);
      }
    }
    try {
      return await leases.update({
        ...current,
        metadata: { ...current.metadata, ownerReferences: wanted.metadata.ownerReferences ?? [] },
        spec: { ...current.spec, ...wanted.spec },
      });
    } catch (err) {
      if ((!isConflict(err) && !isNotFound(err)) || attempt === maxLeaseConflictRetries) throw err;
      current = undefined;
    }
  }
}
