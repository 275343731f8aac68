/**
 * The node's part of the cluster network, fed from the API: pod routes to the other
 * nodes (PodRouter, from Nodes' podCIDR and InternalIP), the service proxy (from
 * Services, Endpoints and EndpointSlices) and the cluster DNS add-on, which every agent
 * serves on its own address, port 53, behind the `kube-system/kube-dns` Service whose
 * Endpoints list the agents that serve it (docs/networking.md, "Where the cluster DNS runs").
 */
import { type Logger, sleep } from '@flotilla/actor';
import {
  type ApiClient,
  type Endpoints,
  isAlreadyExists,
  isConflict,
  isNotFound,
  type Node,
  type ResourceClient,
  type ResourceRef,
  type Service,
} from '@flotilla/api';
import { ClusterDns } from '../dns/dns-server.ts';
import { setSysctl } from '../net/links.ts';
import { PodRouter } from '../net/pod-routes.ts';
import type { ServiceCatalogEvent, ServiceObject } from '../net/service-catalog.ts';
import { ServiceProxy } from '../proxy/service-proxy.ts';
import type { AgentMetrics } from './agent-metrics.ts';
import { type DnsMember, dnsMembers, dnsSubsets, withNodeReadiness } from './dns-endpoints.ts';
import { type ListWatchEvent, listAndWatch } from './list-watch.ts';

const nodesResource: ResourceRef = { group: '', version: 'v1', resource: 'nodes' };
const servicesResource: ResourceRef = { group: '', version: 'v1', resource: 'services' };
const endpointsResource: ResourceRef = { group: '', version: 'v1', resource: 'endpoints' };
const endpointSlicesResource: ResourceRef = {
  group: 'discovery.k8s.io',
  version: 'v1',
  resource: 'endpointslices',
};

export const dnsServiceNamespace = 'kube-system';
export const dnsServiceName = 'kube-dns';
/** Attempts of one Endpoints edit that keeps meeting a newer version. */
const maxEndpointsConflictRetries = 5;

export type ClusterNetworkOptions = {
  readonly client: ApiClient;
  readonly nodeName: string;
  /** This node's InternalIP: pod routes point at it, the DNS listens on it. */
  readonly nodeIP: string;
  /** The cluster's pod range (blackholed; more specific routes to nodes win). */
  readonly clusterCIDR: string;
  readonly serviceCIDR: string;
  /** Serve the cluster DNS here and list this node in kube-dns' Endpoints. */
  readonly dns?: { readonly serviceIP: string; readonly domain: string; readonly port?: number } | undefined;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
};

