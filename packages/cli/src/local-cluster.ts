import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** What `flo up` started, so that `flo down` and `flo status` can find it again. */
export interface ClusterState {
  readonly createdAt: string;
  readonly nats: ReadonlyArray<{
    name: string;
    pid: number;
    port: number;
    clusterPort: number;
    monitorPort: number;
  }>;
}

const stateFile = (home: string) => join(home, 'cluster.json');

export function readState(home: string): ClusterState | undefined {
  const file = stateFile(home);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ClusterState) : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
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

function natsBinary(): string {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (existsSync(p)) return p;
  }
  throw new Error('nats-server is not installed (apt-get install nats-server)');
}

export interface UpOptions {
  readonly home: string;
  readonly natsServers: number;
  readonly progress: (line: string) => void;
}

/**
 * Start the local cluster in the background: for now the 3-server NATS cluster every
 * component meets on. Processes outlive `flo up`; their pids and ports go to cluster.json.
 */
export async function up(options: UpOptions): Promise<ClusterState> {
  const { home, progress } = options;
  const existing = readState(home);
  if (existing?.nats.some((n) => isAlive(n.pid))) {
    throw new Error(`a cluster is already running from ${home} (flo down stops it)`);
  }
  mkdirSync(join(home, 'logs'), { recursive: true });
  const n = options.natsServers;
  const ports: number[] = [];
  while (ports.length < 3 * n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const nats: Array<ClusterState['nats'][number]> = [];
  for (let i = 0; i < n; i++) {
    const name = `nats${i + 1}`;
    const [port, clusterPort, monitorPort] = [ports[i]!, ports[n + i]!, ports[2 * n + i]!];
    const routes = ports
      .slice(n, 2 * n)
      .filter((p) => p !== clusterPort)
      .map((p) => `nats-route://127.0.0.1:${p}`);
    const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-n', name];
    if (n > 1)
      args.push(
        '--cluster_name',
        'flotilla',
        '--cluster',
        `nats://127.0.0.1:${clusterPort}`,
        '--routes',
        routes.join(','),
      );
    const fd = openSync(join(home, 'logs', `${name}.log`), 'a');
    const child = spawn(natsBinary(), args, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.unref();
    nats.push({ name, pid: child.pid!, port, clusterPort, monitorPort });
  }
  const state: ClusterState = { createdAt: new Date().toISOString(), nats };
  writeFileSync(stateFile(home), `${JSON.stringify(state, null, 2)}\n`);
  progress(`starting ${n} NATS servers`);
  for (const s of nats) {
    await waitForRoutes(s.monitorPort, n - 1, 15_000);
    progress(`  ${s.name} ready on 127.0.0.1:${s.port}`);
  }
  return state;
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

/** Stop everything `up` started (SIGTERM, then SIGKILL after a grace period) and forget it. */
export async function down(home: string, progress: (line: string) => void): Promise<boolean> {
  const state = readState(home);
  if (!state) return false;
  for (const s of state.nats) {
    if (isAlive(s.pid)) process.kill(s.pid, 'SIGTERM');
  }
  const deadline = Date.now() + 5_000;
  while (state.nats.some((s) => isAlive(s.pid)) && Date.now() < deadline) await delay(50);
  for (const s of state.nats) {
    if (isAlive(s.pid)) process.kill(s.pid, 'SIGKILL');
    progress(`stopped ${s.name}`);
  }
  rmSync(stateFile(home), { force: true });
  return true;
}
