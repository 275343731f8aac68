/**
 * coordination.k8s.io/v1 Lease: leader election and node heartbeats.
 * https://kubernetes.io/docs/concepts/architecture/leases/
 */
import type { MicroTime, ObjectMeta } from './meta.ts';

export type LeaseSpec = {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: MicroTime;
  readonly renewTime?: MicroTime;
  readonly leaseTransitions?: number;
};

export type Lease = {
  readonly apiVersion: 'coordination.k8s.io/v1';
  readonly kind: 'Lease';
  readonly metadata: ObjectMeta;
  readonly spec?: LeaseSpec;
};
