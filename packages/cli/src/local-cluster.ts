import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { nodePaths, teardownNodeInNetns } from '@flotilla/agent';
import { destroyUnderlay, netnsExists, switchNetnsName, Underlay } from '@flotilla/agent/net';

const flotillaMain = fileURLToPath(new URL('./flotilla.ts', import.meta.url));

export type NatsProcess = {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  /** The address it listens on for clients and monitoring (absent in older state files: loopback). */
  readonly host?: string;
};

export type MemberProcess = {
  readonly name: string;
  pid: number;
  readonly dataDir: string;
  /** Loopback port of this member's API server. */
  readonly apiPort: number;
  /** The NATS server this member talks to (its "machine's" server). */
  readonly natsIndex: number;
  readonly args: readonly string[];
};

export type WorkerRuntime = 'fake' | 'containerd';

/**
 * A node agent `flo up --workers N` started: on the fake runtime (Nodes and pod status, no
 * containers) or on containerd, in a network namespace of its own on the underlay.
 */
export type WorkerProcess = {
  readonly name: string;
  pid: number;
  /** The arguments of `flotilla` (containerd workers run them under `nsenter --net`). */
  readonly args: readonly string[];
  /** Absent in state files of older versions: fake. */
  readonly runtime?: WorkerRuntime;
  /** containerd workers: the namespace acting as the worker's machine, its address, the agent's data. */
  readonly netns?: string;
  readonly address?: string;
  readonly agentDataDir?: string;
};

/**
 * Names and ranges of the network `flo up` makes for containerd workers. They belong to
 * the project: the underlay's namespaces are `floup-*`, the root namespace gets only the
 * leg `floup-up` (where NATS listens) and blackhole routes for the three ranges.
 */
export type LocalNetwork = {
  readonly underlay: string;
  readonly underlayCIDR: string;
  /** The root namespace's address on the underlay: NATS listens here, so the workers reach it. */
  readonly rootAddress: string;
  readonly clusterCIDR: string;
  readonly serviceCIDR: string;
  /** The kube-dns cluster IP, inside serviceCIDR. */
  readonly clusterDNS: string;
};

export const localNetwork: LocalNetwork = {
  underlay: 'floup',
  underlayCIDR: '10.247.0.0/24',
  rootAddress: '10.247.0.1',
  clusterCIDR: '10.248.0.0/16',
  serviceCIDR: '10.249.0.0/16',
  clusterDNS: '10.249.0.10',
};

/** What `flo up` started, so that every other `flo` command can find it again. */
export interface ClusterState {
  readonly createdAt: string;
  readonly cluster: string;
  readonly nats: readonly NatsProcess[];
  readonly members: MemberProcess[];
  /** Absent in state files of older versions. */
  readonly workers?: WorkerProcess[];
  /** The underlay and ranges of containerd workers (absent when there are none). */
  readonly network?: LocalNetwork;
  /**
   * NATS URLs of a cluster `flo` did not start (`flo --config FILE`): its members are
   * found through the store, and nothing here has a pid.
   */
  readonly servers?: readonly string[];
}

const stateFile = (home: string) => join(home, 'cluster.json');

export function readState(home: string): ClusterState | undefined {
  const file = stateFile(home);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ClusterState) : undefined;
}

export function writeState(home: string, state: ClusterState): void {
  writeFileSync(stateFile(home), `${JSON.stringify(state, null, 2)}\n`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function natsUrls(state: ClusterState): string[] {
  return state.servers ? [...state.servers] : state.nats.map((n) => natsUrl(n));
}

export function natsUrl(n: NatsProcess): string {
  return `nats://${n.host ?? '127.0.0.1'}:${n.port}`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no free port')),
      );
    });
  });
}

export function natsBinary(): string {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (existsSync(p)) return p;
  }
  throw new Error('nats-server is not installed (apt-get install nats-server)');
}

