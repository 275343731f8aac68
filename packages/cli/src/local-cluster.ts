import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const flotillaMain = fileURLToPath(new URL('./flotilla.ts', import.meta.url));

export type NatsProcess = {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
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

/** A node agent `flo up --workers N` started (the fake runtime: nodes and pod status, no containers). */
export type WorkerProcess = {
  readonly name: string;
  pid: number;
  readonly args: readonly string[];
};

/** What `flo up` started, so that every other `flo` command can find it again. */
export interface ClusterState {
  readonly createdAt: string;
  readonly cluster: string;
  readonly nats: readonly NatsProcess[];
  readonly members: MemberProcess[];
  /** Absent in state files of older versions. */
  readonly workers?: WorkerProcess[];
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
  return state.servers ? [...state.servers] : state.nats.map((n) => `nats://127.0.0.1:${n.port}`);
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
  return spawnDetached(process.execPath, [flotillaMain, ...w.args], join(home, 'logs', `${w.name}.log`));
}

export function startMemberProcess(home: string, m: MemberProcess): number {
  return spawnDetached(process.execPath, [flotillaMain, ...m.args], join(home, 'logs', `${m.name}.log`));
}

export interface UpOptions {
  readonly home: string;
  readonly members: number;
  /** Node agents on the fake runtime. */
  readonly workers?: number;
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
  const n = 3;
  const ports: number[] = [];
  while (ports.length < 3 * n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const nats: NatsProcess[] = [];
  for (let i = 0; i < n; i++) {
    const name = `nats${i + 1}`;
    const [port, clusterPort, monitorPort] = [ports[i]!, ports[n + i]!, ports[2 * n + i]!];
    const routes = ports
      .slice(n, 2 * n)
      .filter((p) => p !== clusterPort)
      .map((p) => `nats-route://127.0.0.1:${p}`);
    const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-n', name];
    args.push(
      '--cluster_name',
      'flotilla',
      '--cluster',
      `nats://127.0.0.1:${clusterPort}`,
      '--routes',
      routes.join(','),
    );
    const pid = spawnDetached(natsBinary(), args, join(home, 'logs', `${name}.log`));
    nats.push({ name, pid, port, clusterPort, monitorPort });
  }
  const state: ClusterState = {
    createdAt: new Date().toISOString(),
    cluster: 'local',
    nats,
    members: [],
    workers: [],
  };
  writeState(home, state);
  progress(`starting ${n} NATS servers`);
  for (const s of nats) await waitForRoutes(s.monitorPort, n - 1, 15_000);
  const names = Array.from({ length: options.members }, (_, i) => `m${i + 1}`);
  for (const [i, name] of names.entries()) {
    const m = memberSpec(home, state, name, i % n, await freePort(), names);
    m.pid = startMemberProcess(home, m);
    state.members.push(m);
  }
  writeState(home, state);
  progress(`starting ${names.length} control-plane members (${names.join(', ')})`);
  for (let i = 0; i < (options.workers ?? 0); i++) {
    const name = `w${i + 1}`;
    // Each talks to "its" NATS server too; the fake runtime needs no network of its own.
    const args = ['agent', '--member', name, '--cluster', state.cluster, '--data-dir', join(home, 'workers')];
    args.push('--nats-servers', `nats://127.0.0.1:${nats[i % n]!.port}`);
    args.push('--agent-runtime', 'fake', '--agent-node-ip', '127.0.0.1');
    const w: WorkerProcess = { name, pid: 0, args };
    w.pid = startWorkerProcess(home, w);
    state.workers!.push(w);
  }
  writeState(home, state);
  if (state.workers!.length > 0) {
    progress(
      `starting ${state.workers!.length} workers (${state.workers!.map((w) => w.name).join(', ')}; fake runtime)`,
    );
  }
  return state;
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
  args.push('--nats-servers', `nats://127.0.0.1:${state.nats[natsIndex]!.port}`);
  args.push('--apiserver-listen', `127.0.0.1:${apiPort}`);
  if (bootstrap) args.push('--store-bootstrap', bootstrap.join(','));
  return { name, pid: 0, dataDir, natsIndex, apiPort, args };
}

async function waitForRoutes(monitorPort: number, routes: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${monitorPort}/routez`);
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

/** Stop everything `up` started (members first, then NATS) and remove its state. */
export async function down(home: string, progress: (line: string) => void): Promise<boolean> {
  const state = readState(home);
  if (!state) return false;
  await stopPids((state.workers ?? []).map((w) => w.pid));
  for (const w of state.workers ?? []) progress(`stopped ${w.name}`);
  await stopPids(state.members.map((m) => m.pid));
  for (const m of state.members) progress(`stopped ${m.name}`);
  await stopPids(
    state.nats.map((n) => n.pid),
    5_000,
  );
  for (const n of state.nats) progress(`stopped ${n.name}`);
  rmSync(join(home, 'members'), { recursive: true, force: true });
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
