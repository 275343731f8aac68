/** autoscaling/v1 Scale: the `scale` subresource of Deployments and ReplicaSets. */
import type { ObjectMeta } from './meta.ts';

export type Scale = {
  readonly apiVersion: 'autoscaling/v1';
  readonly kind: 'Scale';
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly replicas?: number };
  /** `selector` is the label selector of the pods, in its string form (`app=web`). */
  readonly status?: { readonly replicas: number; readonly selector?: string };
};
