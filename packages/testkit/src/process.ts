import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { registerCleanup } from './cleanup.ts';

export interface ProcessSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** stdout and stderr are appended here (kept across restarts), for post-mortems. */
  readonly logFile: string;
}

export type ExitInfo = { readonly code: number | null; readonly signal: NodeJS.Signals | null };

/**
 * A child process a test controls: SIGKILL, SIGSTOP/SIGCONT, restart with the same
 * command line. It is killed when the test file ends, or when the test process exits.
 */
export class ManagedProcess {
  readonly spec: ProcessSpec;
  private child: ChildProcess | undefined;
  private exited: Promise<ExitInfo> | undefined;
  private paused = false;
  private readonly unregister: () => void;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
    this.unregister = registerCleanup({
      name: spec.name,
      run: async () => {
        await this.kill();
      },
      onExit: () => this.killSync(),
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  start(): this {
    if (this.running) throw new Error(`${this.spec.name} is already running (pid ${this.pid})`);
    mkdirSync(dirname(this.spec.logFile), { recursive: true });
    const fd = openSync(this.spec.logFile, 'a');
    const child = spawn(this.spec.command, [...this.spec.args], {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.paused = false;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: -1, signal: null }));
    });
    return this;
  }

  /** Resolves when the current incarnation exits. */
  waitExit(): Promise<ExitInfo> {
    return this.exited ?? Promise.resolve({ code: null, signal: null });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child!.kill(sig);
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<ExitInfo> {
    if (!this.running) return this.waitExit();
    this.child!.kill('SIGKILL');
    this.paused = false;
    return this.waitExit();
  }

  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  async stop(graceMs = 5_000): Promise<ExitInfo> {
    if (!this.running) return this.waitExit();
    if (this.paused) this.resume();
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const info = await this.waitExit();
    clearTimeout(timer);
    return info;
  }

  pause(): void {
    this.signal('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  async restart(): Promise<void> {
    await this.kill();
    this.start();
  }

  /** Kill it and forget it: it will not be cleaned up again. */
  async dispose(): Promise<void> {
    await this.kill();
    this.unregister();
  }

  private killSync(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }
}
