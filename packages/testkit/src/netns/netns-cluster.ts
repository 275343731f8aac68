import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger, silentLogger } from '@flotilla/actor';
import {
  addAddress,
  addBridge,
  addVethPair,
  attachToBridge,
  canonicalCIDR,
  createNetns,
  destroyUnderlay,
  InvalidNetworkSpecError,
  installRoute,
  netnsEtcDir,
  runNet,
  setLinkUp,
  setSysctl,
  Underlay,
  type UnderlayHost,
} from '@flotilla/agent/net';
import { formatIP, type Node, nthAddress, parseCIDR } from '@flotilla/api';
import { registerCleanup } from '../cleanup.ts';

export type NetnsClusterOptions = {
  /** Names every namespace: `<name>-<node>`, `<name>-<pod>` (see Underlay). */
  readonly name: string;
  readonly underlayCIDR: string;
  /** The cluster's pod range; each node's pod CIDR lies inside it. */
  readonly clusterCIDR: string;
  readonly serviceCIDR: string;
  readonly nodes: readonly { readonly name: string; readonly podCIDR: string }[];
  readonly logger?: Logger;
};

/** A node: a host namespace on the underlay with a pod bridge over its pod CIDR. */
export type NetnsNode = UnderlayHost & {
  readonly podCIDR: string;
  /** The bridge's address, the pods' default gateway. */
  readonly gateway: string;
  readonly bridge: string;
};

/** Whether this process created /etc/netns (for a pod's resolv.conf), to remove it again. */
let createdEtcNetns = false;

/** The pod bridge inside each node namespace (what the CNI bridge plugin makes for real pods). */
const podBridge = 'cbr0';
/** A request through busybox wget that takes longer than this counts as failed. */
const defaultRequestTimeoutSeconds = 5;

/**
 * Nodes and "pods" as network namespaces on one machine, wired the way the agent's CNI
 * setup wires real pods: each node namespace on the underlay holds a bridge over its
 * pod CIDR, and each pod namespace has a veth on it (hairpin on) and a default route to
 * the bridge. Everything is removed when the test file ends.
 */
export class NetnsCluster {
  readonly options: NetnsClusterOptions;
  readonly underlay: Underlay;
  private readonly nodes = new Map<string, NetnsNode>();
  private readonly pods = new Map<string, NetnsPod>();
  private readonly nextPodIndex = new Map<string, number>();
  private vethCount = 0;

  private constructor(options: NetnsClusterOptions, underlay: Underlay) {
    this.options = options;
    this.underlay = underlay;
  }

  /** What a run of this cluster's name that died half-way left on the machine goes first. */
  static async create(options: NetnsClusterOptions): Promise<NetnsCluster> {
    const underlayOptions = {
      name: options.name,
      cidr: options.underlayCIDR,
      guardedRanges: [options.clusterCIDR, options.serviceCIDR],
      logger: options.logger ?? silentLogger(),
    };
    await destroyUnderlay(underlayOptions);
    const underlay = await Underlay.create(underlayOptions);
    const cluster = new NetnsCluster(options, underlay);
    registerCleanup({ name: `netns cluster ${options.name}`, run: () => cluster.destroy() });
    for (const n of options.nodes) await cluster.addNode(n.name, n.podCIDR);
    return cluster;
  }

