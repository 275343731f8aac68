/**
 * discovery.k8s.io/v1 EndpointSlice.
 * https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/
 */
import type { ObjectReference, Protocol } from './core.ts';
import type { ObjectMeta } from './meta.ts';

export type EndpointConditions = {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
};

export type Endpoint = {
  readonly addresses: readonly string[];
  readonly conditions?: EndpointConditions;
  readonly hostname?: string;
  readonly targetRef?: ObjectReference;
  readonly nodeName?: string;
  readonly zone?: string;
};

export type EndpointSlicePort = {
  readonly name?: string;
  readonly protocol?: Protocol;
  readonly port?: number;
  readonly appProtocol?: string;
};

export type EndpointSlice = {
  readonly apiVersion: 'discovery.k8s.io/v1';
  readonly kind: 'EndpointSlice';
  readonly metadata: ObjectMeta;
  readonly addressType: 'IPv4' | 'IPv6' | 'FQDN';
  readonly endpoints: readonly Endpoint[];
  readonly ports?: readonly EndpointSlicePort[];
};
