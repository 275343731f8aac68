import { assert } from '@flotilla/actor';
import { formatCIDR, formatIP, nthAddress, parseCIDR } from '@flotilla/api';
import type { NodePaths } from '../node-paths.ts';

/** The CNI spec version of the conflist; Debian's plugins speak up to 1.0.0. */
export const cniVersion = '1.0.0';

export type PodNetwork = {
  /** The node's pod CIDR in canonical form, e.g. `10.244.3.0/24`. */
  readonly podCIDR: string;
  /** The bridge's address: the first address of the pod CIDR, the pods' default gateway. */
  readonly gateway: string;
};

/** Parses and checks a node's pod CIDR (IPv4, room for at least a gateway and one pod). */
export function podNetwork(podCIDR: string): PodNetwork {
  const cidr = parseCIDR(podCIDR);
  assert(cidr !== undefined, `pod CIDR ${JSON.stringify(podCIDR)} is not a CIDR`);
  assert(cidr.family === 'IPv4', `pod CIDR ${podCIDR} is not IPv4`);
  assert(cidr.prefixLength <= 30, `pod CIDR ${podCIDR} is too small`);
  return { podCIDR: formatCIDR(cidr), gateway: formatIP(nthAddress(cidr, 1)) };
}

/**
 * The conflist containerd hands to the CNI plugins for every sandbox: one bridge per
 * node (the pods' gateway, no masquerading: pod addresses stay visible, Kubernetes'
 * networking model) with host-local IPAM over the node's pod CIDR, its allocations in
 * this node's own directory. https://www.cni.dev/plugins/current/main/bridge/
 */
export function cniConflist(paths: NodePaths, network: PodNetwork): string {
  const conf = {
    cniVersion,
    name: paths.networkName,
    plugins: [
      {
        type: 'bridge',
        bridge: paths.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: paths.cniDataDir,
          ranges: [[{ subnet: network.podCIDR, gateway: network.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
        },
      },
    ],
  };
  return `${JSON.stringify(conf, null, 2)}\n`;
}

/** containerd reads the first file of its conf_dir in lexical order; there is only this one. */
export const conflistFileName = '10-flotilla.conflist';
