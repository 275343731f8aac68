/**
 * The node agent wired to the API server (kubelet's main loop): registers the Node,
 * waits for the pod CIDR the node IPAM controller gives it, runs the node's runtime
 * (containerd or fake) on the pods bound to it, heartbeats its Lease, reports node and
 * pod status, serves container logs to the API server (AgentProtocol), and keeps the
 * node's part of the cluster network. https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/
 */
import { arch, cpus, hostname, platform, totalmem } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import {
  type ActorHost,
  type ActorSystem,
  FlotillaError,
  type Logger,
  type Registry,
  sleep,
  stream,
} from '@flotilla/actor';
import {
  type AgentProtocol,
  type ApiClient,
  agentActorName,
  badRequest,
  isAlreadyExists,
  isConflict,
  type Lease,
  type LogChunk,
  type Node,
  type NodeStatus,
  notFound,
  type ResourceClient,
  type ResourceRef,
  type Taint,
  timeFromMs,
} from '@flotilla/api';
import { ContainerdNode } from '../containerd-node.ts';
import { PodNotFoundError } from '../errors.ts';
import { FakeNode } from '../fake-node.ts';
import type { Kubelet } from '../kubelet/kubelet.ts';
import { agentKubeletVersion } from '../node/node-status.ts';
import { type AgentMetrics, agentMetrics } from './agent-metrics.ts';
import { ApiObjectLookup, ApiPodSource, ApiStatusSink, podsResource } from './api-bindings.ts';
import { ClusterNetwork } from './cluster-network.ts';
import {
  defaultLeaseDurationSeconds,
  defaultLeaseRenewIntervalMs,
  leasesResource,
  nodeLeaseObject,
  renewNodeLease,
} from './node-lease.ts';

const nodesResource: ResourceRef = { group: '', version: 'v1', resource: 'nodes' };

