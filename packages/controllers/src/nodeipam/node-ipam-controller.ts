/**
 * The node IPAM controller (Kubernetes' range allocator): every node gets a pod CIDR of
 * `nodeMaskSize` bits carved from the cluster CIDR, recorded in spec.podCIDR and
 * spec.podCIDRs; the agent builds the node's pod network from it. Subnets already on
 * nodes are taken first, so a new leader never hands one out twice, and a deleted
 * node's subnet becomes free again.
 * https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/ (--allocate-node-cidrs)
 */
import {
  type CIDR,
  cidrContains,
  cidrSize,
  formatCIDR,
  type Node,
  parseCIDR,
  parseIP,
  RangeAllocator,
  type ResourceClient,
} from '@flotilla/api';
import type { ControllerContext } from '../context.ts';
import { done, type Enqueue, type ReconcileResult, type Reconciler } from '../controller.ts';
import { ConfigError } from '../errors.ts';
import type { Informer } from '../informer/informer.ts';
import { keyOf, nodesResource } from '../resources.ts';

export const defaultClusterCIDR = '10.244.0.0/16';
export const defaultNodeMaskSize = 24;

export type NodeIpamOptions = {
  readonly clusterCIDR?: string;
  readonly nodeMaskSize?: number;
};

export class NodeIpamController implements Reconciler {
  readonly name = 'node-ipam';
  private readonly informer: Informer<Node>;
  private readonly nodes: ResourceClient<Node>;
  private readonly cluster: CIDR;
  private readonly maskSize: number;
  private readonly subnetSize: bigint;
  private readonly allocator: RangeAllocator;
  /** Subnet offsets this controller handed out, by node, until the node shows them. */
  private readonly pending = new Map<string, number>();
  private seeded = false;

  constructor(ctx: ControllerContext, options: NodeIpamOptions = {}) {
    const text = options.clusterCIDR ?? defaultClusterCIDR;
    const cluster = parseCIDR(text);
    if (cluster === undefined || cluster.family !== 'IPv4')
      throw new ConfigError(`cluster CIDR ${text} is not an IPv4 CIDR`);
    this.maskSize = options.nodeMaskSize ?? defaultNodeMaskSize;
    if (this.maskSize < cluster.prefixLength || this.maskSize > 30) {
      throw new ConfigError(`node mask /${this.maskSize} does not fit in cluster CIDR ${text}`);
    }
    this.cluster = cluster;
    this.subnetSize = 1n << BigInt(32 - this.maskSize);
    const count = Number(cidrSize(cluster) / this.subnetSize);
    this.allocator = new RangeAllocator({ label: `${formatCIDR(cluster)} /${this.maskSize}`, size: count });
    this.informer = ctx.informers.informer<Node>(nodesResource);
    this.nodes = ctx.client.resource<Node>(nodesResource);
  }

  watch(enqueue: Enqueue): () => void {
    return this.informer.addHandler({
      onAdd: (n) => enqueue.add(keyOf(n)),
      onUpdate: (prev, n) => {
        if (!n.spec?.podCIDR || prev.spec?.podCIDR !== n.spec.podCIDR) enqueue.add(keyOf(n));
      },
      onDelete: (n) => {
        const offset = this.offsetOf(n.spec?.podCIDR);
        if (offset !== undefined && !this.usedByOther(offset, keyOf(n))) this.allocator.release(offset);
        this.pending.delete(keyOf(n));
      },
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    this.seed();
    const node = this.informer.cache.get(key);
    if (node === undefined) return done;
    const current = this.offsetOf(node.spec?.podCIDR);
    if (current !== undefined) {
      this.allocator.allocate(current);
      this.pending.delete(key);
      return done;
    }
    let offset = this.pending.get(key);
    if (offset === undefined) {
      offset = this.allocator.allocateNext(0);
      if (offset === undefined)
        throw new ConfigError(`no pod CIDR left in ${formatCIDR(this.cluster)} for node ${key}`);
      this.pending.set(key, offset);
    }
    const cidr = this.subnet(offset);
    await this.nodes.update({ ...node, spec: { ...node.spec, podCIDR: cidr, podCIDRs: [cidr] } });
    return done;
  }

  /** Marks every subnet nodes already carry as taken (once, from the synced cache). */
  private seed(): void {
    if (this.seeded) return;
    this.seeded = true;
    for (const n of this.informer.cache.values()) {
      const offset = this.offsetOf(n.spec?.podCIDR);
      if (offset !== undefined) this.allocator.allocate(offset);
    }
  }

  private subnet(offset: number): string {
    const network = this.cluster.network + BigInt(offset) * this.subnetSize;
    return formatCIDR({ family: 'IPv4', network, prefixLength: this.maskSize });
  }

  private offsetOf(podCIDR: string | undefined): number | undefined {
    if (!podCIDR) return undefined;
    const c = parseCIDR(podCIDR);
    if (c === undefined || c.prefixLength !== this.maskSize) return undefined;
    const ip = parseIP(formatCIDR(c).split('/')[0] ?? '');
    if (ip === undefined || !cidrContains(this.cluster, ip)) return undefined;
    return Number((c.network - this.cluster.network) / this.subnetSize);
  }

  private usedByOther(offset: number, except: string): boolean {
    for (const n of this.informer.cache.values()) {
      if (keyOf(n) !== except && this.offsetOf(n.spec?.podCIDR) === offset) return true;
    }
    return false;
  }
}
