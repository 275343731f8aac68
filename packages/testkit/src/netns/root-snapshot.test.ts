import { describe, expect, it } from 'vitest';
import { diffSnapshots, type RootNetworkSnapshot, unrelatedTo } from './root-snapshot.ts';

const empty: RootNetworkSnapshot = {
  routes: [],
  rules: [],
  iptables: [],
  links: [],
  netns: [],
  etcNetns: [],
};

describe('root network snapshots', () => {
  const unrelated = unrelatedTo({ prefixes: ['flx-'], ranges: ['10.210.0.0/16'] });

  it('reports what a test could have left behind or removed', () => {
    const after: RootNetworkSnapshot = {
      ...empty,
      routes: ['blackhole 10.210.0.0/16 proto 241 metric 4096', '10.212.0.0/24 dev flx-up proto kernel'],
      links: ['flx-up'],
      netns: ['flx-a'],
      iptables: ['-A PREROUTING -j FLOTILLA-SERVICES'],
    };
    const before: RootNetworkSnapshot = { ...empty, routes: ['10.210.4.0/24 via 192.0.2.9 dev eth0'] };
    expect(diffSnapshots(before, after, unrelated)).toEqual({
      added: [
        'routes: blackhole 10.210.0.0/16 proto 241 metric 4096',
        'routes: 10.212.0.0/24 dev flx-up proto kernel',
        'iptables: -A PREROUTING -j FLOTILLA-SERVICES',
        'links: flx-up',
        'netns: flx-a',
      ],
      removed: ['routes: 10.210.4.0/24 via 192.0.2.9 dev eth0'],
    });
  });

  it('ignores what other suites on the machine do meanwhile', () => {
    const after: RootNetworkSnapshot = {
      ...empty,
      routes: [
        '10.240.107.0/24 dev floff6d3a662b proto kernel scope link src 10.240.107.1',
        'blackhole 10.251.91.0/24 proto 241 metric 4096',
      ],
      links: ['veth496612e9', 'floff6d3a662b'],
      netns: ['chaos-m1'],
      iptables: ['-A DOCKER -j RETURN'],
    };
    expect(diffSnapshots(empty, after, unrelated)).toEqual({ added: [], removed: [] });
  });
});