/** What a containerd worker needs on the machine: [what, path] (Debian's paths and packages). */
const containerdTools: readonly (readonly [string, readonly string[], string])[] = [
  ['containerd', ['/usr/bin/containerd', '/usr/local/bin/containerd'], 'containerd'],
  ['runc', ['/usr/sbin/runc', '/usr/bin/runc'], 'runc'],
  ['ctr', ['/usr/bin/ctr', '/usr/local/bin/ctr'], 'containerd'],
  ['the CNI bridge plugin', ['/usr/lib/cni/bridge'], 'containernetworking-plugins'],
  ['iptables', ['/usr/sbin/iptables', '/sbin/iptables'], 'iptables'],
  ['busybox', ['/bin/busybox', '/usr/bin/busybox'], 'busybox-static'],
  ['nsenter', ['/usr/bin/nsenter', '/bin/nsenter'], 'util-linux'],
];

/**
 * Why containerd workers cannot run here (undefined when they can): they need Linux,
 * root (namespaces, bridges, routes, containerd) and containerd's tools.
 */
export function containerdUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `containerd workers need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'containerd workers need root (network namespaces, bridges, routes)';
  const missing = containerdTools.filter(([, paths]) => !paths.some((p) => existsSync(p)));
  if (missing.length > 0) {
    const debs = [...new Set(missing.map(([, , deb]) => deb))].join(' ');
    return `containerd workers need ${missing.map(([what]) => what).join(', ')} (apt-get install -y ${debs})`;
  }
  return undefined;
}

/** Start a detached process whose output goes to `logFile`; it outlives `flo`. */
function spawnDetached(command: string, args: readonly string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, [...args], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return child.pid;
}

export function startWorkerProcess(home: string, w: WorkerProcess): number {
  const log = join(home, 'logs', `${w.name}.log`);
  if (w.netns === undefined) return spawnDetached(process.execPath, [flotillaMain, ...w.args], log);
  // Only the network namespace differs (`ip netns exec` would also give it a mount
  // namespace, hiding containerd's mounts from the machine); nsenter execs the agent, so
  // the pid is the agent's.
  return spawnDetached(
    'nsenter',
    [`--net=/run/netns/${w.netns}`, '--', process.execPath, flotillaMain, ...w.args],
    log,
  );
}

export function startMemberProcess(home: string, m: MemberProcess): number {
  return spawnDetached(process.execPath, [flotillaMain, ...m.args], join(home, 'logs', `${m.name}.log`));
}

export interface UpOptions {
  readonly home: string;
  readonly members: number;
  /** Node agents. */
  readonly workers?: number;
  /** Their runtime (default fake). */
  readonly runtime?: WorkerRuntime;
  readonly progress: (line: string) => void;
}

/**
 * Start the local cluster in the background: a 3-server NATS cluster and the control-plane
 * members (each talking to "its" NATS server, as on separate machines). Pids and ports go
 * to cluster.json.
 */
export async function up(options: UpOptions): Promise<ClusterState> {
  const { home, progress } = options;
  const existing = readState(home);
  if (
    existing &&
    [...existing.nats, ...existing.members, ...(existing.workers ?? [])].some((p) => isAlive(p.pid))
  ) {
    throw new Error(`a cluster is already running from ${home} (flo down stops it)`);
  }
  mkdirSync(join(home, 'logs'), { recursive: true });
  const workerNames = Array.from({ length: options.workers ?? 0 }, (_, i) => `w${i + 1}`);
  const runtime: WorkerRuntime = options.runtime ?? 'fake';
  const network = runtime === 'containerd' && workerNames.length > 0 ? localNetwork : undefined;
  if (network) {
    // Fails now, not in the agent, when the home's path makes containerd's socket path too long.
    for (const name of workerNames) nodePaths(name, agentDataDir(home, name));
    if (netnsExists(switchNetnsName(network.underlay))) {
      throw new Error(
        `network namespace ${switchNetnsName(network.underlay)} exists: another flo cluster with containerd workers runs on this machine (flo down in its FLOTILLA_HOME removes it)`,
      );
    }
  }
  const state: ClusterState = {
    createdAt: new Date().toISOString(),
    cluster: 'local',
    nats: [],
    members: [],
    workers: [],
    ...(network ? { network } : {}),
  };
  const hosts = new Map<string, { readonly netns: string; readonly address: string }>();
  if (network) {
    // Recorded before anything is made, so that flo down removes what a failed up made.
    writeState(home, state);
    const underlay = await Underlay.create(underlayOptions(network));
    for (const name of workerNames) hosts.set(name, await underlay.addHost(name));
    progress(
      `made underlay ${network.underlay} (${network.underlayCIDR}; NATS on ${network.rootAddress}; pods ${network.clusterCIDR}, services ${network.serviceCIDR}, blackholed outside it)`,
    );
  }
  // Workers in namespaces reach NATS on the underlay's root leg; without them, loopback.
  const natsHost = network?.rootAddress ?? '127.0.0.1';
  const n = 3;
  const ports: number[] = [];
  while (ports.length < 3 * n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  for (let i = 0; i < n; i++) {
    const name = `nats${i + 1}`;
    const [port, clusterPort, monitorPort] = [ports[i]!, ports[n + i]!, ports[2 * n + i]!];
    const routes = ports
      .slice(n, 2 * n)
      .filter((p) => p !== clusterPort)
      .map((p) => `nats-route://127.0.0.1:${p}`);
    const args = ['-a', natsHost, '-p', String(port), '-m', String(monitorPort), '-n', name];
    args.push(
      '--cluster_name',
      'flotilla',
      '--cluster',
      `nats://127.0.0.1:${clusterPort}`,
      '--routes',
      routes.join(','),
    );
    const pid = spawnDetached(natsBinary(), args, join(home, 'logs', `${name}.log`));
    (state.nats as NatsProcess[]).push({ name, pid, port, clusterPort, monitorPort, host: natsHost });
  }
  writeState(home, state);
  progress(`starting ${n} NATS servers (${natsHost})`);
  for (const s of state.nats) await waitForRoutes(natsHost, s.monitorPort, n - 1, 15_000);
  const names = Array.from({ length: options.members }, (_, i) => `m${i + 1}`);
  for (const [i, name] of names.entries()) {
    const m = memberSpec(home, state, name, i % n, await freePort(), names);
    m.pid = startMemberProcess(home, m);
    state.members.push(m);
  }
  writeState(home, state);
  progress(`starting ${names.length} control-plane members (${names.join(', ')})`);
  for (const [i, name] of workerNames.entries()) {
    // Each talks to "its" NATS server too.
    const nats = state.nats[i % n]!;
    const args = ['agent', '--member', name, '--cluster', state.cluster];
    args.push('--nats-servers', natsUrl(nats), '--agent-runtime', runtime);
    const host = hosts.get(name);
    let w: WorkerProcess;
    if (network && host) {
      args.push('--data-dir', workerDataRoot(home, name), '--agent-node-ip', host.address);
      args.push('--agent-cluster-dns', network.clusterDNS);
      args.push(
        '--controllers-cluster-cidr',
        network.clusterCIDR,
        '--apiserver-service-cidr',
        network.serviceCIDR,
      );
      w = {
        name,
        pid: 0,
        args,
        runtime,
        netns: host.netns,
        address: host.address,
        agentDataDir: agentDataDir(home, name),
      };
    } else {
      // The fake runtime needs no network of its own.
      args.push('--data-dir', join(home, 'workers'), '--agent-node-ip', '127.0.0.1');
      w = { name, pid: 0, args, runtime };
    }
    w.pid = startWorkerProcess(home, w);
    state.workers!.push(w);
  }
  writeState(home, state);
  if (workerNames.length > 0) {
    progress(
      `starting ${workerNames.length} worker${workerNames.length === 1 ? '' : 's'} (${workerNames.join(', ')}; ${runtime} runtime${network ? `, each in its own network namespace on ${network.underlay} with its own containerd` : ''})`,
    );
  }
  return state;
}

