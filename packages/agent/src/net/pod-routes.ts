import type { Logger } from '@flotilla/actor';
import { type Node, parseCIDR, parseIP } from '@flotilla/api';
import { removeIgnoringMissing } from './command.ts';
import {
  canonicalCIDR,
  cidrsOverlap,
  guardRouteMetric,
  installRoute,
  listOwnRoutes,
  type Route,
  removeRoute,
  routeKey,
} from './routes.ts';

/** Where a node's pods live: its pod CIDR, reached through its address on the underlay. */
export type NodePodNetwork = { readonly node: string; readonly podCIDR: string; readonly address: string };

/** Why a node gets no route (it is left out; the others still get theirs). */
export type NodeRouteProblem = { readonly node: string; readonly reason: string };

/**
 * The pod network of every node that has both an IPv4 pod CIDR and an InternalIP.
 * Two nodes claiming overlapping CIDRs is a control-plane bug: the first by name keeps
 * its route and the other is reported, so the outcome does not depend on list order.
 */
export function nodePodNetworks(nodes: readonly Node[]): {
  readonly networks: readonly NodePodNetwork[];
  readonly problems: readonly NodeRouteProblem[];
} {
  const networks: NodePodNetwork[] = [];
  const problems: NodeRouteProblem[] = [];
  const sorted = [...nodes].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const node of sorted) {
    const name = node.metadata.name ?? '';
    const cidrText = [node.spec?.podCIDR, ...(node.spec?.podCIDRs ?? [])].find(
      (c) => c !== undefined && parseCIDR(c)?.family === 'IPv4',
    );
    const address = node.status?.addresses?.find(
      (a) => a.type === 'InternalIP' && parseIP(a.address)?.family === 'IPv4',
    )?.address;
    if (cidrText === undefined) {
      problems.push({ node: name, reason: 'no IPv4 pod CIDR' });
      continue;
    }
    if (address === undefined) {
      problems.push({ node: name, reason: 'no IPv4 InternalIP' });
      continue;
    }
    const podCIDR = canonicalCIDR(cidrText);
    const cidr = parseCIDR(podCIDR)!;
    const clash = networks.find((n) => cidrsOverlap(parseCIDR(n.podCIDR)!, cidr));
    if (clash !== undefined) {
      problems.push({
        node: name,
        reason: `pod CIDR ${podCIDR} overlaps node ${clash.node}'s ${clash.podCIDR}`,
      });
      continue;
    }
    networks.push({ node: name, podCIDR, address });
  }
  return { networks, problems };
}

/**
 * Host-gateway routing: on node `self`, every other node's pod CIDR is reached through
 * that node's address. Sorted by destination, so equal inputs give equal outputs.
 */
export function desiredPodRoutes(networks: readonly NodePodNetwork[], self: string): readonly Route[] {
  const own = networks.find((n) => n.node === self);
  return networks
    .filter((n) => n.node !== self)
    .filter((n) => own === undefined || !cidrsOverlap(parseCIDR(n.podCIDR)!, parseCIDR(own.podCIDR)!))
    .map((n): Route => ({ kind: 'via', dst: n.podCIDR, gateway: n.address }))
    .sort((a, b) => a.dst.localeCompare(b.dst));
}

export type RoutePlan = { readonly add: readonly Route[]; readonly remove: readonly Route[] };

/**
 * What turns the installed gateway routes into the desired ones. A route whose gateway
 * changed is removed and added; routes that already match are not touched.
 */
export function planPodRoutes(desired: readonly Route[], installed: readonly Route[]): RoutePlan {
  const want = new Map(desired.map((r) => [routeKey(r), r]));
  const have = new Map(installed.filter((r) => r.kind === 'via').map((r) => [routeKey(r), r]));
  return {
    add: [...want].filter(([k]) => !have.has(k)).map(([, r]) => r),
    remove: [...have].filter(([k]) => !want.has(k)).map(([, r]) => r),
  };
}

export type PodRouterOptions = {
  readonly nodeName: string;
  /** The namespace whose routing table this router keeps; the caller's when absent. */
  readonly netns?: string | undefined;
  /** The whole cluster's pod range, e.g. `10.244.0.0/16`: pods of unknown nodes are dropped here. */
  readonly clusterCIDR: string;
  readonly logger: Logger;
};

export type PodRouteSyncResult = {
  readonly added: readonly Route[];
  readonly removed: readonly Route[];
  /** Routes the kernel refused (e.g. a gateway not on a connected network); retried next sync. */
  readonly failed: readonly { readonly route: Route; readonly error: string }[];
  readonly problems: readonly NodeRouteProblem[];
};

/**
 * Keeps one node's routes to the other nodes' pods, from the Node list: call `sync`
 * with the whole list whenever it changes. Each sync reads the routes of ours the kernel
 * has and changes only what differs, so a sync after a crash or a hand edit converges too.
 */
export class PodRouter {
  private readonly options: PodRouterOptions;
  private readonly log: Logger;
  private readonly guard: Route;
  /** Syncs run one at a time, in call order. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(options: PodRouterOptions) {
    this.options = options;
    this.log = options.logger.child({ component: 'pod-router', node: options.nodeName });
    this.guard = { kind: 'blackhole', dst: canonicalCIDR(options.clusterCIDR), metric: guardRouteMetric };
  }

  /** Installs the blackhole for the cluster's pod range (more specific routes win over it). */
  async start(): Promise<void> {
    await installRoute(this.options.netns, this.guard);
  }

  sync(nodes: readonly Node[]): Promise<PodRouteSyncResult> {
    const run = this.tail.then(() => this.syncNow(nodes));
    this.tail = run.catch(() => {});
    return run;
  }

  /** Removes every route this router installed. */
  async stop(): Promise<void> {
    await this.tail;
    for (const route of await listOwnRoutes(this.options.netns)) {
      if (route.kind === 'via' || routeKey(route) === routeKey(this.guard)) {
        await removeIgnoringMissing(removeRoute(this.options.netns, route));
      }
    }
    this.log.info('pod routes removed');
  }

  private async syncNow(nodes: readonly Node[]): Promise<PodRouteSyncResult> {
    const { networks, problems } = nodePodNetworks(nodes);
    const desired = desiredPodRoutes(networks, this.options.nodeName);
    const plan = planPodRoutes(desired, await listOwnRoutes(this.options.netns));
    const removed: Route[] = [];
    const added: Route[] = [];
    const failed: { route: Route; error: string }[] = [];
    for (const route of plan.remove) {
      await removeIgnoringMissing(removeRoute(this.options.netns, route));
      removed.push(route);
    }
    for (const route of plan.add) {
      try {
        await installRoute(this.options.netns, route);
        added.push(route);
      } catch (err) {
        failed.push({ route, error: err instanceof Error ? err.message : String(err) });
      }
    }
    if (added.length + removed.length + failed.length > 0 || problems.length > 0) {
      this.log.info(
        { added: added.map(routeKey), removed: removed.map(routeKey), failed, problems },
        'pod routes synced',
      );
    }
    return { added, removed, failed, problems };
  }
}
