import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePorts } from './ports.ts';
import { ManagedProcess } from './process.ts';
import { tempDir } from './tmp.ts';

export interface NatsServer {
  readonly name: string;
  readonly port: number;
  /** `nats://<host>:<port>` (host 127.0.0.1 unless the cluster was started with another). */
  readonly url: string;
  /** Where clients and the monitoring port listen. */
  readonly host: string;
  readonly monitorPort: number;
  readonly process: ManagedProcess;
}

export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  /** Client URLs of every server, for a connection that fails over between them. */
  readonly urls: readonly string[];
  /** Kill (SIGKILL) one server. */
  kill(index: number): Promise<void>;
  /** Start a killed server again on its ports, and wait until it serves and routes. */
  restart(index: number): Promise<void>;
  pause(index: number): void;
  resume(index: number): void;
  stop(): Promise<void>;
}

export interface StartNatsOptions {
  /** 1 for a single server, 3 for a cluster with full routes. */
  readonly size?: number;
  readonly dir?: string;
  /** Max payload in bytes (the server's default is 1 MiB). */
  readonly maxPayload?: number;
  /**
   * Listen for clients (and monitoring) on this address instead of loopback, e.g. the
   * root leg of an underlay so that processes in network namespaces reach it. Routes
   * between the servers stay on loopback.
   */
  readonly host?: string;
}

export function natsServerBinary(): string {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (existsSync(p)) return p;
  }
  return 'nats-server';
}

/**
 * Start `nats-server` on free loopback ports: one server, or a cluster whose servers route
 * to each other. Resolves once every server accepts clients (and, for a cluster, every
 * route is up). Everything is killed when the test file ends.
 */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsCluster> {
  const size = options.size ?? 1;
  const dir = options.dir ?? tempDir('nats');
  const ports = await freePorts(size * 3);
  const clusterPorts = ports.slice(size, 2 * size);
  const servers: NatsServer[] = [];
  for (let i = 0; i < size; i++) {
    const port = ports[i]!;
    const monitorPort = ports[2 * size + i]!;
    const name = `nats${i + 1}`;
    const host = options.host ?? '127.0.0.1';
    const args = ['-a', host, '-p', String(port), '-m', String(monitorPort), '-n', name];
    if (options.maxPayload) args.push('--max_payload', String(options.maxPayload));
    if (size > 1) {
      const routes = clusterPorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`);
      args.push(
        '--cluster_name',
        'flotilla',
        '--cluster',
        `nats://127.0.0.1:${clusterPorts[i]}`,
        '--routes',
        routes.join(','),
      );
    }
    const process = new ManagedProcess({
      name,
      command: natsServerBinary(),
      args,
      logFile: join(dir, `${name}.log`),
    }).start();
    servers.push({ name, port, host, url: `nats://${host}:${port}`, monitorPort, process });
  }
  await Promise.all(servers.map((s) => waitReady(s, size - 1)));
  return {
    servers,
    urls: servers.map((s) => s.url),
    kill: async (i) => {
      await server(servers, i).process.kill();
    },
    restart: async (i) => {
      const s = server(servers, i);
      await s.process.kill();
      s.process.start();
      await waitReady(s, size - 1);
    },
    pause: (i) => server(servers, i).process.pause(),
    resume: (i) => server(servers, i).process.resume(),
    stop: async () => {
      await Promise.all(servers.map((s) => s.process.dispose()));
    },
  };
}

function server(servers: readonly NatsServer[], i: number): NatsServer {
  const s = servers[i];
  if (!s) throw new Error(`no nats server #${i} (cluster of ${servers.length})`);
  return s;
}

async function waitReady(s: NatsServer, routes: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!s.process.running) throw new Error(`${s.name} exited during start; see ${s.process.spec.logFile}`);
    try {
      const res = await fetch(`http://${s.host}:${s.monitorPort}/routez`);
      const body = (await res.json()) as { num_routes?: number };
      if ((body.num_routes ?? 0) >= routes) return;
      last = `${body.num_routes ?? 0}/${routes} routes`;
    } catch (err) {
      last = String(err);
    }
    await delay(25);
  }
  throw new Error(`${s.name} not ready after ${timeoutMs} ms (${last}); see ${s.process.spec.logFile}`);
}
