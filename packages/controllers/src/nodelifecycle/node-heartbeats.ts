/**
 * When each node was last heard from, by this process's clock: the moment its Lease's
 * renewTime or its Ready condition's lastHeartbeatTime was seen to change (Kubernetes'
 * nodeHealthMap probe timestamps). Only the change counts, never the timestamp the node
 * wrote, so a node's clock cannot make it look alive. Kept outside any leader term: a
 * standby tracks heartbeats too, and knows them when it takes over.
 * https://kubernetes.io/docs/concepts/architecture/nodes/#heartbeats
 */
import { type Lease, type Node, nodeCondition } from '@flotilla/api';
import type { InformerFactory } from '../informer/informer-factory.ts';
import { leasesResource, nodeLeaseNamespace, nodesResource } from '../resources.ts';

type Heard = { readonly atMs: number; readonly leaseRenew: string; readonly readyHeartbeat: string };

export class NodeHeartbeats {
  private readonly heard = new Map<string, Heard>();
  private readonly now: () => number;
  private readonly offs: (() => void)[] = [];
  private readonly listeners = new Set<(node: string) => void>();

  constructor(informers: InformerFactory, now: () => number) {
    this.now = now;
    const nodes = informers.informer<Node>(nodesResource);
    const leases = informers.informer<Lease>(leasesResource);
    this.offs.push(
      nodes.addHandler({
        onAdd: (n) => this.seeNode(n),
        onUpdate: (_, n) => this.seeNode(n),
        onDelete: (n) => this.heard.delete(n.metadata.name ?? ''),
      }),
      leases.addHandler({
        onAdd: (l) => this.seeLease(l),
        onUpdate: (_, l) => this.seeLease(l),
      }),
    );
  }

  /** When `node` was last heard from; a node never seen counts as heard now. */
  lastHeardMs(node: string): number {
    const h = this.heard.get(node);
    if (h !== undefined) return h.atMs;
    const atMs = this.now();
    this.heard.set(node, { atMs, leaseRenew: '', readyHeartbeat: '' });
    return atMs;
  }

  /** Calls `listener(node)` whenever a heartbeat of `node` is heard. */
  onHeartbeat(listener: (node: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private seeNode(node: Node): void {
    const name = node.metadata.name ?? '';
    const beat = nodeCondition(node, 'Ready')?.lastHeartbeatTime ?? '';
    const prev = this.heard.get(name);
    if (prev !== undefined && prev.readyHeartbeat === beat) return;
    this.heard.set(name, { atMs: this.now(), leaseRenew: prev?.leaseRenew ?? '', readyHeartbeat: beat });
    if (prev !== undefined) this.notify(name);
  }

  private seeLease(lease: Lease): void {
    if (lease.metadata.namespace !== nodeLeaseNamespace) return;
    const name = lease.metadata.name ?? '';
    const renew = lease.spec?.renewTime ?? '';
    const prev = this.heard.get(name);
    if (prev !== undefined && prev.leaseRenew === renew) return;
    this.heard.set(name, { atMs: this.now(), leaseRenew: renew, readyHeartbeat: prev?.readyHeartbeat ?? '' });
    if (prev !== undefined) this.notify(name);
  }

  private notify(node: string): void {
    for (const l of this.listeners) l(node);
  }
}
