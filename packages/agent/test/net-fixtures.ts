// Service, EndpointSlice and Endpoints objects for the networking tests, as the API
// server and the endpoints controller would write them.
import type { EndpointSlice, Endpoints, Node, Protocol, Service, ServiceSpec } from '@flotilla/api';
import { serviceNameLabel } from '../src/net/service-catalog.ts';

export type PortSpec = {
  readonly name?: string;
  readonly port: number;
  readonly protocol?: Protocol;
  readonly nodePort?: number;
};

export function service(
  namespace: string,
  name: string,
  clusterIP: string,
  ports: readonly PortSpec[],
  spec: Partial<ServiceSpec> = {},
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name },
    spec: {
      clusterIP,
      type: ports.some((p) => p.nodePort !== undefined) ? 'NodePort' : 'ClusterIP',
      ports: ports.map((p) => ({
        ...(p.name === undefined ? {} : { name: p.name }),
        port: p.port,
        protocol: p.protocol ?? 'TCP',
        ...(p.nodePort === undefined ? {} : { nodePort: p.nodePort }),
      })),
      ...spec,
    },
  };
}

export type EndpointSpec = {
  readonly ip: string;
  readonly ready?: boolean;
  readonly hostname?: string;
  readonly nodeName?: string;
};

/** One EndpointSlice of a Service; `ports` are the endpoints' (target) ports. */
export function slice(
  namespace: string,
  serviceName: string,
  endpoints: readonly EndpointSpec[],
  ports: readonly PortSpec[],
  sliceName = `${serviceName}-abc12`,
): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace, name: sliceName, labels: { [serviceNameLabel]: serviceName } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      ...(e.hostname === undefined ? {} : { hostname: e.hostname }),
      ...(e.nodeName === undefined ? {} : { nodeName: e.nodeName }),
    })),
    ports: ports.map((p) => ({
      ...(p.name === undefined ? {} : { name: p.name }),
      port: p.port,
      protocol: p.protocol ?? 'TCP',
    })),
  };
}

/** The older Endpoints object: ready addresses, not-ready addresses, ports. */
export function endpoints(
  namespace: string,
  name: string,
  ready: readonly string[],
  notReady: readonly string[],
  ports: readonly PortSpec[],
): Endpoints {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { namespace, name },
    subsets: [
      {
        addresses: ready.map((ip) => ({ ip })),
        notReadyAddresses: notReady.map((ip) => ({ ip })),
        ports: ports.map((p) => ({
          ...(p.name === undefined ? {} : { name: p.name }),
          port: p.port,
          protocol: p.protocol ?? 'TCP',
        })),
      },
    ],
  };
}

export function node(name: string, podCIDR: string | undefined, internalIP: string | undefined): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: podCIDR === undefined ? {} : { podCIDR, podCIDRs: [podCIDR] },
    status:
      internalIP === undefined
        ? {}
        : {
            addresses: [
              { type: 'InternalIP', address: internalIP },
              { type: 'Hostname', address: name },
            ],
          },
  };
}
