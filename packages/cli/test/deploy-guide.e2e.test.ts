// docs/deploy.md, run: network namespaces stand in for the guide's machines (cp1-cp3 at
// 10.0.0.11-13 and worker1-2 at 10.0.0.21-22 on an underlay bridge, as the example files
// in deploy/ address them), and inside each the test runs what the guide runs there —
// nats-server with deploy/nats/nats-server.conf, `flotilla server --config
// deploy/config/server.yaml`, `flotilla agent --config deploy/config/agent.yaml`, each with
// its machine's deploy/config/<machine>.env as the environment systemd would give it —
// then kubectl and flo as the guide uses them. The one difference: the "machines" share a
// disk, so each gets its own FLOTILLA_DATA_DIR. Needs root.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from '@flotilla/actor';
import { nodeTeardownMain } from '@flotilla/agent';
import type { Underlay } from '@flotilla/agent/net';
import {
  diffSnapshots,
  lockNetnsScope,
  ManagedProcess,
  natsServerBinary,
  type RootNetworkSnapshot,
  reportRootSkip,
  rootNetworkSnapshot,
  startUnderlay,
  tempDir,
  unrelatedTo,
} from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDir, readEnvFile, repoRoot } from './deploy-files.ts';

const run = promisify(execFile);
const ranges = {
  name: 'fldeploy',
  // The example files' addresses: the machines get exactly these.
  cidr: '10.0.0.0/24',
  guardedRanges: ['10.42.0.0/16', '10.43.0.0/16'],
};
/** How long a run waits for another run of this file to finish with the machine. */
const scopeLockWaitMs = 540_000;
const readyTimeoutMs = 60_000;
const pollMs = 250;

const serverYaml = join(deployDir, 'config', 'server.yaml');
const natsConf = join(deployDir, 'nats', 'nats-server.conf');
const kubeconfig = join(deployDir, 'config', 'kubeconfig.yaml');
const agentYaml = join(deployDir, 'config', 'agent.yaml');
const webYaml = join(deployDir, 'examples', 'web.yaml');
const nodeTeardownScript = nodeTeardownMain;
const teardownTimeoutMs = 90_000;

type Machine = {
  readonly name: string;
  readonly netns: string;
  readonly address: string;
  readonly env: Record<string, string>;
  readonly processes: ManagedProcess[];
};

