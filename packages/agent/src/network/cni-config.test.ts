import { describe, expect, test } from 'vitest';
import { nodePaths } from '../node-paths.ts';
import { cniConflist, podNetwork } from './cni-config.ts';

describe('CNI config', () => {
  test('the pod network of a CIDR: canonical, gateway at .1; bad ones refused', () => {
    expect(podNetwork('10.244.3.7/24')).toEqual({ podCIDR: '10.244.3.0/24', gateway: '10.244.3.1' });
    expect(() => podNetwork('nonsense')).toThrow();
    expect(() => podNetwork('fd00::/64')).toThrow('not IPv4');
    expect(() => podNetwork('10.0.0.0/31')).toThrow('too small');
  });

  test("a bridge per node, host-local IPAM over the pod CIDR in the node's own dataDir, no masquerading", () => {
    const paths = nodePaths('node-a', '/var/lib/x/node-a');
    const conf = JSON.parse(cniConflist(paths, podNetwork('10.244.3.0/24')));
    expect(conf).toMatchObject({
      cniVersion: '1.0.0',
      name: 'flotilla-node-a',
      plugins: [
        {
          type: 'bridge',
          bridge: paths.bridge,
          isGateway: true,
          ipMasq: false,
          ipam: {
            type: 'host-local',
            dataDir: '/var/lib/x/node-a/cni/ipam',
            ranges: [[{ subnet: '10.244.3.0/24', gateway: '10.244.3.1' }]],
          },
        },
      ],
    });
  });
});
