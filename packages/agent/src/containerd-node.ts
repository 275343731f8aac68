import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger, sleep } from '@flotilla/actor';
import type { NodeStatus } from '@flotilla/api';
import {
  type ContainerdConfigOptions,
  containerdConfig,
  defaultContainerdConfigOptions,
} from './containerd/containerd-config.ts';
import { ContainerdSupervisor, runningContainerdPid } from './containerd/containerd-supervisor.ts';
import { CriClient } from './cri/cri-client.ts';
import { runHost } from './host-command.ts';
import { ensureLocalImages } from './images/local-images.ts';
import { Kubelet, type KubeletOptions } from './kubelet/kubelet.ts';
import { HostPodCgroups, nodeCgroupRoot, removeCgroupTree } from './kubelet/pod-cgroups.ts';
import type { ObjectLookup, PodSource, StatusSink } from './kubelet/pod-source.ts';
import { NetworkProber } from './kubelet/prober.ts';
import { HostVolumeManager, mountsUnder } from './kubelet/volumes.ts';
import { podNetwork } from './network/cni-config.ts';
import { setUpHostNetwork, tearDownHostNetwork } from './network/host-network.ts';
import { type MachineInfo, readMachineInfo } from './node/machine-info.ts';
import { buildNodeStatus, nodeAllocatable } from './node/node-status.ts';
import { defaultDataDir, type NodePaths, nodePaths } from './node-paths.ts';
import { CriRuntime } from './runtime/cri-runtime.ts';

/** Kubelet settings a node passes through; the rest it decides itself. */
export type KubeletTuning = Pick<
  KubeletOptions,
  | 'clusterDns'
  | 'hostResolvConf'
  | 'crashLoopBackoff'
  | 'imagePullBackoff'
  | 'relistIntervalMs'
  | 'resyncIntervalMs'
  | 'maxConcurrentSyncs'
  | 'volumeRefreshIntervalMs'
>;

export type ContainerdNodeOptions = KubeletTuning & {
  readonly nodeName: string;
  /** Default: /var/lib/flotilla/agent/<node name>. */
  readonly dataDir?: string;
  /** The node's pod CIDR (Node.spec.podCIDR). */
  readonly podCIDR: string;
  /** The node's address, reported as InternalIP and each pod's hostIP. */
  readonly hostIP: string;
  /**
   * Use the containerd answering on this socket instead of starting one. Its CNI setup
   * is then its owner's business; the agent still installs the blackhole route.
   */
  readonly containerdSocket?: string;
  readonly containerd?: Partial<ContainerdConfigOptions>;
  /** Build and import the busybox and pause images when they are missing (default true). */
  readonly localImages?: boolean;
  readonly source: PodSource;
  readonly statusSink: StatusSink;
  readonly lookup: ObjectLookup;
  readonly logger: Logger;
};

/**
 * A real node: its own containerd (started, supervised, adopted after an agent
 * restart), the CNI bridge network over its pod CIDR, the local images, and the kubelet.
 */
export class ContainerdNode {
  readonly paths: NodePaths;
  readonly runtime: CriRuntime;
  readonly kubelet: Kubelet;
  readonly machine: MachineInfo;
  readonly containerd: ContainerdSupervisor | undefined;
  private readonly options: ContainerdNodeOptions;
  private readonly cri: CriClient;
  private stopped = false;

  private constructor(
    options: ContainerdNodeOptions,
    paths: NodePaths,
    containerd: ContainerdSupervisor | undefined,
    cri: CriClient,
    machine: MachineInfo,
  ) {
    this.options = options;
    this.paths = paths;
    this.containerd = containerd;
    this.cri = cri;
    this.runtime = new CriRuntime(cri);
    this.machine = machine;
    const allocatable = nodeAllocatable({
      machine,
      runtime: { runtimeName: '', runtimeVersion: '', runtimeApiVersion: '' },
      runtimeConditions: [],
      internalIP: options.hostIP,
      nowMs: 0,
    });
    this.kubelet = new Kubelet({
      ...options,
      runtime: this.runtime,
      runtimeName: 'containerd',
      volumes: new HostVolumeManager(paths.podsDir, options.lookup),
      cgroups: new HostPodCgroups(nodeCgroupRoot(options.nodeName)),
      prober: new NetworkProber(this.runtime),
      podLogsDir: paths.podLogsDir,
      nodeAllocatable: allocatable,
    });
  }

  static async start(options: ContainerdNodeOptions): Promise<ContainerdNode> {
    const paths = nodePaths(options.nodeName, options.dataDir ?? defaultDataDir(options.nodeName));
    const log = options.logger.child({ component: 'node', node: options.nodeName });
    mkdirSync(paths.dataDir, { recursive: true });
    await setUpHostNetwork(paths, podNetwork(options.podCIDR));
    let containerd: ContainerdSupervisor | undefined;
    let socket = options.containerdSocket;
    if (socket === undefined) {
      containerd = new ContainerdSupervisor({
        paths,
        config: containerdConfig(paths, { ...defaultContainerdConfigOptions, ...options.containerd }),
        logger: options.logger,
      });
      await containerd.start();
      socket = paths.containerdSocket;
    }
    const cri = new CriClient(socket);
    if (options.localImages !== false) {
      await ensureLocalImages({
        runtime: new CriRuntime(cri),
        containerdSocket: socket,
        cacheDir: paths.imagesDir,
        logger: options.logger,
      });
    }
    const machine = await readMachineInfo(paths.dataDir);
    const node = new ContainerdNode(options, paths, containerd, cri, machine);
    node.kubelet.start();
    log.info({ podCIDR: options.podCIDR, socket, containerdPid: containerd?.pid }, 'node agent started');
    return node;
  }