describe.runIf(reportRootSkip('deploy guide e2e'))('docs/deploy.md on namespace machines', () => {
  let before: RootNetworkSnapshot;
  let underlay: Underlay;
  let dir: string;
  const machines = new Map<string, Machine>();

  function machine(name: string): Machine {
    const m = machines.get(name);
    if (!m) throw new Error(`no machine ${name}`);
    return m;
  }

  /** A "machine": a host on the underlay with its /etc/default/flotilla. */
  async function addMachine(name: string, address: string, env: Record<string, string>): Promise<Machine> {
    const host = await underlay.addHost(name, address);
    // The only thing real machines do not need: a data directory of their own.
    const dataDir = join(dir, name, 'data');
    mkdirSync(dataDir, { recursive: true });
    const m: Machine = {
      name,
      netns: host.netns,
      address,
      env: { ...env, FLOTILLA_DATA_DIR: dataDir },
      processes: [],
    };
    machines.set(name, m);
    return m;
  }

  /**
   * What a systemd unit's ExecStart runs, in the machine, with its environment file.
   * nsenter joins only the network namespace (`ip netns exec` would also give the process
   * a mount namespace of its own, hiding the agent's containerd mounts from the machine).
   */
  function startService(m: Machine, unit: string, command: string, args: readonly string[]): ManagedProcess {
    const p = new ManagedProcess({
      name: `${unit}@${m.name}`,
      command: 'nsenter',
      args: [`--net=/run/netns/${m.netns}`, '--', command, ...args],
      env: m.env,
      logFile: join(dir, m.name, `${unit}.log`),
    }).start();
    m.processes.push(p);
    return p;
  }

  const startNats = (m: Machine) => startService(m, 'flotilla-nats', natsServerBinary(), ['-c', natsConf]);
  const startServer = (m: Machine) =>
    startService(m, 'flotilla-server', join(repoRoot, 'flotilla'), ['server', '--config', serverYaml]);
  const startAgent = (m: Machine) =>
    startService(m, 'flotilla-agent', join(repoRoot, 'flotilla'), ['agent', '--config', agentYaml]);

  /**
   * A worker's pods, containerd, mounts and data, removed from inside its namespace with
   * the agent's own teardown (what the AgentCluster harness does).
   */
  async function teardownWorker(m: Machine): Promise<void> {
    const dataDir = join(m.env.FLOTILLA_DATA_DIR!, 'agent', m.name);
    const marker = join(dataDir, 'blackhole-route');
    if (!existsSync(marker)) return;
    const p = new ManagedProcess({
      name: `teardown@${m.name}`,
      command: 'nsenter',
      args: [
        `--net=/run/netns/${m.netns}`,
        '--',
        process.execPath,
        nodeTeardownScript,
        m.name,
        dataDir,
        readFileSync(marker, 'utf8').trim(),
      ],
      logFile: join(dir, m.name, 'teardown.log'),
    }).start();
    const timer = setTimeout(() => void p.kill(), teardownTimeoutMs);
    const exit = await p.waitExit();
    clearTimeout(timer);
    expect(exit.code, `teardown of ${m.name}; see ${p.spec.logFile}`).toBe(0);
  }

  /** A command run in the machine as an operator there would, with its environment. */
  async function sh(m: Machine, command: string, args: readonly string[]): Promise<string> {
    const { stdout } = await run('ip', ['netns', 'exec', m.netns, command, ...args], {
      env: { ...process.env, ...m.env },
      timeout: 60_000,
    });
    return stdout;
  }
  const flo = (m: Machine, ...args: string[]) => sh(m, join(repoRoot, 'flo'), ['-c', serverYaml, ...args]);
  const kubectl = (m: Machine, ...args: string[]) =>
    sh(m, '/usr/bin/kubectl', ['--kubeconfig', kubeconfig, ...args]);

  async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = readyTimeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (${String(last)})`);
      await sleep(pollMs);
    }
  }

  const tcpOpen = (host: string, port: number) =>
    new Promise<true | undefined>((resolve) => {
      const s = connect({ host, port, timeout: 1_000 }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(undefined));
      s.on('timeout', () => {
        s.destroy();
        resolve(undefined);
      });
    });

  async function apiReady(m: Machine): Promise<void> {
    await until(`API server of ${m.name}`, async () => {
      const res = await fetch(`http://${m.address}:6443/readyz`, { signal: AbortSignal.timeout(2_000) });
      return res.ok ? true : undefined;
    });
  }

  /** flo status's member rows: name → [role, lag, health]. */
  async function statusRows(m: Machine): Promise<Map<string, string[]>> {
    const out = await flo(m, 'status');
    const rows = new Map<string, string[]>();
    for (const line of out.split('\n')) {
      const cells = line.trim().split(/\s+/);
      if (/^cp\d$/.test(cells[0] ?? '')) rows.set(cells[0]!, cells);
    }
    return rows;
  }

  const started = performance.now();
  /** Where the time goes, for whoever makes this suite faster. */
  const mark = (what: string) =>
    process.stdout.write(`deploy guide: ${what} at ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  beforeAll(async () => {
    await lockNetnsScope(ranges.name, scopeLockWaitMs);
    before = await rootNetworkSnapshot();
    dir = tempDir('deploy-guide');
    // The root namespace gets 10.0.0.1 so the test itself can wait on the machines' ports.
    underlay = await startUnderlay({ ...ranges, rootAddress: '10.0.0.1', hosts: [] });
  });

  afterAll(async () => {
    const workers = [...machines.values()].filter((m) => m.name.startsWith('worker'));
    for (const m of workers) await Promise.all(m.processes.map((p) => p.kill()));
    for (const m of workers) await teardownWorker(m);
    for (const m of machines.values()) await Promise.all(m.processes.map((p) => p.kill()));
    await underlay?.destroy();
    if (before) {
      const diff = diffSnapshots(
        before,
        await rootNetworkSnapshot(),
        unrelatedTo({ prefixes: [`${ranges.name}-`], ranges: [ranges.cidr, ...ranges.guardedRanges] }),
      );
      expect(diff).toEqual({ added: [], removed: [] });
    }
  });

  it('bootstrap: three control-plane machines, then kubectl and flo against them', async () => {
    mark('start');
    for (const i of [1, 2, 3]) {
      await addMachine(`cp${i}`, `10.0.0.1${i}`, readEnvFile(join(deployDir, 'config', `cp${i}.env`)));
    }
    for (const m of machines.values()) startNats(m);
    for (const m of machines.values()) await until(`nats on ${m.name}`, () => tcpOpen(m.address, 4222));
    mark('nats up');
    for (const m of machines.values()) startServer(m);
    for (const m of machines.values()) await apiReady(m);
    mark('API servers ready');

    const cp1 = machine('cp1');
    expect(await kubectl(cp1, 'get', 'namespaces', '-o', 'name')).toContain('namespace/default');
    await kubectl(cp1, 'create', 'configmap', 'before-backup', '--from-literal=k=v');

    // flo, pointed at the cluster by the same server.yaml: three members, one leader.
    const rows = await until('a leader in flo status', async () => {
      const r = await statusRows(cp1);
      return [...r.values()].some((c) => c[2] === 'leader') ? r : undefined;
    });
    expect([...rows.keys()].sort()).toEqual(['cp1', 'cp2', 'cp3']);
    expect([...rows.values()].every((c) => c.at(-1) === 'ok')).toBe(true);
    expect(await flo(cp1, 'raft', 'members')).toMatch(/voters: +cp1, cp2, cp3/);
    mark('control plane checked');
  });

  it('workers: two agents join, a Deployment and its Service answer', async () => {
    for (const i of [1, 2]) {
      const m = await addMachine(
        `worker${i}`,
        `10.0.0.2${i}`,
        readEnvFile(join(deployDir, 'config', `worker${i}.env`)),
      );
      startAgent(m);
    }
    const cp1 = machine('cp1');
    await until('two Ready nodes', async () => {
      const out = await kubectl(
        cp1,
        'get',
        'nodes',
        '-o',
        'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      );
      return /^worker1 True$/m.test(out) && /^worker2 True$/m.test(out) ? true : undefined;
    });
    mark('workers Ready');
    await kubectl(cp1, 'apply', '-f', webYaml);
    await kubectl(cp1, 'rollout', 'status', 'deployment/web', '--timeout=90s');
    mark('web rolled out');
    const pods = (
      await kubectl(cp1, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}')
    )
      .split(' ')
      .filter(Boolean);
    expect(pods).toHaveLength(2);
    const clusterIP = await kubectl(cp1, 'get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}');
    expect(clusterIP).toMatch(/^10\.43\./);
    // From a worker, as the guide does: the Service answers with a web pod's name.
    // (busybox 1.35's wget crashes on -T: timeout(1) bounds each try instead.)
    const answer = await until('the web Service from worker1', async () => {
      const out = await sh(machine('worker1'), 'busybox', [
        'timeout',
        '3',
        'busybox',
        'wget',
        '-q',
        '-O',
        '-',
        `http://${clusterIP}/`,
      ]);
      return out.trim() === '' ? undefined : out.trim();
    });
    expect(pods).toContain(answer);
    mark('web Service answered');
  });

  it('back up, replace a dead member, and recover from a lost quorum with the backup', async () => {
    const cp1 = machine('cp1');
    const backup = join(dir, 'backup.snap');
    expect(await flo(cp1, 'snapshot', 'save', backup)).toMatch(/^saved \d+ bytes at applied index \d+/);
    await kubectl(cp1, 'create', 'configmap', 'after-backup', '--from-literal=k=v');
    mark('backup saved');

    // cp3's machine dies; a new machine takes its address and joins as cp4.
    const cp3 = machine('cp3');
    await Promise.all(cp3.processes.map((p) => p.kill()));
    await underlay.removeHost('cp3');
    machines.delete('cp3');
    const cp4 = await addMachine('cp4', '10.0.0.13', {
      FLOTILLA_MEMBER: 'cp4',
      NATS_HOST: '10.0.0.13',
      FLOTILLA_APISERVER_LISTEN: '10.0.0.13:6443',
    });
    startNats(cp4);
    await until('nats on cp4', () => tcpOpen(cp4.address, 4222));
    startServer(cp4);
    expect(await flo(cp1, 'raft', 'add', 'cp4')).toMatch(/^added cp4 as a learner/);
    mark('cp4 added');
    await until('cp4 caught up', async () => {
      const r = (await statusRows(cp1)).get('cp4');
      return r?.[2] === 'follower' && r[6] === '0' ? true : undefined;
    });
    await until('cp4 promoted', async () => ((await flo(cp1, 'raft', 'promote', 'cp4')) ? true : undefined));
    expect(await flo(cp1, 'raft', 'remove', 'cp3')).toMatch(/voters: cp1, cp2, cp4/);
    await apiReady(cp4);
    mark('cp3 replaced');
    expect(await kubectl(cp1, 'get', 'configmap', 'after-backup', '-o', 'name')).toContain('after-backup');

    // Quorum lost: every member stopped. Each machine's member is rebuilt from the backup.
    const members = ['cp1', 'cp2', 'cp4'].map(machine);
    await Promise.all(
      members.flatMap((m) =>
        m.processes.filter((p) => p.spec.name.startsWith('flotilla-server')).map((p) => p.kill()),
      ),
    );
    // On each machine at once, as an operator with three terminals would.
    const restored = await Promise.all(
      members.map((m) => {
        const store = join(m.env.FLOTILLA_DATA_DIR!, 'store');
        renameSync(store, `${store}.broken`);
        return flo(m, 'snapshot', 'restore', backup, '--members', 'cp1,cp2,cp4');
      }),
    );
    for (const out of restored) expect(out).toMatch(/^restored applied index \d+/);
    mark('restored');
    for (const m of members) startServer(m);
    for (const m of members) await apiReady(m);
    mark('restored cluster serving');
    const names = await until('the restored cluster answering kubectl', () =>
      kubectl(cp1, 'get', 'configmaps', '-o', 'name'),
    );
    expect(names).toContain('configmap/before-backup');
    expect(names).not.toContain('configmap/after-backup');
    expect(await flo(cp1, 'raft', 'members')).toMatch(/voters: +cp1, cp2, cp4/);
  });
});
