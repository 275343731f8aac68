/**
 * A cluster with real nodes on one machine: an underlay whose hosts are network
 * namespaces, a control plane (NATS listening on the underlay's root leg, so the hosts
 * reach it; store, API server, controller manager and scheduler as processes) and one
 * `flotilla agent` process per host, each running its pods on its own containerd inside
 * its namespace. kubectl reaches the API server on loopback with `kubeconfig`.
 *
 * Teardown (when the test file ends): agents killed, each node's pods, containerd,
 * cgroups and data removed from inside its namespace, then the namespaces and the root
 * namespace's guard routes, then the control plane.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeTeardownMain as teardownScript } from '@flotilla/agent';
import type { Underlay } from '@flotilla/agent/net';
import { registerCleanup } from '../cleanup.ts';
import { ControlPlane } from '../control-plane/control-plane.ts';
import { startNats } from '../nats.ts';
import { startUnderlay } from '../netns/hosts.ts';
import { type RootNetworkSnapshot, rootNetworkSnapshot } from '../netns/root-snapshot.ts';
import { lockNetnsScope } from '../netns/scope-lock.ts';
import { ManagedProcess } from '../process.ts';
import { tempDir } from '../tmp.ts';

const flotillaCli = fileURLToPath(new URL('../../../cli/src/flotilla.ts', import.meta.url));
const controllersMain = fileURLToPath(new URL('../../../controllers/src/main.ts', import.meta.url));

export type AgentClusterOptions = {
  /** Names the underlay and its namespaces: `[a-z][a-z0-9]{0,9}`. */
  readonly name: string;
  /** The hosts' subnet; .1 is the root namespace's leg, where NATS listens. */
  readonly underlayCIDR: string;
  /** Pod range (node CIDRs are /24s of it) and service range: blackholed in the root namespace. */
  readonly clusterCIDR: string;
  readonly serviceCIDR: string;
  /** The kube-dns cluster IP, inside serviceCIDR. */
  readonly clusterDNS: string;
  readonly nodes: readonly string[];
  /** API server replicas (default 1: the machine is small). */
  readonly apiServers?: number;
  /** Log level of every process (default FLOTILLA_MEMBER_LOG_LEVEL or `info` for agents, `warn` for the rest). */
  readonly logLevel?: string;
  /** How long to wait for another run holding the same names (default 120 s). */
  readonly scopeLockWaitMs?: number;
  /** Nodes whose agent runs the fake runtime (no containerd, no network): e.g. a control-plane node that only carries a taint. */
  readonly fakeRuntimeNodes?: readonly string[];
  /** `agent.leaseRenewIntervalMs` of every agent (default the agent's 10 s; at least 1 s). */
  readonly leaseRenewIntervalMs?: number;
  /**
   * Shorter node lifecycle timings for tests (Kubernetes' defaults are 40 s and 300 s).
   * Given, the controller manager runs as `controllers/src/main.ts` instead of
   * `flotilla controllers`, whose settings do not include these.
   */
  readonly controllers?: {
    /** --node-monitor-grace-period: a node silent this long turns Ready=Unknown. */
    readonly nodeMonitorGracePeriodMs?: number;
    /** The not-ready/unreachable NoExecute toleration pods without their own get. */
    readonly defaultTolerationSeconds?: number;
  };
};

export type AgentNode = {
  readonly name: string;
  /** The namespace acting as the machine. */
  readonly netns: string;
  /** Its InternalIP on the underlay. */
  readonly address: string;
  readonly dataDir: string;
  readonly process: ManagedProcess;
};

export class AgentCluster {
  readonly plane: ControlPlane;
  readonly underlay: Underlay;
  readonly nodes: ReadonlyMap<string, AgentNode>;
  readonly controllers: ManagedProcess;
  readonly scheduler: ManagedProcess;
  /** Logs of the agents, controller manager and scheduler; the nodes' data directories. */
  readonly dir: string;
  /** The root namespace's network state before the cluster was made (compare after `destroy`). */
  readonly rootBefore: RootNetworkSnapshot;

  private constructor(
    plane: ControlPlane,
    underlay: Underlay,
    nodes: Map<string, AgentNode>,
    controllers: ManagedProcess,
    scheduler: ManagedProcess,
    dir: string,
    rootBefore: RootNetworkSnapshot,
  ) {
    this.dir = dir;
    this.rootBefore = rootBefore;
    this.plane = plane;
    this.underlay = underlay;
    this.nodes = nodes;
    this.controllers = controllers;
    this.scheduler = scheduler;
  }

  get kubeconfig(): string {
    return this.plane.kubeconfig;
  }

  node(name: string): AgentNode {
    const n = this.nodes.get(name);
    if (n === undefined) throw new Error(`no agent node ${name}`);
    return n;
  }