  node(name: string): NetnsNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new InvalidNetworkSpecError(`no node ${name} in ${this.options.name}`);
    return node;
  }

  get nodeList(): readonly NetnsNode[] {
    return [...this.nodes.values()];
  }

  pod(name: string): NetnsPod {
    const pod = this.pods.get(name);
    if (pod === undefined) throw new InvalidNetworkSpecError(`no pod ${name} in ${this.options.name}`);
    return pod;
  }

  /** The Node objects the API would hold for these nodes (pod CIDR, InternalIP). */
  nodeObjects(): readonly Node[] {
    return this.nodeList.map((n) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name },
      spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] },
      status: { addresses: [{ type: 'InternalIP', address: n.address }] },
    }));
  }

  /** A pod namespace on `nodeName`'s bridge, with the next free address of its pod CIDR. */
  async addPod(nodeName: string, podName: string): Promise<NetnsPod> {
    const node = this.node(nodeName);
    const cidr = parseCIDR(node.podCIDR)!;
    const index = this.nextPodIndex.get(nodeName) ?? 2;
    this.nextPodIndex.set(nodeName, index + 1);
    const ip = formatIP(nthAddress(cidr, index));
    const netns = `${this.options.name}-${podName}`;
    const hostSide = `vpod${this.vethCount++}`;
    await createNetns(netns);
    await addVethPair({ netns, name: 'eth0' }, { netns: node.netns, name: hostSide });
    await attachToBridge({ netns: node.netns, name: hostSide }, podBridge, { hairpin: true });
    await addAddress({ netns, name: 'eth0' }, `${ip}/${cidr.prefixLength}`);
    await setLinkUp({ netns, name: 'eth0' });
    await installRoute(netns, { kind: 'via', dst: '0.0.0.0/0', gateway: node.gateway });
    const pod = new NetnsPod(podName, netns, ip, node);
    this.pods.set(podName, pod);
    return pod;
  }

  async destroy(): Promise<void> {
    await this.underlay.destroy();
    this.nodes.clear();
    this.pods.clear();
    if (createdEtcNetns) {
      try {
        rmdirSync(netnsEtcDir);
        createdEtcNetns = false;
      } catch {
        // Not empty: someone else's namespaces have files there now; it stays.
      }
    }
  }

  private async addNode(name: string, podCIDRText: string): Promise<void> {
    const podCIDR = canonicalCIDR(podCIDRText);
    const cidr = parseCIDR(podCIDR)!;
    const host = await this.underlay.addHost(name);
    const gateway = formatIP(nthAddress(cidr, 1));
    await addBridge({ netns: host.netns, name: podBridge });
    await addAddress({ netns: host.netns, name: podBridge }, `${gateway}/${cidr.prefixLength}`);
    // Replies between two pods of one bridge must pass conntrack to be un-DNATed when
    // the request went through a Service (what kubelet's network setup requires too).
    await setSysctl(host.netns, 'net.bridge.bridge-nf-call-iptables', '1');
    this.nodes.set(name, { ...host, podCIDR, gateway, bridge: podBridge });
  }
}

/** A network namespace standing in for a pod. */
export class NetnsPod {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
  readonly node: NetnsNode;

  constructor(name: string, netns: string, ip: string, node: NetnsNode) {
    this.name = name;
    this.netns = netns;
    this.ip = ip;
    this.node = node;
  }

  /** Runs a command inside the pod's namespace and returns its stdout. */
  exec(command: string, args: readonly string[], timeoutMs?: number): Promise<string> {
    return runNet(command, args, { netns: this.netns, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  /**
   * The resolv.conf programs in this pod read: `ip netns exec` mounts
   * /etc/netns/<namespace>/resolv.conf over /etc/resolv.conf.
   */
  setResolvConf(text: string): void {
    if (!existsSync(netnsEtcDir)) createdEtcNetns = true;
    const dir = join(netnsEtcDir, this.netns);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'resolv.conf'), text);
  }

  /** HTTP GETs from inside the pod: see `fetchMany`. */
  fetchMany(url: string, count: number, timeoutSeconds?: number): Promise<readonly string[]> {
    return fetchMany(this.netns, url, count, timeoutSeconds);
  }
}

/**
 * `count` HTTP GETs of `url` with busybox wget, one connection each, from inside
 * `netns`; one line of body per request, or `FAIL` for a request that failed or took
 * over `timeoutSeconds`. One shell runs the loop: no process start per request here.
 */
export async function fetchMany(
  netns: string,
  url: string,
  count: number,
  timeoutSeconds = defaultRequestTimeoutSeconds,
): Promise<readonly string[]> {
  const script = `for i in $(busybox seq ${count}); do busybox timeout ${timeoutSeconds} busybox wget -q -O- '${url}' 2>/dev/null || echo FAIL; done`;
  const out = await runNet('busybox', ['sh', '-c', script], {
    netns,
    timeoutMs: count * (timeoutSeconds + 1) * 1000 + 10_000,
  });
  return out.split('\n').filter((l) => l !== '');
}