  /** The Node's status now (for registration and heartbeats). */
  async nodeStatus(previous?: NodeStatus): Promise<NodeStatus> {
    const [runtime, conditions, images] = await Promise.all([
      this.runtime.version(),
      this.runtime.status().catch(() => []),
      this.runtime.listImages().catch(() => []),
    ]);
    return buildNodeStatus({
      machine: this.machine,
      runtime,
      runtimeConditions: conditions,
      internalIP: this.options.hostIP,
      nowMs: Date.now(),
      ...(previous === undefined ? {} : { previous }),
      images,
    });
  }

  /** Stops the agent's work and its containerd. Pods keep running; the next start adopts them. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.kubelet.stop();
    this.cri.close();
    await this.containerd?.stop();
  }

  /** Stops the agent and removes every pod, its containerd, network and data (teardown). */
  async destroy(): Promise<void> {
    if (!this.stopped) {
      await this.kubelet.stop();
      // While containerd still runs, so that it releases the pods' IPs and mounts itself.
      await removeAllPods(this.runtime, this.options.logger);
    }
    await this.stop();
    await destroyNodeState(this.paths, this.options.podCIDR, this.options.logger);
  }
}

/** How long removing the pods of a node being torn down may take. */
const teardownPodsTimeoutMs = 60_000;

/**
 * Removes everything a node agent left on the machine, whether or not the agent still
 * runs: its pods (through its containerd when it answers, else through runc directly),
 * containerd, shims, mounts under its data directory, the bridge, the blackhole route
 * and the data directory. Only objects of this node are touched: they are found by its
 * socket path, runc root and data directory.
 */
export async function destroyNodeState(paths: NodePaths, podCIDR: string, logger: Logger): Promise<void> {
  const log = logger.child({ component: 'teardown', node: paths.nodeName });
  let pid = runningContainerdPid(paths);
  if (pid === undefined) {
    // An agent may still be starting one: give containerd a moment to write its pid file.
    await sleep(100);
    pid = runningContainerdPid(paths);
  }
  if (pid !== undefined) {
    const cri = new CriClient(paths.containerdSocket);
    try {
      await removeAllPods(new CriRuntime(cri), logger);
    } finally {
      cri.close();
    }
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && isAlive(pid); i++) await sleep(25);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  // Anything containerd could not remove: its shims, then runc's containers.
  for (const shim of processesWithArg(paths.containerdSocket)) {
    log.warn({ pid: shim }, 'killing a leftover shim');
    try {
      process.kill(shim, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await removeRuncContainers(paths.runcRoot, log);
  await removeCgroupTree(nodeCgroupRoot(paths.nodeName));
  // The shared parent goes too once no other node's pods are under it.
  await removeCgroupTree(nodeCgroupRoot(''), { onlyIfEmpty: true });
  for (const mount of (await mountsUnder(paths.dataDir)).sort((a, b) => b.length - a.length)) {
    await runHost('umount', [mount]).catch(() => runHost('umount', ['-l', mount]).catch(() => undefined));
  }
  await tearDownHostNetwork(paths, podNetwork(podCIDR));
  rmSync(paths.dataDir, { recursive: true, force: true });
  log.info('node state removed');
}

/** Stops and removes every container and sandbox of a runtime (the whole node is going away). */
async function removeAllPods(runtime: CriRuntime, logger: Logger): Promise<void> {
  const deadline = Date.now() + teardownPodsTimeoutMs;
  try {
    const containers = await runtime.listContainers();
    await Promise.all(containers.map((c) => runtime.stopContainer(c.id, 0).catch(() => undefined)));
    for (const c of containers) await runtime.removeContainer(c.id).catch(() => undefined);
    for (const s of await runtime.listPodSandboxes()) {
      if (Date.now() > deadline) break;
      await runtime.stopPodSandbox(s.id).catch(() => undefined);
      await runtime.removePodSandbox(s.id).catch(() => undefined);
    }
  } catch (err) {
    logger.warn({ err }, 'could not remove the pods through containerd');
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids whose command line has `arg` as one argument (shims carry their containerd's socket). */
function processesWithArg(arg: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(arg)) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** runc's state of the shim's containers is under `<runc root>/<containerd namespace>`. */
async function removeRuncContainers(runcRoot: string, log: Logger): Promise<void> {
  let namespaces: string[];
  try {
    namespaces = readdirSync(runcRoot);
  } catch {
    return;
  }
  for (const ns of namespaces) {
    const root = join(runcRoot, ns);
    let listing: string;
    try {
      listing = await runHost('runc', ['--root', root, 'list', '--quiet']);
    } catch {
      continue;
    }
    for (const id of listing.split('\n').filter((l) => l.trim() !== '')) {
      log.warn({ id }, 'removing a leftover runc container');
      await runHost('runc', ['--root', root, 'delete', '--force', id]).catch(() => undefined);
    }
  }
}