/** `--data-dir` of a containerd worker; the agent keeps its data in `agent/<name>` under it. */
function workerDataRoot(home: string, name: string): string {
  return join(home, 'workers', name);
}

function agentDataDir(home: string, name: string): string {
  return join(workerDataRoot(home, name), 'agent', name);
}

function underlayOptions(network: LocalNetwork) {
  return {
    name: network.underlay,
    cidr: network.underlayCIDR,
    guardedRanges: [network.clusterCIDR, network.serviceCIDR],
    rootAddress: network.rootAddress,
  };
}

/** The command line of a member; `bootstrap` only for the founding members. */
export function memberSpec(
  home: string,
  state: ClusterState,
  name: string,
  natsIndex: number,
  apiPort: number,
  bootstrap?: readonly string[],
): MemberProcess {
  const dataDir = join(home, 'members', name);
  const args = ['server', '--member', name, '--cluster', state.cluster, '--data-dir', dataDir];
  args.push('--nats-servers', natsUrl(state.nats[natsIndex]!));
  args.push('--apiserver-listen', `127.0.0.1:${apiPort}`);
  if (state.network) {
    args.push('--controllers-cluster-cidr', state.network.clusterCIDR);
    args.push('--apiserver-service-cidr', state.network.serviceCIDR);
  }
  if (bootstrap) args.push('--store-bootstrap', bootstrap.join(','));
  return { name, pid: 0, dataDir, natsIndex, apiPort, args };
}

