import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { type BackoffPolicy, backoffDelayMs, type Logger, sleep } from '@flotilla/actor';
import { CriClient } from '../cri/cri-client.ts';
import { ContainerdError } from '../errors.ts';
import type { NodePaths } from '../node-paths.ts';

export type ContainerdSupervisorOptions = {
  readonly paths: NodePaths;
  /** The config file's text (see containerd-config.ts); written before every start. */
  readonly config: string;
  readonly binary?: string;
  readonly logger: Logger;
  /** How long containerd may take to answer on its socket after a start. */
  readonly readyTimeoutMs?: number;
  readonly restartBackoff?: BackoffPolicy;
  /** How often a containerd this agent adopted (not its child) is checked for life. */
  readonly adoptedPollMs?: number;
  /** containerd's log is moved aside at start when it is larger than this. */
  readonly maxLogBytes?: number;
};

export const defaultContainerdRestartBackoff: BackoffPolicy = {
  initialMs: 500,
  maxMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
};
/** A containerd that ran this long before dying starts the back-off over. */
const stableRunMs = 60_000;
/** How often the socket is tried while waiting for containerd to come up. */
const readyPollMs = 50;
/** Deadline of one readiness probe (a Version call). */
const readyProbeMs = 2_000;

/**
 * Starts and supervises the agent's own containerd. It is started detached, so it (and
 * the pods' shims, which containerd starts) outlive an agent that is killed: the next
 * agent finds it through the pid file and adopts it instead of starting another. When
 * it dies it is started again with back-off; containers keep running meanwhile (their
 * shims hold them) and the new containerd reconnects to them.
 */
export class ContainerdSupervisor {
  private readonly options: ContainerdSupervisorOptions;
  private readonly log: Logger;
  private child: ChildProcess | undefined;
  private currentPid: number | undefined;
  private stopping = false;
  private restartAttempt = 0;
  private startedAtMs = 0;
  private adoptedTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;

  constructor(options: ContainerdSupervisorOptions) {
    this.options = options;
    this.log = options.logger.child({ component: 'containerd' });
  }

  get pid(): number | undefined {
    return this.currentPid;
  }

  /** How many times containerd was started again after dying. */
  get restartCount(): number {
    return this.restarts;
  }

  /** Adopts a running containerd of this node, or starts one; resolves when it answers. */
  async start(): Promise<void> {
    this.stopping = false;
    const p = this.options.paths;
    for (const dir of [p.containerdDir, p.containerdRoot, p.containerdState, p.runcRoot, p.cniConfDir]) {
      mkdirSync(dir, { recursive: true });
    }
    writeFileSync(p.containerdConfig, this.options.config);
    const existing = runningContainerdPid(p);
    if (existing !== undefined) {
      this.log.info({ pid: existing }, 'adopting the running containerd');
      this.adopt(existing);
    } else {
      this.spawnContainerd();
    }
    await this.waitReady();
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Pods keep running: their shims do not stop. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.adoptedTimer);
    clearTimeout(this.restartTimer);
    const pid = this.currentPid;
    if (pid === undefined || !alive(pid)) return;
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    if (alive(pid)) {
      this.log.warn({ pid }, 'containerd ignored SIGTERM; killing it');
      signal(pid, 'SIGKILL');
      while (alive(pid)) await sleep(20);
    }
    this.currentPid = undefined;
    this.child = undefined;
  }

  private spawnContainerd(): void {
    const p = this.options.paths;
    rotateLog(p.containerdLog, this.options.maxLogBytes ?? 10 * 1024 * 1024);
    const fd = openSync(p.containerdLog, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.options.binary ?? 'containerd', ['--config', p.containerdConfig], {
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    child.unref();
    this.child = child;
    this.currentPid = child.pid;
    this.startedAtMs = Date.now();
    if (child.pid !== undefined) writeFileSync(p.containerdPidFile, `${child.pid}\n`);
    this.log.info({ pid: child.pid }, 'started containerd');
    child.once('error', (err) => this.log.error({ err }, 'containerd could not be started'));
    child.once('exit', (code, sig) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.onExit(`exit code ${code}, signal ${sig}`);
    });
  }

  private adopt(pid: number): void {
    this.currentPid = pid;
    this.startedAtMs = Date.now();
    this.adoptedTimer = setInterval(() => {
      if (this.currentPid === pid && !alive(pid)) {
        clearInterval(this.adoptedTimer);
        this.onExit('the adopted process is gone');
      }
    }, this.options.adoptedPollMs ?? 1_000);
    this.adoptedTimer.unref();
  }

  private onExit(how: string): void {
    this.currentPid = undefined;
    if (this.stopping) return;
    if (Date.now() - this.startedAtMs > stableRunMs) this.restartAttempt = 0;
    const delayMs = backoffDelayMs(
      this.restartAttempt++,
      this.options.restartBackoff ?? defaultContainerdRestartBackoff,
    );
    this.log.error({ how, delayMs }, 'containerd died; starting it again');
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.restarts += 1;
      this.spawnContainerd();
      this.waitReady().catch((err) => this.log.error({ err }, 'restarted containerd does not answer'));
    }, delayMs);
    this.restartTimer.unref();
  }

  private async waitReady(): Promise<void> {
    const p = this.options.paths;
    const timeoutMs = this.options.readyTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const client = new CriClient(p.containerdSocket);
    try {
      let lastError: unknown;
      while (Date.now() < deadline) {
        if (this.currentPid === undefined || !alive(this.currentPid)) {
          throw new ContainerdError(`containerd exited while starting; see ${p.containerdLog}`);
        }
        if (existsSync(p.containerdSocket)) {
          try {
            await client.call('RuntimeService', 'Version', { version: 'v1' }, readyProbeMs);
            return;
          } catch (err) {
            lastError = err;
          }
        }
        await sleep(readyPollMs);
      }
      throw new ContainerdError(
        `containerd did not answer on ${p.containerdSocket} within ${timeoutMs} ms; see ${p.containerdLog}`,
        { lastError: String(lastError) },
      );
    } finally {
      client.close();
    }
  }
}

/** The pid in the node's pid file, when that process is alive and is this node's containerd. */
export function runningContainerdPid(paths: NodePaths): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(paths.containerdPidFile, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let cmdline: string[];
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  // A recycled pid belongs to another program: only our config path identifies ours.
  const i = cmdline.indexOf('--config');
  return i >= 0 && cmdline[i + 1] === paths.containerdConfig ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function rotateLog(path: string, maxBytes: number): void {
  try {
    if (statSync(path).size > maxBytes) renameSync(path, `${path}.1`);
  } catch {
    // no log yet
  }
}