  /**
   * Tears everything down now (what the end of the test file would do): agents killed,
   * each node's pods, containerd and data removed, namespaces and guard routes, the
   * control plane. The cleanups registered for the file find nothing left to do.
   */
  async destroy(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.process.kill()));
    await Promise.all([this.controllers.kill(), this.scheduler.kill()]);
    await Promise.all(
      [...this.nodes.values()].map((node) =>
        teardownNode(node.netns, node.name, node.dataDir, join(this.dir, `${node.name}-teardown.log`)),
      ),
    );
    await this.underlay.destroy();
    await this.plane.stop();
  }

  static async start(options: AgentClusterOptions): Promise<AgentCluster> {
    await lockNetnsScope(options.name, options.scopeLockWaitMs ?? 120_000);
    const rootBefore = await rootNetworkSnapshot();
    const rootAddress = hostAddress(options.underlayCIDR, 1);
    const underlay = await startUnderlay({
      name: options.name,
      cidr: options.underlayCIDR,
      guardedRanges: [options.clusterCIDR, options.serviceCIDR],
      rootAddress,
      hosts: options.nodes,
    });
    const dir = tempDir(`agents-${options.name}`);
    const nats = await startNats({ size: 1, host: rootAddress, dir: join(dir, 'nats') });
    // Every process starts while the store and API server come up: they only need NATS
    // to begin with, and retry until the API answers (Node takes seconds to load them).
    const clusterId = `a${randomBytes(4).toString('hex')}`;
    const memberLevel = options.logLevel ?? process.env.FLOTILLA_MEMBER_LOG_LEVEL ?? 'warn';
    const agentLevel = options.logLevel ?? process.env.FLOTILLA_MEMBER_LOG_LEVEL ?? 'info';
    const common = (level: string) => [
      '--cluster',
      clusterId,
      '--nats-servers',
      nats.urls.join(','),
      '--log-level',
      level,
    ];
    const flotilla = (name: string, args: readonly string[]) =>
      new ManagedProcess({
        name,
        command: process.execPath,
        args: [flotillaCli, ...args],
        logFile: join(dir, `${name}.log`),
      }).start();
    const nodes = new Map<string, AgentNode>();
    for (const name of options.nodes) {
      const host = underlay.host(name);
      const dataRoot = join(dir, name);
      const dataDir = join(dataRoot, 'agent', name);
      // Registered before the agent: cleanups run in reverse, so the agent is killed first.
      registerCleanup({
        name: `node ${name} teardown`,
        run: () => teardownNode(host.netns, name, dataDir, join(dir, `${name}-teardown.log`)),
      });
      const proc = new ManagedProcess({
        name: `agent-${name}`,
        command: 'nsenter',
        args: [
          `--net=/run/netns/${host.netns}`,
          '--',
          process.execPath,
          flotillaCli,
          'agent',
          ...common(agentLevel),
          '--member',
          name,
          '--data-dir',
          dataRoot,
          '--agent-node-ip',
          host.address,
          '--agent-cluster-dns',
          options.clusterDNS,
          '--controllers-cluster-cidr',
          options.clusterCIDR,
          '--apiserver-service-cidr',
          options.serviceCIDR,
          ...(options.fakeRuntimeNodes?.includes(name) === true ? ['--agent-runtime', 'fake'] : []),
          ...(options.leaseRenewIntervalMs === undefined
            ? []
            : ['--agent-lease-renew-interval-ms', String(options.leaseRenewIntervalMs)]),
        ],
        logFile: join(dir, `agent-${name}.log`),
      }).start();
      nodes.set(name, { name, netns: host.netns, address: host.address, dataDir, process: proc });
    }
    const controllers =
      options.controllers === undefined
        ? flotilla('controllers', [
            'controllers',
            '--member',
            'cm-0',
            ...common(memberLevel),
            '--controllers-cluster-cidr',
            options.clusterCIDR,
          ])
        : new ManagedProcess({
            name: 'controllers',
            command: process.execPath,
            args: [controllersMain],
            env: {
              FLOTILLA_CONTROLLERS_CONFIG: JSON.stringify({
                clusterId,
                member: 'cm-0',
                nats: nats.urls,
                logLevel: memberLevel,
                clusterCIDR: options.clusterCIDR,
                ...options.controllers,
              }),
            },
            logFile: join(dir, 'controllers.log'),
          }).start();
    const scheduler = flotilla('scheduler', ['scheduler', '--member', 'sched-0', ...common(memberLevel)]);
    const plane = await ControlPlane.start({
      nats,
      clusterId,
      apiServers: options.apiServers ?? 1,
      apiServer: { serviceClusterIPRange: options.serviceCIDR },
      logLevel: memberLevel,
    });
    return new AgentCluster(plane, underlay, nodes, controllers, scheduler, dir, rootBefore);
  }
}

/** The `index`th address of an IPv4 CIDR (1 → .1 of a /24). */
function hostAddress(cidr: string, index: number): string {
  const [base] = cidr.split('/');
  const octets = (base ?? '').split('.').map(Number);
  const n = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) + index;
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Removes a node's pods, containerd, cgroups, bridge and data from inside its namespace. */
async function teardownNode(netns: string, node: string, dataDir: string, logFile: string): Promise<void> {
  const marker = join(dataDir, 'blackhole-route');
  // Without the marker the node never reached its network setup, nor started containerd.
  if (!existsSync(marker)) {
    rmSync(dataDir, { recursive: true, force: true });
    return;
  }
  const podCIDR = readFileSync(marker, 'utf8').trim();
  const proc = new ManagedProcess({
    name: `teardown-${node}`,
    command: 'nsenter',
    args: [`--net=/run/netns/${netns}`, '--', process.execPath, teardownScript, node, dataDir, podCIDR],
    logFile,
  }).start();
  const timer = setTimeout(() => void proc.kill(), 90_000);
  const exit = await proc.waitExit();
  clearTimeout(timer);
  await proc.dispose();
  if (exit.code !== 0)
    throw new Error(`teardown of node ${node} failed (${JSON.stringify(exit)}); see ${logFile}`);
}