async function waitForRoutes(
  host: string,
  monitorPort: number,
  routes: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${host}:${monitorPort}/routez`);
      const body = (await res.json()) as { num_routes?: number };
      if ((body.num_routes ?? 0) >= routes) return;
    } catch {
      // not listening yet
    }
    await delay(50);
  }
  throw new Error(`NATS on monitor port ${monitorPort} did not become ready in ${timeoutMs} ms`);
}

/** SIGTERM every pid, then SIGKILL what is left after `graceMs`. */
export async function stopPids(pids: readonly number[], graceMs = 10_000): Promise<void> {
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await delay(50);
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

/**
 * Stop everything `up` started (workers first, then members, then NATS) and remove its
 * state: containerd workers' pods, containerd, cgroups and data (torn down from inside
 * their namespaces), and at the end the underlay's namespaces, root leg and blackhole routes.
 */
export async function down(home: string, progress: (line: string) => void): Promise<boolean> {
  const state = readState(home);
  if (!state) return false;
  const workers = state.workers ?? [];
  await stopPids(workers.map((w) => w.pid));
  for (const w of workers) progress(`stopped ${w.name}`);
  const failures: string[] = [];
  // The teardowns need no control plane: the members stop meanwhile.
  const membersStopped = stopPids(state.members.map((m) => m.pid));
  await Promise.all(
    workers.map(async (w) => {
      if (w.netns === undefined || w.agentDataDir === undefined || !netnsExists(w.netns)) return;
      try {
        await teardownNodeInNetns({
          netns: w.netns,
          node: w.name,
          dataDir: w.agentDataDir,
          logFile: join(home, 'logs', `${w.name}-teardown.log`),
        });
        progress(`removed ${w.name}'s pods, containerd and data`);
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }),
  );
  await membersStopped;
  for (const m of state.members) progress(`stopped ${m.name}`);
  await stopPids(
    state.nats.map((n) => n.pid),
    5_000,
  );
  for (const n of state.nats) progress(`stopped ${n.name}`);
  // Last: NATS listened on the underlay's root leg, and members lose it otherwise.
  if (state.network) {
    await destroyUnderlay(underlayOptions(state.network));
    progress(
      `removed underlay ${state.network.underlay} (namespaces, ${state.network.underlay}-up, blackhole routes)`,
    );
  }
  rmSync(join(home, 'members'), { recursive: true, force: true });
  if (failures.length > 0) {
    // The workers' data is kept for a look (and another flo down); the state file too.
    throw new Error(failures.join('; '));
  }
  rmSync(join(home, 'workers'), { recursive: true, force: true });
  rmSync(stateFile(home), { force: true });
  return true;
}

/** A kubeconfig for the local cluster's API servers (plain HTTP on loopback). */
export function writeKubeconfig(home: string, state: ClusterState): string {
  const file = join(home, 'kubeconfig');
  const server = `http://127.0.0.1:${state.members[0]!.apiPort}`;
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: flotilla-local',
    '  cluster:',
    `    server: ${server}`,
    'contexts:',
    '- name: flotilla-local',
    '  context:',
    '    cluster: flotilla-local',
    '    namespace: default',
    '    user: flotilla-local',
    'current-context: flotilla-local',
    'users:',
    '- name: flotilla-local',
    '  user: {}',
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Resolves true once every member's API server answers /readyz (false after `timeoutMs`). */
export async function waitForApiServers(state: ClusterState, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (const m of state.members) {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${m.apiPort}/readyz`);
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) return false;
      await delay(100);
    }
  }
  return true;
}
