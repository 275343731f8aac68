// `flo up --workers 1` as root: the worker runs on containerd in a network namespace of
// its own, a busybox pod started with kubectl runs there with a pod IP, and `flo down`
// leaves the machine's root network namespace as it found it. Needs root.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  diffSnapshots,
  lockNetnsScope,
  type RootNetworkSnapshot,
  reportRootSkip,
  rootNetworkSnapshot,
  tempDir,
  unrelatedTo,
} from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localNetwork, readState } from '../src/index.ts';

const run = promisify(execFile);
const flo = fileURLToPath(new URL('../src/flo.ts', import.meta.url));
/** How long a run waits for another run (or flo cluster of this file's names) to finish. */
const scopeLockWaitMs = 300_000;
const podRunningTimeoutMs = 60_000;

describe.runIf(reportRootSkip('flo containerd e2e'))('flo up with a containerd worker', () => {
  const home = tempDir('flo-ctrd');
  const env = { ...process.env, FLOTILLA_HOME: home };
  const floCmd = async (...args: string[]) =>
    (await run(process.execPath, [flo, ...args], { env, timeout: 240_000 })).stdout;
  let before: RootNetworkSnapshot | undefined;

  beforeAll(async () => {
    await lockNetnsScope(localNetwork.underlay, scopeLockWaitMs);
    before = await rootNetworkSnapshot();
  });

  afterAll(async () => {
    // Whatever a failed test left running.
    await floCmd('down').catch(() => undefined);
  });

  it('runs a busybox pod on the worker, and down removes everything', async () => {
    const t0 = performance.now();
    const upOut = await floCmd('up', '--workers', '1');
    expect(upOut).toMatch(/^workers: 1 on the containerd runtime/m);
    expect(upOut).toMatch(/cluster healthy after/);
    const state = readState(home)!;
    expect(state.workers!.map((w) => [w.name, w.runtime, w.netns])).toEqual([
      ['w1', 'containerd', `${localNetwork.underlay}-w1`],
    ]);
    const kubeconfig = /^export KUBECONFIG=(.+)$/m.exec(upOut)![1]!;
    const kubectl = async (...args: string[]) =>
      (await run('/usr/bin/kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000 })).stdout;

    expect(
      await kubectl(
        'get',
        'nodes',
        '-o',
        'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}',
      ),
    ).toBe('w1=True ');
    await kubectl(
      'run',
      'bb',
      '--image',
      'localhost/busybox:1',
      '--image-pull-policy',
      'IfNotPresent',
      '--restart',
      'Never',
      '--',
      'sleep',
      '3600',
    );
    const deadline = performance.now() + podRunningTimeoutMs;
    let pod = '';
    for (;;) {
      pod = await kubectl(
        'get',
        'pod',
        'bb',
        '-o',
        'jsonpath={.status.phase} {.status.podIP} {.spec.nodeName}',
      );
      if (pod.startsWith('Running ') || performance.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(pod).toMatch(/^Running 10\.248\.\d+\.\d+ w1$/);
    const t1 = performance.now();

    const downOut = await floCmd('down');
    expect(downOut).toContain("removed w1's pods, containerd and data");
    expect(downOut).toContain('cluster down');
    expect(readState(home)).toBeUndefined();
    const diff = diffSnapshots(
      before!,
      await rootNetworkSnapshot(),
      unrelatedTo({
        prefixes: [`${localNetwork.underlay}-`],
        ranges: [localNetwork.underlayCIDR, localNetwork.clusterCIDR, localNetwork.serviceCIDR],
      }),
    );
    expect(diff).toEqual({ added: [], removed: [] });
    process.stdout.write(
      `flo containerd e2e: up to pod Running ${((t1 - t0) / 1000).toFixed(1)} s, down ${((performance.now() - t1) / 1000).toFixed(1)} s\n`,
    );
  });
});
