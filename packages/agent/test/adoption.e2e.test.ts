import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '@flotilla/actor';
import type { Pod, PodStatus } from '@flotilla/api';
import { ManagedProcess, tempDir } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CriClient, CriRuntime, destroyNodeState, nodePaths } from '../src/index.ts';
import { lastStatuses, readStatusLines } from './fixtures/status-file.ts';
import {
  candidateCIDR,
  container,
  hostAddress,
  httpGet,
  isRoot,
  ready,
  registerNodeCleanup,
  reportRootSkip,
  testLogger,
} from './harness.ts';

reportRootSkip('agent adoption e2e');

const fixture = fileURLToPath(new URL('./fixtures/agent-process.ts', import.meta.url));

function pod(name: string, spec: Pod['spec']): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `${name}-${process.pid}` },
    spec,
  };
}

// The agent as its own process, killed with SIGKILL and started again: the pods it
// runs must not notice. Its containerd outlives it and is adopted; a pod that stopped
// being desired meanwhile is removed; a containerd that dies is started again.
describe.skipIf(!isRoot)('an agent restarted over running pods', () => {
  const dir = isRoot ? tempDir('adopt') : '';
  const nodeName = `t-adopt-${process.pid}`;
  const dataDir = join(dir, 'node');
  const paths = nodePaths(nodeName, dataDir);
  const podsFile = join(dir, 'pods.json');
  const statusFile = join(dir, 'status.jsonl');
  let agent: ManagedProcess;
  let podCIDR: string;
  let runtime: CriRuntime;
  let cri: CriClient;
  const web = pod('web', {
    containers: [
      container('web', 'mkdir -p /w && echo adopted > /w/index.html && exec httpd -f -p 8080 -h /w', {
        readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
      }),
    ],
  });
  const keeper = pod('keeper', {
    // sleep as PID 1 ignores SIGTERM: removing the orphan waits out this grace period.
    terminationGracePeriodSeconds: 2,
    volumes: [{ name: 'scratch', emptyDir: {} }],
    containers: [
      container('c', 'echo kept > /scratch/f; exec sleep 3600', {
        volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
      }),
    ],
  });

  const status = (name: string): PodStatus | undefined =>
    lastStatuses(statusFile).get(name === 'web' ? web.metadata.uid! : keeper.metadata.uid!);

  async function waitUntil(
    what: string,
    check: () => boolean | Promise<boolean>,
    timeoutMs = 30_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline)
        throw new Error(`not ${what} within ${timeoutMs} ms; agent log: ${agent.spec.logFile}`);
      await sleep(100);
    }
  }

  const ours = async () => {
    const sandboxes = await runtime.listPodSandboxes();
    const containers = await runtime.listContainers();
    return {
      sandboxes: sandboxes.map((s) => `${s.metadata.name}:${s.id}:${s.state}`).sort(),
      containers: containers
        .map((c) => `${c.labels['io.kubernetes.pod.name']}/${c.name}:${c.id}:${c.state}`)
        .sort(),
    };
  };

  beforeAll(async () => {
    podCIDR = candidateCIDR();
    registerNodeCleanup(paths, podCIDR, testLogger());
    writeFileSync(podsFile, JSON.stringify([web, keeper]));
    agent = new ManagedProcess({
      name: 'agent',
      command: process.execPath,
      args: [fixture],
      env: {
        AGENT_NODE_NAME: nodeName,
        AGENT_DATA_DIR: dataDir,
        AGENT_POD_CIDR: podCIDR,
        AGENT_HOST_IP: hostAddress(),
        AGENT_PODS_FILE: podsFile,
        AGENT_STATUS_FILE: statusFile,
      },
      logFile: join(dir, 'agent.log'),
    });
    agent.start();
    await waitUntil('web ready', () => status('web') !== undefined && ready(status('web')!));
    await waitUntil(
      'keeper running',
      () => status('keeper')?.containerStatuses?.[0]?.state?.running !== undefined,
    );
    cri = new CriClient(paths.containerdSocket);
    runtime = new CriRuntime(cri);
  });

  afterAll(async () => {
    cri?.close();
    // containerd stays up, so the node's teardown removes the pods through it.
    await agent?.kill();
  });

  test('SIGKILL of the agent, then a new agent: running pods are untouched, a pod no longer desired is removed', async () => {
    const before = await ours();
    const webIP = status('web')!.podIP!;
    expect(await httpGet(`http://${webIP}:8080/`)).toEqual({ status: 200, body: 'adopted\n' });

    await agent.kill();
    // Pods do not depend on the agent: containerd and the shims run on.
    expect(await httpGet(`http://${webIP}:8080/`)).toEqual({ status: 200, body: 'adopted\n' });
    expect(await ours()).toEqual(before);

    // While the agent is down, keeper stops being desired.
    writeFileSync(podsFile, JSON.stringify([web]));
    const linesBefore = readStatusLines(statusFile).length;
    agent.start();
    await waitUntil(
      'keeper removed',
      async () => !(await ours()).sandboxes.some((s) => s.startsWith('keeper:')),
    );
    // A few relists and probe periods later, web is exactly as it was.
    await sleep(3_000);
    const after = await ours();
    expect(after.sandboxes).toEqual(before.sandboxes.filter((s) => s.startsWith('web:')));
    expect(after.containers).toEqual(before.containers.filter((c) => c.startsWith('web/')));
    expect(await httpGet(`http://${webIP}:8080/`)).toEqual({ status: 200, body: 'adopted\n' });
    // Nothing changed for web, so nothing was reported for it.
    const newLines = readStatusLines(statusFile).slice(linesBefore);
    expect(newLines.filter((l) => l.kind === 'status' && l.name === 'web')).toEqual([]);
    expect(newLines.some((l) => l.kind === 'started')).toBe(true);
    expect(status('web')!.containerStatuses?.[0]).toMatchObject({ ready: true, restartCount: 0 });
    // keeper's emptyDir went with it.
    expect(() =>
      readFileSync(
        join(paths.podsDir, keeper.metadata.uid!, 'volumes', 'kubernetes.io~empty-dir', 'scratch', 'f'),
      ),
    ).toThrow();
  });

  test('containerd killed under a running agent is started again; the pods keep running', async () => {
    const before = await ours();
    const webIP = status('web')!.podIP!;
    const oldPid = Number(readFileSync(paths.containerdPidFile, 'utf8'));
    process.kill(oldPid, 'SIGKILL');
    await waitUntil('a new containerd', () => {
      const pid = Number(readFileSync(paths.containerdPidFile, 'utf8'));
      return pid !== oldPid && pid > 0;
    });
    await waitUntil('containerd answering', async () => {
      try {
        await runtime.version();
        return true;
      } catch {
        return false;
      }
    });
    expect(await ours()).toEqual(before);
    expect(await httpGet(`http://${webIP}:8080/`)).toEqual({ status: 200, body: 'adopted\n' });
  });

  test('teardown after the agent and containerd were killed leaves nothing of the node behind', async () => {
    const podCgroups = `/sys/fs/cgroup/pids/flotilla/${nodeName}`;
    const pids = cgroupPids(podCgroups);
    expect(pids.length).toBeGreaterThan(0);
    await agent.kill();
    process.kill(Number(readFileSync(paths.containerdPidFile, 'utf8')), 'SIGKILL');
    await destroyNodeState(paths, podCIDR, testLogger());

    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(podCgroups)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(`/sys/class/net/${paths.bridge}`)).toBe(false);
    expect(execFileSync('ip', ['route', 'show', podCIDR], { encoding: 'utf8' })).toBe('');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dataDir);
  });
});

/** Every pid in a cgroup and the cgroups below it. */
function cgroupPids(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const here = readFileSync(join(dir, 'cgroup.procs'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
  const below = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => cgroupPids(join(dir, e.name)));
  return [...here, ...below];
}

/** A zombie (killed, not yet reaped by init) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