/** Pod routes, service proxy and DNS of one node, kept in step with the API. */
export class ClusterNetwork {
  readonly router: PodRouter;
  readonly proxy: ServiceProxy;
  readonly dns: ClusterDns | undefined;
  private readonly options: ClusterNetworkOptions;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];

  private constructor(
    options: ClusterNetworkOptions,
    router: PodRouter,
    proxy: ServiceProxy,
    dns: ClusterDns | undefined,
  ) {
    this.options = options;
    this.router = router;
    this.proxy = proxy;
    this.dns = dns;
    this.log = options.logger.child({ component: 'cluster-network' });
  }

  static async start(options: ClusterNetworkOptions): Promise<ClusterNetwork> {
    const logger = options.logger;
    // A pod reaching a Service whose endpoint sits on the same bridge gets its reply over
    // the bridge: it must pass conntrack to be un-DNATed (kubelet requires this of a node).
    await setSysctl(undefined, 'net.bridge.bridge-nf-call-iptables', '1').catch((err: unknown) =>
      logger.warn({ err }, 'cannot enable bridge-nf-call-iptables (is br_netfilter loaded?)'),
    );
    const router = new PodRouter({ nodeName: options.nodeName, clusterCIDR: options.clusterCIDR, logger });
    await router.start();
    const proxy = await ServiceProxy.start({
      nodeName: options.nodeName,
      serviceCIDR: options.serviceCIDR,
      logger,
    });
    const dns =
      options.dns === undefined
        ? undefined
        : await ClusterDns.start({
            listen: { address: options.nodeIP, port: options.dns.port ?? 53 },
            domain: options.dns.domain,
            logger,
          });
    const network = new ClusterNetwork(options, router, proxy, dns);
    network.loops.push(network.watchNodes(), network.watchServices());
    if (dns !== undefined) network.loops.push(network.keepPublishingDns());
    return network;
  }

  /** Stops watching; routes and rules stay (pods keep their network while the agent restarts). */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    if (this.dns !== undefined) {
      await this.withdrawDns().catch((err: unknown) =>
        this.log.warn({ err }, 'could not remove this node from kube-dns'),
      );
      await this.dns.stop();
    }
    await this.proxy.stop();
  }

  private async watchNodes(): Promise<void> {
    const nodes = new Map<string, Node>();
    let synced = false;
    for await (const event of this.watch<Node>(nodesResource, 'nodes')) {
      if (event.kind === 'synced') synced = true;
      else if (event.kind === 'deleted') nodes.delete(event.object.metadata.name ?? '');
      else nodes.set(event.object.metadata.name ?? '', event.object);
      if (!synced) continue;
      const result = await this.router.sync([...nodes.values()]).catch((err: unknown) => {
        this.log.warn({ err }, 'pod route sync failed');
        return undefined;
      });
      if (result !== undefined && (result.added.length > 0 || result.removed.length > 0)) {
        this.log.info({ added: result.added.length, removed: result.removed.length }, 'pod routes synced');
      }
      if (this.dns !== undefined) {
        // Every agent keeps kube-dns in step with the Nodes: a dead agent's address stops
        // taking queries once the node lifecycle controller marks its Node NotReady.
        await this.editDnsEndpoints((members) => withNodeReadiness(members, nodes)).catch((err: unknown) =>
          this.log.warn({ err }, 'could not update kube-dns readiness'),
        );
      }
    }
  }

  /** Services, Endpoints and EndpointSlices merged into one catalog stream. */
  private async watchServices(): Promise<void> {
    const kinds: readonly [ResourceRef, string, ServiceObject['kind']][] = [
      [servicesResource, 'services', 'Service'],
      [endpointsResource, 'endpoints', 'Endpoints'],
      [endpointSlicesResource, 'endpointslices', 'EndpointSlice'],
    ];
    const synced = new Set<string>();
    const deliver = (event: ServiceCatalogEvent) => {
      this.proxy.handle(event);
      this.dns?.handle(event);
    };
    await Promise.all(
      kinds.map(async ([ref, name, kind]) => {
        for await (const event of this.watch<ServiceObject>(ref, name)) {
          if (event.kind !== 'synced') {
            // Items of a list may come without their kind; the catalog sorts by it.
            const object = { ...event.object, kind } as ServiceObject;
            deliver({ kind: event.kind, object });
            continue;
          }
          // The catalog may drop what it has not heard of only once every kind is listed.
          synced.add(name);
          if (synced.size === kinds.length) deliver(event);
        }
      }),
    );
  }

  private watch<T extends Node | ServiceObject>(
    ref: ResourceRef,
    name: string,
  ): AsyncGenerator<ListWatchEvent<T>> {
    const { metrics, nodeName } = this.options;
    return listAndWatch(this.options.client.resource<T>(ref), {
      name,
      logger: this.log,
      signal: this.abort.signal,
      onFailure: () => metrics.watchFailures.inc({ node: nodeName, resource: name }),
    });
  }

  // ---- the DNS add-on's Service and Endpoints -------------------------------------------

  private dnsService(): Service {
    const serviceIP = this.options.dns?.serviceIP ?? '';
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: dnsServiceName,
        namespace: dnsServiceNamespace,
        labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' },
      },
      spec: {
        clusterIP: serviceIP,
        ports: [
          { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
          { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
        ],
      },
    };
  }

  /** Publishes this node in kube-dns, retrying (with back-off) until it succeeds or the network stops. */
  private async keepPublishingDns(): Promise<void> {
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      try {
        await this.publishDns();
        return;
      } catch (err) {
        this.options.metrics.apiWrites.inc({
          node: this.options.nodeName,
          write: 'dns-endpoint',
          result: 'error',
        });
        this.log.warn({ err, attempt }, 'could not publish this node in kube-dns; retrying');
        await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)), this.abort.signal).catch(
          () => undefined,
        );
      }
    }
  }

  /** Makes sure kube-dns exists and lists this node's address. */
  private async publishDns(): Promise<void> {
    const services = this.options.client.resource<Service>(servicesResource);
    const exists = () =>
      services.get(dnsServiceName, dnsServiceNamespace).then(
        () => true,
        (err: unknown) => {
          if (isNotFound(err)) return false;
          throw err;
        },
      );
    if (!(await exists())) {
      try {
        await services.create(this.dnsService());
        this.log.info({ clusterIP: this.options.dns?.serviceIP }, 'created the kube-dns Service');
      } catch (err) {
        // Another agent created it meanwhile (the API may answer that as the cluster IP
        // being taken rather than AlreadyExists).
        if (!(await exists())) throw err;
      }
    }
    await this.editDnsEndpoints((members) => [
      ...members.filter((m) => m.ip !== this.options.nodeIP),
      { ip: this.options.nodeIP, nodeName: this.options.nodeName, ready: true },
    ]);
    this.options.metrics.apiWrites.inc({ node: this.options.nodeName, write: 'dns-endpoint', result: 'ok' });
  }

  private async withdrawDns(): Promise<void> {
    await this.editDnsEndpoints((members) => members.filter((m) => m.ip !== this.options.nodeIP));
  }

  /** Rewrites kube-dns' Endpoints with `edit` applied to its members; writes only a change. */
  private async editDnsEndpoints(
    edit: (members: readonly DnsMember[]) => readonly DnsMember[],
  ): Promise<void> {
    const endpoints: ResourceClient<Endpoints> = this.options.client.resource<Endpoints>(endpointsResource);
    const port = this.options.dns?.port ?? 53;
    for (let attempt = 0; ; attempt++) {
      let current: Endpoints | undefined;
      try {
        current = await endpoints.get(dnsServiceName, dnsServiceNamespace);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const subsets = dnsSubsets(edit(dnsMembers(current?.subsets)), port);
      if (current !== undefined && JSON.stringify(current.subsets ?? []) === JSON.stringify(subsets)) return;
      try {
        if (current === undefined) {
          await endpoints.create({
            apiVersion: 'v1',
            kind: 'Endpoints',
            metadata: { name: dnsServiceName, namespace: dnsServiceNamespace },
            subsets,
          });
        } else {
          await endpoints.update({ ...current, subsets });
        }
        return;
      } catch (err) {
        if ((!isConflict(err) && !isAlreadyExists(err)) || attempt >= maxEndpointsConflictRetries) throw err;
      }
    }
  }
}
