#!/usr/bin/env node
// `flo`: bring up and operate a local Flotilla cluster.
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Lease, NatsApiClient, type Node } from '@flotilla/api';
import { controllerManagerLease, schedulerLease } from '@flotilla/controllers';
import { restoreMemberFromSnapshot } from '@flotilla/store';
import { Command } from 'commander';
import { type ClusterClient, connectCluster, memberStatuses, waitForLeader } from './cluster-client.ts';
import { ConfigError, type FlotillaConfig, loadConfig } from './config/load.ts';
import { floHome } from './home.ts';
import { buildImage, buildRootfs } from './image-build.ts';
import {
  type ClusterState,
  containerdUnavailable,
  down,
  freePort,
  isAlive,
  memberSpec,
  natsBinary,
  readState,
  startMemberProcess,
  stopPids,
  up,
  waitForApiServers,
  writeKubeconfig,
  writeState,
} from './local-cluster.ts';

function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows)
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
}

/** A user mistake or a cluster that is not there: one line, exit 1. */
class FloError extends Error {}

/** Resolves true once `count` nodes report Ready (false after `timeoutMs`). */
async function waitForReadyNodes(
  client: ClusterClient,
  state: ClusterState,
  count: number,
  timeoutMs: number,
): Promise<boolean> {
  const api = new NatsApiClient({ system: client.system, clusterId: state.cluster });
  const nodes = api.resource<Node>({ group: '', version: 'v1', resource: 'nodes' });
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const list = await nodes.list().catch(() => undefined);
    const ready = (list?.items ?? []).filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (ready.length >= count) return true;
    process.stdout.write('.');
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

const program = new Command('flo')
  .description('Run and operate a local Flotilla cluster')
  .option(
    '-c, --config <file>',
    'operate the cluster this flotilla config file names (its cluster and nats.servers, FLOTILLA_* variables applied) instead of the local one',
  )
  .showHelpAfterError();

/** The config of `flo --config FILE`, or undefined for the local cluster. */
function remoteConfig(): FlotillaConfig | undefined {
  const file = program.opts<{ config?: string }>().config;
  if (file === undefined) return undefined;
  try {
    return loadConfig({ file });
  } catch (err) {
    if (err instanceof ConfigError) throw new FloError(err.problems.join('; '));
    throw err;
  }
}

/** Commands that start, stop or signal processes only work on the cluster `flo up` started. */
function localOnly(command: string): void {
  if (program.opts<{ config?: string }>().config !== undefined) {
    throw new FloError(`${command} works on the local cluster only (without --config)`);
  }
}

function requireState(): ClusterState {
  const config = remoteConfig();
  if (config) {
    return { createdAt: '', cluster: config.cluster, nats: [], members: [], servers: config.nats.servers };
  }
  const state = readState(floHome());
  if (!state) throw new FloError(`no cluster in ${floHome()} (flo up starts one)`);
  return state;
}

async function withCluster<T>(fn: (client: ClusterClient, state: ClusterState) => Promise<T>): Promise<T> {
  const state = requireState();
  const client = await connectCluster(state);
  try {
    if (state.servers) {
      // A cluster flo did not start: its members are what the store's configuration says.
      const conf = await client.store.members();
      for (const name of [...conf.voters, ...conf.learners]) {
        state.members.push({ name, pid: 0, dataDir: '', apiPort: 0, natsIndex: 0, args: [] });
      }
    }
    return await fn(client, state);
  } finally {
    await client.close();
  }
}

function member(state: ClusterState, name: string) {
  const m = state.members.find((x) => x.name === name);
  if (!m) throw new FloError(`no member ${name} (members: ${state.members.map((x) => x.name).join(', ')})`);
  return m;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (!m) throw new FloError(`${JSON.stringify(text)} is not a duration like 500ms, 5s or 1m`);
  return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}

program
  .command('up')
  .description('start a local HA cluster in the background and wait until it is healthy')
  .option('--workers <n>', 'node agents to start', '0')
  .option(
    '--runtime <runtime>',
    "the workers' runtime: containerd (real pods, each worker in a network namespace with its own containerd; the default as root on Linux) or fake (Nodes and pod status, no containers; the default otherwise)",
  )
  .action(async (opts: { workers: string; runtime?: string }) => {
    localOnly('flo up');
    const workers = Number(opts.workers);
    if (!Number.isInteger(workers) || workers < 0 || workers > 100) {
      throw new FloError(`--workers ${JSON.stringify(opts.workers)} is not a number from 0 to 100`);
    }
    if (opts.runtime !== undefined && opts.runtime !== 'fake' && opts.runtime !== 'containerd') {
      throw new FloError(`--runtime ${opts.runtime}: not fake or containerd`);
    }
    const unavailable = containerdUnavailable();
    if (opts.runtime === 'containerd' && unavailable !== undefined) {
      throw new FloError(`--runtime containerd: ${unavailable}`);
    }
    const runtime = opts.runtime ?? (unavailable === undefined ? 'containerd' : 'fake');
    if (workers > 0) {
      console.log(
        `workers: ${workers} on the ${runtime} runtime` +
          (opts.runtime === undefined
            ? runtime === 'containerd'
              ? ' (the default as root on Linux; --runtime fake for simulated nodes)'
              : ` (the default here: ${unavailable})`
            : ''),
      );
    }
    const home = floHome();
    const t0 = performance.now();
    const state = await up({ home, members: 3, workers, runtime, progress: (line) => console.log(line) });
    const client = await connectCluster(state);
    try {
      process.stdout.write('waiting for a leader ');
      const leader = await waitForLeader(client, state, 60_000);
      if (!leader) throw new FloError(`no leader after 60 s; see ${join(home, 'logs')}`);
      console.log(`\n${leader.name} leads the store (term ${leader.term})`);
      process.stdout.write('waiting for the API servers ');
      if (!(await waitForApiServers(state, 60_000))) {
        throw new FloError(`API servers not ready after 60 s; see ${join(home, 'logs')}`);
      }
      if (workers > 0) {
        // A containerd worker starts its containerd and imports its images first.
        const readyTimeoutMs = runtime === 'containerd' ? 180_000 : 60_000;
        process.stdout.write(`\nwaiting for ${workers} Ready node${workers === 1 ? '' : 's'} `);
        if (!(await waitForReadyNodes(client, state, workers, readyTimeoutMs))) {
          throw new FloError(
            `nodes not Ready after ${readyTimeoutMs / 1000} s; see ${join(home, 'logs')} (flo down removes everything)`,
          );
        }
      }
      console.log(
        `\n${leader.name} leads (term ${leader.term}); cluster healthy after ${seconds(performance.now() - t0)}`,
      );
    } finally {
      await client.close();
    }
    const kubeconfig = writeKubeconfig(home, state);
    console.log(`state and logs in ${home}`);
    console.log(`export KUBECONFIG=${kubeconfig}`);
    console.log('next: kubectl get namespaces · flo status · flo chaos kill-leader · flo down');
  });

program
  .command('down')
  .description('stop the local cluster and remove what it created')
  .action(async () => {
    localOnly('flo down');
    const stopped = await down(floHome(), (line) => console.log(line)).catch((err: unknown) => {
      throw new FloError(`${err instanceof Error ? err.message : String(err)} (flo down tries again)`);
    });
    console.log(stopped ? 'cluster down' : 'no cluster was running');
  });

program
  .command('status')
  .description("each member's Raft role, term, commit and applied index, lag and health")
  .action(async () => {
    await withCluster(async (client, state) => {
      const rows = await memberStatuses(client, state);
      const leaderCommit = Math.max(0, ...rows.map((r) => r.status?.raft.commit ?? 0));
      const table = [['MEMBER', 'PID', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'REVISION', 'HEALTH']];
      for (const { name, status } of rows) {
        const m = member(state, name);
        const pid = m.pid > 0 ? String(m.pid) : '-';
        if (!status) {
          table.push([
            name,
            pid,
            '-',
            '-',
            '-',
            '-',
            '-',
            '-',
            m.pid > 0 && !isAlive(m.pid) ? 'dead' : 'not answering',
          ]);
          continue;
        }
        const r = status.raft;
        table.push([
          name,
          pid,
          r.role,
          String(r.term),
          String(r.commit),
          String(r.applied),
          String(leaderCommit - r.applied),
          String(status.store.revision),
          'ok',
        ]);
      }
      for (const n of state.nats)
        table.push([
          n.name,
          String(n.pid),
          'nats',
          '',
          '',
          '',
          '',
          `:${n.port}`,
          isAlive(n.pid) ? 'ok' : 'dead',
        ]);
      printTable(table);
      console.log('');
      const api = new NatsApiClient({ system: client.system, clusterId: state.cluster });
      const leases = api.resource<Lease>({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases' });
      for (const [label, ref] of [
        ['controller-manager', controllerManagerLease],
        ['scheduler', schedulerLease],
      ] as const) {
        const holder = await leases
          .get(ref.name, ref.namespace)
          .then((l) => l.spec?.holderIdentity ?? '-')
          .catch(() => '-');
        console.log(`${label} lease: ${holder}`);
      }
      const nodes = await api
        .resource<Node>({ group: '', version: 'v1', resource: 'nodes' })
        .list()
        .catch(() => undefined);
      const nodeRows = [['NODE', 'READY', 'POD CIDR']];
      for (const node of nodes?.items ?? []) {
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
        nodeRows.push([node.metadata.name ?? '', ready, node.spec?.podCIDR ?? '-']);
      }
      console.log('');
      if (nodeRows.length === 1) console.log('no nodes');
      else printTable(nodeRows);
    });
  });

const raft = program.command('raft').description('Raft membership and leadership');
raft
  .command('members')
  .description('voters and learners')
  .action(async () => {
    await withCluster(async (client) => {
      const conf = await client.store.members();
      console.log(`voters:   ${conf.voters.join(', ')}`);
      console.log(`learners: ${conf.learners.join(', ') || '-'}`);
    });
  });
raft
  .command('add <member>')
  .description(
    'add a member as a learner (promote it when it has caught up); on the local cluster, start its process first',
  )
  .action(async (name: string) => {
    await withCluster(async (client, state) => {
      if (state.members.some((m) => m.name === name)) throw new FloError(`member ${name} already exists`);
      if (state.servers) {
        // Its flotilla server runs on its own machine already, without a bootstrap list.
        const conf = await client.store.changeMembership({ type: 'addLearner', node: name });
        console.log(`added ${name} as a learner; learners now: ${conf.learners.join(', ')}`);
        return;
      }
      const spec = memberSpec(
        floHome(),
        state,
        name,
        state.members.length % state.nats.length,
        await freePort(),
      );
      spec.pid = startMemberProcess(floHome(), spec);
      state.members.push(spec);
      writeState(floHome(), state);
      const conf = await client.store.changeMembership({ type: 'addLearner', node: name });
      console.log(`added ${name} as a learner; learners now: ${conf.learners.join(', ')}`);
    });
  });
for (const [verb, type, help] of [
  ['promote', 'promote', 'make a caught-up learner a voter'],
  ['remove', 'remove', 'remove a member from the configuration'],
] as const) {
  raft
    .command(`${verb} <member>`)
    .description(help)
    .action(async (name: string) => {
      await withCluster(async (client) => {
        const conf = await client.store.changeMembership({ type, node: name });
        console.log(
          `${verb}d ${name}; voters: ${conf.voters.join(', ')}; learners: ${conf.learners.join(', ') || '-'}`,
        );
      });
    });
}
raft
  .command('transfer-leader [member]')
  .description('hand leadership to a member (default: the most caught-up)')
  .action(async (to?: string) => {
    await withCluster(async (client) => {
      const t0 = performance.now();
      const leader = await client.store.transferLeadership(to);
      console.log(`${leader} leads now (${seconds(performance.now() - t0)})`);
    });
  });

const snapshot = program.command('snapshot').description('back up and restore the store');
snapshot
  .command('save <file>')
  .description('write a consistent copy of the store to FILE')
  .action(async (file: string) => {
    await withCluster(async (client) => {
      const out = createWriteStream(file);
      const info = await client.store.snapshot(
        (chunk) => new Promise((resolve, reject) => out.write(chunk, (e) => (e ? reject(e) : resolve()))),
      );
      await new Promise<void>((resolve) => out.end(resolve));
      console.log(`saved ${info.totalBytes} bytes at applied index ${info.appliedIndex} to ${file}`);
    });
  });
snapshot
  .command('restore <file>')
  .description(
    "replace the local cluster's state with FILE: stops the members, rebuilds them from it, starts them. " +
      "With --config: build this machine's member (the config's dataDir) from FILE, with --members as the voters; start flotilla server afterwards",
  )
  .option('--members <names>', 'with --config: the members of the restored cluster, comma-separated')
  .action(async (file: string, opts: { members?: string }) => {
    if (!existsSync(file)) throw new FloError(`no such file: ${file}`);
    const config = remoteConfig();
    if (config) {
      const members = (opts.members ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (members.length === 0) throw new FloError('--members is required with --config (e.g. cp1,cp2,cp3)');
      const dir = join(config.dataDir, 'store');
      if (existsSync(dir)) throw new FloError(`${dir} exists: move it aside first (flotilla server stopped)`);
      const info = await restoreMemberFromSnapshot({ dir, snapshotFile: file, members });
      console.log(
        `restored applied index ${info.appliedIndex}, revision ${info.revision} into ${dir}; voters: ${members.join(', ')}`,
      );
      return;
    }
    const state = requireState();
    const home = floHome();
    await stopPids(state.members.map((m) => m.pid));
    const names = state.members.map((m) => m.name);
    const restoredDir = join(home, 'members', `restored-${Date.now()}`);
    for (const [i, name] of names.entries()) {
      const spec = memberSpec(home, state, name, i % state.nats.length, state.members[i]!.apiPort);
      const dataDir = join(restoredDir, name);
      const info = await restoreMemberFromSnapshot({
        dir: join(dataDir, 'store'),
        snapshotFile: file,
        members: names,
      });
      if (i === 0) console.log(`restored applied index ${info.appliedIndex}, revision ${info.revision}`);
      const args = spec.args.map((a) => (a === spec.dataDir ? dataDir : a));
      const m = { ...spec, dataDir, args, pid: 0 };
      m.pid = startMemberProcess(home, m);
      state.members[i] = m;
    }
    writeState(home, state);
    const client = await connectCluster(state);
    try {
      const leader = await waitForLeader(client, state, 60_000);
      console.log(leader ? `${leader.name} leads the restored cluster` : 'no leader yet; see flo status');
    } finally {
      await client.close();
    }
  });

program
  .command('logs <component>')
  .description("print a component's log (m1, nats2, ...)")
  .option('-n, --lines <n>', 'last N lines', '100')
  .action((component: string, opts: { lines: string }) => {
    localOnly('flo logs');
    const file = join(floHome(), 'logs', `${component}.log`);
    if (!existsSync(file)) throw new FloError(`no log for ${component} in ${join(floHome(), 'logs')}`);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    console.log(lines.slice(-Number(opts.lines)).join('\n'));
  });

const chaos = program
  .command('chaos')
  .description('break the local cluster on purpose')
  .hook('preAction', () => localOnly('flo chaos'));

async function measureRecovery(
  client: ClusterClient,
  state: ClusterState,
  old: { name: string; term: number },
  t0: number,
) {
  const leader = await waitForLeader(client, state, 30_000, old);
  const elected = performance.now() - t0;
  let resumed: number | undefined;
  const deadline = performance.now() + 30_000;
  while (resumed === undefined && performance.now() < deadline) {
    try {
      await client.store.put('/flotilla/flo/chaos', String(Date.now()));
      resumed = performance.now() - t0;
    } catch {
      // not yet
    }
  }
  return { leader, elected, resumed };
}

chaos
  .command('kill-leader')
  .description('SIGKILL the leader and time the election and the first write after it')
  .action(async () => {
    await withCluster(async (client, state) => {
      const leader = await waitForLeader(client, state, 10_000);
      if (!leader) throw new FloError('no leader to kill');
      const t0 = performance.now();
      process.kill(member(state, leader.name).pid, 'SIGKILL');
      const r = await measureRecovery(client, state, leader, t0);
      console.log(
        `killed ${leader.name} (leader, term ${leader.term}); ` +
          (r.leader ? `${r.leader.name} elected in ${seconds(r.elected)}` : 'no new leader within 30 s') +
          (r.resumed !== undefined
            ? `; writes resumed after ${seconds(r.resumed)}`
            : '; writes did not resume'),
      );
    });
  });
chaos
  .command('kill <member>')
  .description('SIGKILL a member (flo chaos heal restarts it)')
  .action(async (name: string) => {
    await withCluster(async (client, state) => {
      const before = await waitForLeader(client, state, 5_000);
      const t0 = performance.now();
      process.kill(member(state, name).pid, 'SIGKILL');
      if (before?.name === name) {
        const r = await measureRecovery(client, state, before, t0);
        console.log(
          `killed ${name} (leader, term ${before.term}); ${r.leader ? `${r.leader.name} elected in ${seconds(r.elected)}` : 'no new leader yet'}`,
        );
      } else {
        console.log(
          `killed ${name} (follower); ${before ? `${before.name} still leads` : 'no leader known'}`,
        );
      }
    });
  });
chaos
  .command('pause <member> <duration>')
  .description('SIGSTOP a member for DURATION (e.g. 5s), then SIGCONT it')
  .action(async (name: string, duration: string) => {
    const ms = parseDuration(duration);
    await withCluster(async (client, state) => {
      const m = member(state, name);
      const before = await waitForLeader(client, state, 5_000);
      process.kill(m.pid, 'SIGSTOP');
      const t0 = performance.now();
      const during = before?.name === name ? await waitForLeader(client, state, ms, before) : undefined;
      await new Promise((r) => setTimeout(r, Math.max(0, ms - (performance.now() - t0))));
      process.kill(m.pid, 'SIGCONT');
      console.log(
        `paused ${name}${before?.name === name ? ` (leader, term ${before.term})` : ''} for ${seconds(ms)}` +
          (during ? `; ${during.name} elected in ${seconds(performance.now() - t0 - ms + 0)}` : '') +
          '; resumed',
      );
    });
  });
chaos
  .command('partition <members...>')
  .description(
    'cut members off from the rest by freezing the NATS server each talks to (flo chaos heal ends it)',
  )
  .action(async (names: string[]) => {
    const state = requireState();
    for (const name of names) {
      const n = state.nats[member(state, name).natsIndex]!;
      process.kill(n.pid, 'SIGSTOP');
      console.log(`cut ${name} off (froze ${n.name})`);
    }
  });
chaos
  .command('heal')
  .description('end partitions and pauses, restart killed members')
  .action(async () => {
    const state = requireState();
    for (const n of state.nats) if (isAlive(n.pid)) process.kill(n.pid, 'SIGCONT');
    for (const m of state.members) {
      if (isAlive(m.pid)) process.kill(m.pid, 'SIGCONT');
      else {
        m.pid = startMemberProcess(floHome(), m);
        console.log(`restarted ${m.name}`);
      }
    }
    writeState(floHome(), state);
    console.log('healed');
  });

const image = program.command('image').description('the Flotilla container image');
image
  .command('build')
  .description(
    'assemble the image from this checkout, this Node and nats-server, with no registry: a docker-archive for docker load or ctr images import',
  )
  .option('-o, --out <file>', 'where to write it', 'flotilla-image.tar')
  .option('-t, --tag <name>', 'image name', 'localhost/flotilla:dev')
  .option('--rootfs', 'write only the root filesystem tar (for docker import)')
  .action((opts: { out: string; tag: string; rootfs?: boolean }) => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const options = { root, tag: opts.tag, natsBinary: natsBinary() };
    const t0 = performance.now();
    const tar = opts.rootfs ? buildRootfs(options) : buildImage(options);
    writeFileSync(opts.out, tar);
    console.log(
      `wrote ${opts.out} (${(tar.length / 1024 / 1024).toFixed(0)} MiB, ${seconds(performance.now() - t0)}); ` +
        (opts.rootfs
          ? `docker import --change 'ENTRYPOINT ["/usr/local/bin/flotilla"]' ${opts.out} ${opts.tag}`
          : `docker load -i ${opts.out}  or  ctr images import ${opts.out}`),
    );
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`flo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