export type NodeAgentOptions = {
  readonly client: ApiClient;
  /** Serves AgentProtocol as `agent.<clusterId>.<node>` (pods/log). */
  readonly system: ActorSystem;
  readonly clusterId: string;
  readonly nodeName: string;
  /** The node's InternalIP (pods' hostIP; other nodes route this node's pods through it). */
  readonly nodeIP: string;
  readonly runtime: 'containerd' | 'fake';
  /** containerd only: default /var/lib/flotilla/agent/<node>. */
  readonly dataDir?: string;
  /** containerd only: use this containerd instead of starting one. */
  readonly containerdSocket?: string;
  /** Extra Node labels (kubernetes.io/hostname, os and arch are always set). */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Taints the Node is created with (kubelet's registerWithTaints), e.g.
   * `node-role.kubernetes.io/control-plane:NoSchedule`; an adopted Node keeps its own.
   */
  readonly registerWithTaints?: readonly Taint[];
  /** Pods' resolv.conf: the cluster DNS Service's IP and domain. */
  readonly clusterDns: { readonly serviceIP: string; readonly domain: string };
  /**
   * containerd only: keep pod routes, service rules and serve the cluster DNS on the
   * node address. Absent: the node only runs pods (its pods reach only its own bridge).
   */
  readonly network?: {
    readonly clusterCIDR: string;
    readonly serviceCIDR: string;
    /** Serve the DNS add-on on nodeIP:53 and list this node in kube-dns' Endpoints (default true). */
    readonly serveDns?: boolean;
  };
  readonly leaseRenewIntervalMs?: number;
  readonly leaseDurationSeconds?: number;
  /** How often node status is computed; it is written when it changed. */
  readonly nodeStatusIntervalMs?: number;
  /** Node status is written at least this often even when nothing changed. */
  readonly nodeStatusReportMs?: number;
  /** How long to wait for spec.podCIDR before giving up. */
  readonly podCIDRTimeoutMs?: number;
  /** Kubelet tuning passed through (test speed-ups). */
  readonly crashLoopBackoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly logger: Logger;
  readonly registry: Registry;
};

export class PodCIDRTimeoutError extends FlotillaError {
  constructor(node: string, waitedMs: number) {
    super(
      'PodCIDRTimeout',
      `node ${node} got no spec.podCIDR within ${waitedMs} ms (is the controller manager running?)`,
      {
        node,
        waitedMs,
      },
    );
  }
}

/** What the agent needs of ContainerdNode and FakeNode. */
type NodeRuntime = {
  readonly kubelet: Kubelet;
  nodeStatus(previous?: NodeStatus): Promise<NodeStatus>;
  stop(): Promise<void>;
};

/** Node status without the times that change on every report. */
function statusFingerprint(status: NodeStatus): string {
  return JSON.stringify({
    ...status,
    conditions: (status.conditions ?? []).map((c) => ({ ...c, lastHeartbeatTime: undefined })),
  });
}

export class NodeAgent {
  readonly options: NodeAgentOptions;
  readonly metrics: AgentMetrics;
  private readonly log: Logger;
  private readonly nodes: ResourceClient<Node>;
  private readonly leases: ResourceClient<Lease>;
  private readonly abort = new AbortController();
  private actor: ActorHost<AgentProtocol> | undefined;
  private runtime: NodeRuntime | undefined;
  private network: ClusterNetwork | undefined;
  private node: Node | undefined;
  private lease: Lease | undefined;
  private lastStatus: NodeStatus | undefined;
  private lastStatusWriteMs = 0;
  private readonly loops: Promise<void>[] = [];
  private stopped = false;

  constructor(options: NodeAgentOptions) {
    this.options = options;
    this.metrics = agentMetrics(options.registry);
    this.log = options.logger.child({ component: 'node-agent', node: options.nodeName });
    this.nodes = options.client.resource<Node>(nodesResource);
    this.leases = options.client.resource<Lease>(leasesResource);
  }

  /** The pod CIDR the node runs with (once started). */
  get podCIDR(): string | undefined {
    return this.node?.spec?.podCIDR;
  }

  get kubelet(): Kubelet | undefined {
    return this.runtime?.kubelet;
  }

  /**
   * Registers the Node, heartbeats, waits for the pod CIDR, starts the runtime and the
   * network. Resolves once pods are being run.
   */
  async start(): Promise<void> {
    const o = this.options;
    this.actor = this.options.system.spawn<AgentProtocol>({
      name: agentActorName(o.clusterId, o.nodeName),
      handlers: { log: stream((req, sink) => this.serveLog(req, sink)) },
      logBindings: { component: 'agent-actor', node: o.nodeName },
    });
    await this.actor.ready;
    this.node = await this.register();
    this.loops.push(this.heartbeat());
    const podCIDR = await this.waitForPodCIDR();
    const signal = this.abort.signal;
    const source = new ApiPodSource(o.client.resource(podsResource), {
      nodeName: o.nodeName,
      logger: this.log,
      signal,
      metrics: this.metrics,
    });
    const statusSink = new ApiStatusSink(o.client.resource(podsResource), source, {
      nodeName: o.nodeName,
      metrics: this.metrics,
      logger: this.log,
    });
    const common = {
      nodeName: o.nodeName,
      podCIDR,
      hostIP: o.nodeIP,
      source,
      statusSink,
      lookup: new ApiObjectLookup(o.client),
      logger: o.logger,
      clusterDns: { servers: [o.clusterDns.serviceIP], domain: o.clusterDns.domain },
      ...(o.crashLoopBackoff === undefined ? {} : { crashLoopBackoff: o.crashLoopBackoff }),
    };
    if (o.runtime === 'fake') {
      const fake = new FakeNode(common);
      fake.start();
      this.runtime = fake;
    } else {
      this.runtime = await ContainerdNode.start({
        ...common,
        ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }),
        ...(o.containerdSocket === undefined ? {} : { containerdSocket: o.containerdSocket }),
      });
      if (o.network !== undefined) {
        this.network = await ClusterNetwork.start({
          client: o.client,
          nodeName: o.nodeName,
          nodeIP: o.nodeIP,
          clusterCIDR: o.network.clusterCIDR,
          serviceCIDR: o.network.serviceCIDR,
          dns: o.network.serveDns === false ? undefined : o.clusterDns,
          logger: o.logger,
          metrics: this.metrics,
        });
      }
    }
    await this.reportStatus(true);
    this.loops.push(this.statusLoop());
    this.log.info({ podCIDR, runtime: o.runtime, nodeIP: o.nodeIP }, 'node agent running');
  }

  /**
   * Graceful stop (SIGTERM): stops watches, heartbeats and the log actor; pods keep
   * running and the next start adopts them. The Node and its Lease stay, so the node
   * lifecycle controller marks the node NotReady only if no agent comes back in time.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    await this.actor?.stop(2_000);
    await this.network?.stop();
    await this.runtime?.stop();
    await Promise.all(this.loops);
    this.log.info('node agent stopped; pods keep running');
  }

  // ---- registration, lease, status ---------------------------------------------------------

  private nodeObject(): Node {
    const o = this.options;
    const now = timeFromMs(Date.now());
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: o.nodeName,
        labels: {
          'kubernetes.io/hostname': o.nodeName,
          'kubernetes.io/os': platform(),
          'kubernetes.io/arch': arch() === 'x64' ? 'amd64' : arch(),
          ...o.labels,
        },
      },
      spec: o.registerWithTaints === undefined ? {} : { taints: [...o.registerWithTaints] },
      status: {
        // No capacity until the runtime reports: nothing is scheduled here before.
        addresses: [
          { type: 'InternalIP', address: o.nodeIP },
          { type: 'Hostname', address: o.nodeName },
        ],
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'KubeletNotReady',
            message: 'waiting for a pod CIDR and the container runtime',
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
        nodeInfo: {
          kubeletVersion: agentKubeletVersion,
          kubeProxyVersion: agentKubeletVersion,
          containerRuntimeVersion: '',
          operatingSystem: platform(),
          architecture: arch() === 'x64' ? 'amd64' : arch(),
          osImage: '',
          kernelVersion: '',
          machineID: hostname(),
          systemUUID: '',
          bootID: '',
        },
      },
    };
  }

  /** Creates the Node, or takes over the one an earlier run registered (labels and addresses refreshed). */
  private async register(): Promise<Node> {
    const wanted = this.nodeObject();
    for (let attempt = 0; ; attempt++) {
      try {
        const created = await this.nodes.create(wanted);
        this.log.info({ cpus: cpus().length, memory: totalmem() }, 'node registered');
        return created;
      } catch (err) {
        if (!isAlreadyExists(err)) {
          if (this.abort.signal.aborted || attempt >= 30) throw err;
          this.log.warn({ err, attempt }, 'node registration failed; retrying');
          await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)), this.abort.signal);
          continue;
        }
      }
      const existing = await this.nodes.get(this.options.nodeName);
      try {
        const node = await this.nodes.update({
          ...existing,
          metadata: {
            ...existing.metadata,
            labels: { ...existing.metadata.labels, ...wanted.metadata.labels },
          },
        });
        this.log.info({ podCIDR: node.spec?.podCIDR }, 'node was registered before; adopted it');
        return node;
      } catch (err) {
        if (!isConflict(err) || attempt >= 30) throw err;
      }
    }
  }

  /** Polls the Node until the node IPAM controller gave it a pod CIDR (bounded). */
  private async waitForPodCIDR(): Promise<string> {
    const timeoutMs = this.options.podCIDRTimeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    let logged = false;
    for (;;) {
      const cidr = this.node?.spec?.podCIDR;
      if (cidr !== undefined && cidr !== '') return cidr;
      if (Date.now() > deadline) throw new PodCIDRTimeoutError(this.options.nodeName, timeoutMs);
      if (!logged) {
        this.log.info('waiting for the node IPAM controller to give this node a pod CIDR');
        logged = true;
      }
      await sleep(250, this.abort.signal);
      this.node = await this.nodes.get(this.options.nodeName).catch(() => this.node);
    }
  }

  private async heartbeat(): Promise<void> {
    const o = this.options;
    const interval = o.leaseRenewIntervalMs ?? defaultLeaseRenewIntervalMs;
    const duration = o.leaseDurationSeconds ?? defaultLeaseDurationSeconds;
    while (!this.abort.signal.aborted) {
      try {
        const wanted = nodeLeaseObject(o.nodeName, this.node?.metadata.uid ?? '', duration, Date.now());
        this.lease = await renewNodeLease(this.leases, wanted, this.lease);
        this.metrics.apiWrites.inc({ node: o.nodeName, write: 'lease', result: 'ok' });
      } catch (err) {
        this.lease = undefined;
        this.metrics.apiWrites.inc({ node: o.nodeName, write: 'lease', result: 'error' });
        this.log.warn({ err }, 'lease renewal failed');
      }
      // Renew sooner after a failure (kubelet retries at 200 ms doubling, up to the interval).
      await sleep(this.lease === undefined ? Math.min(interval, 1_000) : interval, this.abort.signal).catch(
        () => undefined,
      );
    }
  }

  private async statusLoop(): Promise<void> {
    const interval = this.options.nodeStatusIntervalMs ?? 10_000;
    while (!this.abort.signal.aborted) {
      await sleep(interval, this.abort.signal).catch(() => undefined);
      if (this.abort.signal.aborted) return;
      await this.reportStatus(false).catch((err: unknown) => {
        this.metrics.apiWrites.inc({ node: this.options.nodeName, write: 'node-status', result: 'error' });
        this.log.warn({ err }, 'node status update failed');
      });
    }
  }

  /** Writes the node's status when it changed, or when the last write is older than the report period. */
  private async reportStatus(force: boolean): Promise<void> {
    const runtime = this.runtime;
    if (runtime === undefined) return;
    const status = await runtime.nodeStatus(this.lastStatus);
    const reportMs = this.options.nodeStatusReportMs ?? 300_000;
    const unchanged =
      this.lastStatus !== undefined && statusFingerprint(status) === statusFingerprint(this.lastStatus);
    if (!force && unchanged && Date.now() - this.lastStatusWriteMs < reportMs) return;
    for (let attempt = 0; ; attempt++) {
      const node = this.node ?? (await this.nodes.get(this.options.nodeName));
      try {
        this.node = await this.nodes.updateStatus({ ...node, status });
        this.lastStatus = status;
        this.lastStatusWriteMs = Date.now();
        this.metrics.apiWrites.inc({ node: this.options.nodeName, write: 'node-status', result: 'ok' });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
        this.node = undefined;
      }
    }
  }

  // ---- AgentProtocol ----------------------------------------------------------------------

  private async serveLog(
    req: AgentProtocol['log']['req'],
    sink: {
      send(item: LogChunk): Promise<void>;
      end(): void;
      fail(err: unknown): void;
      readonly signal: AbortSignal;
    },
  ): Promise<void> {
    const kubelet = this.runtime?.kubelet;
    if (kubelet === undefined) {
      sink.fail(notFound({ group: '', resource: 'pods' }, req.pod));
      return;
    }
    if (req.container === undefined || req.container === '') {
      sink.fail(badRequest(`a container name must be specified for pod ${req.pod}`));
      return;
    }
    this.metrics.logStreams.inc({ node: this.options.nodeName });
    try {
      const logs = kubelet.logs(
        { namespace: req.namespace, name: req.pod },
        req.container,
        {
          ...(req.tailLines === undefined ? {} : { tailLines: req.tailLines }),
          ...(req.sinceSeconds === undefined ? {} : { sinceMs: Date.now() - req.sinceSeconds * 1000 }),
          ...(req.timestamps === undefined ? {} : { timestamps: req.timestamps }),
          ...(req.limitBytes === undefined ? {} : { limitBytes: req.limitBytes }),
          ...(req.follow === undefined ? {} : { follow: req.follow }),
          ...(req.previous === undefined ? {} : { previous: req.previous }),
        },
        sink.signal,
      );
      // A chunk may end inside a multi-byte character: the decoder keeps it for the next.
      const decoder = new StringDecoder('utf8');
      for await (const chunk of logs) {
        if (sink.signal.aborted) break;
        const text = decoder.write(chunk);
        if (text !== '') await sink.send({ text });
      }
      const rest = decoder.end();
      if (rest !== '' && !sink.signal.aborted) await sink.send({ text: rest });
      sink.end();
    } catch (err) {
      if (sink.signal.aborted) return;
      sink.fail(err instanceof PodNotFoundError ? badRequest(err.message) : err);
    } finally {
      this.metrics.logStreams.dec({ node: this.options.nodeName });
    }
  }
}
