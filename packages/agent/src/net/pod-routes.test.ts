import { describe, expect, it } from 'vitest';
import { node } from '../../test/net-fixtures.ts';
import { desiredPodRoutes, nodePodNetworks, planPodRoutes } from './pod-routes.ts';
import type { Route } from './routes.ts';

const nodes = [
  node('b', '10.244.2.0/24', '10.99.0.3'),
  node('a', '10.244.1.0/24', '10.99.0.2'),
  node('c', '10.244.3.0/24', '10.99.0.4'),
];

describe('host-gateway pod routes', () => {
  it('routes every other node’s pod CIDR through that node’s address, sorted', () => {
    const { networks } = nodePodNetworks(nodes);
    expect(desiredPodRoutes(networks, 'a')).toEqual([
      { kind: 'via', dst: '10.244.2.0/24', gateway: '10.99.0.3' },
      { kind: 'via', dst: '10.244.3.0/24', gateway: '10.99.0.4' },
    ]);
    expect(desiredPodRoutes(networks, 'unknown')).toHaveLength(3);
  });

  it('leaves out nodes without a pod CIDR or an address, and the second of two overlapping CIDRs', () => {
    const { networks, problems } = nodePodNetworks([
      ...nodes,
      node('d', undefined, '10.99.0.5'),
      node('e', '10.244.5.0/24', undefined),
      node('f', '10.244.2.128/25', '10.99.0.7'),
      node('g', 'fd00::/64', '10.99.0.8'),
    ]);
    expect(networks.map((n) => n.node)).toEqual(['a', 'b', 'c']);
    expect(problems).toEqual([
      { node: 'd', reason: 'no IPv4 pod CIDR' },
      { node: 'e', reason: 'no IPv4 InternalIP' },
      { node: 'f', reason: "pod CIDR 10.244.2.128/25 overlaps node b's 10.244.2.0/24" },
      { node: 'g', reason: 'no IPv4 pod CIDR' },
    ]);
  });

  it('plans only the difference, replacing a route whose gateway moved, ignoring routes of other kinds', () => {
    const installed: Route[] = [
      { kind: 'via', dst: '10.244.2.0/24', gateway: '10.99.0.3' },
      { kind: 'via', dst: '10.244.3.0/24', gateway: '10.99.0.44' },
      { kind: 'via', dst: '10.244.9.0/24', gateway: '10.99.0.9' },
      { kind: 'blackhole', dst: '10.244.0.0/16', metric: 4096 },
      { kind: 'device', dst: '10.96.0.0/16', dev: 'flosvcsink', metric: 4096 },
    ];
    const desired = desiredPodRoutes(nodePodNetworks(nodes).networks, 'a');
    expect(planPodRoutes(desired, installed)).toEqual({
      add: [{ kind: 'via', dst: '10.244.3.0/24', gateway: '10.99.0.4' }],
      remove: [
        { kind: 'via', dst: '10.244.3.0/24', gateway: '10.99.0.44' },
        { kind: 'via', dst: '10.244.9.0/24', gateway: '10.99.0.9' },
      ],
    });
    expect(planPodRoutes(desired, desired)).toEqual({ add: [], remove: [] });
  });
});
