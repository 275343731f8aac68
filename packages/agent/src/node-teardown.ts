import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blackholeMarkerFile } from './network/host-network.ts';

/** The script that runs `destroyNodeState` in a process of its own (see `teardownNodeInNetns`). */
export const nodeTeardownMain = fileURLToPath(new URL('./node-teardown-main.ts', import.meta.url));

/** How long one node's teardown may take before it is killed (pods stop with grace 0). */
export const defaultNodeTeardownTimeoutMs = 90_000;

export type NodeTeardownOptions = {
  /** The network namespace the node's agent ran in (its bridge and routes are there). */
  readonly netns: string;
  readonly node: string;
  /** The agent's own data directory (`<dataDir>/agent/<node>`). */
  readonly dataDir: string;
  /** Where the teardown's output goes. */
  readonly logFile: string;
  readonly timeoutMs?: number;
};

/**
 * Removes a node's pods, containerd, cgroups, mounts, bridge, blackhole route and data
 * from inside its network namespace, with the agent dead or alive. A node that never
 * reached its network setup (no blackhole marker) started no containerd: only its data
 * directory goes. Rejects when the teardown fails or times out.
 */
export async function teardownNodeInNetns(options: NodeTeardownOptions): Promise<void> {
  const marker = join(options.dataDir, blackholeMarkerFile);
  if (!existsSync(marker)) {
    rmSync(options.dataDir, { recursive: true, force: true });
    return;
  }
  const podCIDR = readFileSync(marker, 'utf8').trim();
  const fd = openSync(options.logFile, 'a');
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${options.netns}`,
      '--',
      process.execPath,
      nodeTeardownMain,
      options.node,
      options.dataDir,
      podCIDR,
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const timeoutMs = options.timeoutMs ?? defaultNodeTeardownTimeoutMs;
  const exit = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? '' : `exit ${code ?? signal}`);
    });
  });
  if (exit !== '') {
    throw new Error(`teardown of node ${options.node} failed (${exit}); see ${options.logFile}`);
  }
}
