import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ManagedProcess } from '../../process.ts';

export type DockerAvailability =
  | { readonly ok: true; readonly host: string }
  | { readonly ok: false; readonly reason: string };

const pingTimeoutMs = 3_000;
const dockerdStartTimeoutMs = 60_000;

function socketOf(host: string): string | undefined {
  return host.startsWith('unix://') ? host.slice('unix://'.length) : undefined;
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: pingTimeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Whether the containers backend can run here, and on which daemon (`host`, else
 * DOCKER_HOST, else the default socket). It needs root (it enters the containers' network
 * namespaces to drop packets) and a daemon that answers.
 */
export async function dockerAvailability(host?: string): Promise<DockerAvailability> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root' };
  const chosen = host ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  const socket = socketOf(chosen);
  if (socket === undefined) return { ok: false, reason: `DOCKER_HOST ${chosen} is not a unix socket` };
  if (!existsSync(socket)) return { ok: false, reason: `no Docker daemon at ${chosen}` };
  if (!(await ping(socket))) return { ok: false, reason: `the Docker daemon at ${chosen} does not answer` };
  return { ok: true, host: chosen };
}

/**
 * Point testcontainers at `host`. Its reaper (Ryuk) is an image from a registry, which this
 * machine cannot pull: the harness removes what it made itself.
 */
export function useDockerHost(host: string): string {
  process.env.DOCKER_HOST = host;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
  return host;
}

/**
 * A Docker daemon of our own under `dir` (data, exec root, socket), for a run that has
 * none: no default bridge, and no iptables rules of its own in the machine's namespace
 * (the harness routes to its containers directly and drops packets inside them).
 */
export async function startDockerd(dir: string): Promise<{ readonly host: string; stop(): Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'docker.sock');
  const proc = new ManagedProcess({
    name: 'dockerd',
    command: 'dockerd',
    args: [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '-H',
      `unix://${socket}`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
    ],
    logFile: join(dir, 'dockerd.log'),
  }).start();
  const deadline = Date.now() + dockerdStartTimeoutMs;
  while (!(existsSync(socket) && (await ping(socket)))) {
    if (!proc.running) throw new Error(`dockerd exited; see ${proc.spec.logFile}`);
    if (Date.now() > deadline) throw new Error(`dockerd did not answer in ${dockerdStartTimeoutMs} ms`);
    await delay(200);
  }
  return { host: `unix://${socket}`, stop: async () => void (await proc.stop(20_000)) };
}
