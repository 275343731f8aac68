// bench:pod-startup — pod start latency through the real API: a control plane of
// processes (NATS, a 3-member store, an API server, controller manager, scheduler) and
// one or two `flotilla agent` processes on their own containerd, each in its own network
// namespace (testkit's AgentCluster). 100 busybox pods (image present) are created
// through the API, and each one's latency runs from just before its create request to
// the watch event that first shows it Running (scheduling, binding, the agent's watch,
// sandbox, CNI, container start and the status write all included), in three modes:
//   one at a time   each pod created once the one before it is Running
//   at 10/s         a pod every 100 ms
//   burst           all at once
// printed as p50/p90/p99/max next to Kubernetes' pod startup SLO (p99 ≤ 5 s, excluding
// image pulls) and our aim (p99 ≤ 1 s), with the machine's load average. Needs root.
import { cpus, loadavg } from 'node:os';
import { AgentCluster, cleanupAll, runsAsRoot } from '@flotilla/testkit';
import type { ApiClient, Node, Pod, WatchEvent } from '../packages/api/src/index.ts';
import { fmt, percentile, printTable } from './lib/stats.ts';

const podCount = Number(process.env.BENCH_PODS ?? 100);
const nodeCount = Number(process.env.BENCH_NODES ?? 2);
const ratePerSecond = Number(process.env.BENCH_RATE ?? 10);
const modes = (process.env.BENCH_MODES ?? 'sequential,rate,burst').split(',');
/** Bound on one pod's wait for Running, and on one mode's whole run. */
const podTimeoutMs = 120_000;
const modeTimeoutMs = 15 * 60_000;
const sloP99Ms = 5_000;
const aimP99Ms = 1_000;
const namespace = 'default';

const ranges = {
  name: 'flbench',
  underlayCIDR: '10.226.0.0/24',
  clusterCIDR: '10.227.0.0/16',
  serviceCIDR: '10.228.0.0/16',
  clusterDNS: '10.228.0.10',
};

if (!runsAsRoot) {
  console.log('bench:pod-startup skipped: it needs root (containerd, runc, network namespaces, CNI bridges)');
  process.exit(0);
}

const podsRef = { group: '', version: 'v1', resource: 'pods' } as const;
const nodesRef = { group: '', version: 'v1', resource: 'nodes' } as const;

function pod(name: string, mode: string, nodeName?: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { bench: mode } },
    spec: {
      ...(nodeName === undefined ? {} : { nodeName }),
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'c',
          image: 'localhost/busybox:1',
          imagePullPolicy: 'Never',
          command: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'],
        },
      ],
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A bound for a race: does not keep the process alive once the race is won. */
const timeout = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms`);
    await sleep(250);
  }
}

type ModeResult = {
  readonly mode: string;
  readonly latenciesMs: number[];
  readonly missing: number;
  readonly elapsedMs: number;
  readonly perNode: Map<string, number>;
  readonly loadBefore: number;
  readonly loadAfter: number;
};

/** Runs one mode: creates the pods as the mode says, times each to its first Running event. */
async function measure(api: ApiClient, mode: string): Promise<ModeResult> {
  const pods = api.resource<Pod>(podsRef);
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const listed = await pods.list({ namespace, limit: 1 });
  const createdAt = new Map<string, number>();
  const runningAt = new Map<string, number>();
  const nodeOf = new Map<string, string>();
  const waiters = new Map<string, () => void>();
  const watch = pods.watch({
    namespace,
    labelSelector: `bench=${mode}`,
    resourceVersion: listed.metadata.resourceVersion ?? '',
  });
  const watching = (async () => {
    for await (const e of watch as AsyncIterable<WatchEvent<Pod>>) {
      if (e.type !== 'MODIFIED' && e.type !== 'ADDED') continue;
      const name = e.object.metadata.name ?? '';
      if (e.object.status?.phase !== 'Running' || runningAt.has(name)) continue;
      runningAt.set(name, performance.now());
      nodeOf.set(name, e.object.spec?.nodeName ?? '?');
      waiters.get(name)?.();
      if (runningAt.size >= podCount) break;
    }
  })();
  const running = (name: string) =>
    new Promise<void>((resolve) => {
      if (runningAt.has(name)) resolve();
      else waiters.set(name, resolve);
    });
  const create = async (name: string) => {
    createdAt.set(name, performance.now());
    await pods.create(pod(name, mode));
  };
  const names = Array.from({ length: podCount }, (_, i) => `${mode}-${i}`);
  const started = performance.now();
  const all = async () => {
    switch (mode) {
      case 'sequential':
        for (const name of names) {
          await create(name);
          await Promise.race([running(name), timeout(podTimeoutMs)]);
        }
        return;
      case 'rate': {
        const creates: Promise<void>[] = [];
        for (const [i, name] of names.entries()) {
          const due = started + (i * 1000) / ratePerSecond;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          creates.push(create(name));
        }
        await Promise.all(creates);
        return;
      }
      case 'burst':
        await Promise.all(names.map(create));
        return;
      default:
        throw new Error(`unknown mode ${mode} (sequential, rate, burst)`);
    }
  };
  await all();
  await Promise.race([Promise.all(names.map(running)), timeout(mode === 'sequential' ? 0 : podTimeoutMs)]);
  const elapsedMs = performance.now() - started;
  const loadAfter = loadavg()[0] ?? Number.NaN;
  watch.cancel();
  await watching.catch(() => undefined);
  const latenciesMs = names
    .filter((n) => runningAt.has(n))
    .map((n) => runningAt.get(n)! - createdAt.get(n)!)
    .sort((a, b) => a - b);
  const perNode = new Map<string, number>();
  for (const n of nodeOf.values()) perNode.set(n, (perNode.get(n) ?? 0) + 1);

  // Room for the next mode: every pod deleted and gone (the agents confirm their
  // containers stopped), so its clean-up does not load the next measurement.
  await Promise.all(names.map((n) => pods.delete(n, { namespace }).catch(() => undefined)));
  await until(
    `the ${mode} pods gone`,
    async () => (await pods.list({ namespace, labelSelector: `bench=${mode}` })).items.length === 0,
    modeTimeoutMs,
  );
  await sleep(3_000);
  return {
    mode,
    latenciesMs,
    missing: podCount - latenciesMs.length,
    elapsedMs,
    perNode,
    loadBefore,
    loadAfter,
  };
}

const labels: Record<string, string> = {
  sequential: 'one at a time',
  rate: `at ${ratePerSecond}/s`,
  burst: `burst (${podCount} at once)`,
};

const nodeNames = Array.from({ length: nodeCount }, (_, i) => `node-${String.fromCharCode(97 + i)}`);
const startedAt = performance.now();
const cluster = await AgentCluster.start({ ...ranges, nodes: nodeNames, scopeLockWaitMs: 600_000 });
try {
  const api = await cluster.plane.apiClient({ timeoutMs: 30_000 });
  await until(
    `${nodeCount} Ready nodes`,
    async () => {
      const nodes = (await api.resource<Node>(nodesRef).list()).items;
      return (
        nodes.length === nodeCount &&
        nodes.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
      );
    },
    120_000,
  );
  console.log(
    `cluster of ${nodeCount} containerd agent(s) Ready in ${fmt((performance.now() - startedAt) / 1000)} s; ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${cpus().length} cores`,
  );
  // A first pod per node, not measured: images imported, first sandbox made.
  await measureWarmUp(api);
  const results: ModeResult[] = [];
  for (const mode of modes) {
    const r = await measure(api, mode);
    results.push(r);
    console.log(
      `${labels[mode] ?? mode}: done in ${fmt(r.elapsedMs / 1000)} s, load ${fmt(r.loadBefore, 1)} → ${fmt(r.loadAfter, 1)}`,
    );
  }
  const s = (ms: number) => fmt(ms / 1000);
  console.log(
    `\npod startup, created → Running seen on a watch: ${podCount} busybox pods per mode, image present, ` +
      `${nodeCount} containerd node(s), ${cpus().length} cores\n`,
  );
  printTable([
    [
      'mode',
      'pods',
      'p50 s',
      'p90 s',
      'p99 s',
      'max s',
      'SLO p99 ≤ 5 s',
      'aim p99 ≤ 1 s',
      'per node',
      'load 1m',
    ],
    ...results.map((r) => {
      const p99 = percentile(r.latenciesMs, 99);
      const missed = r.missing > 0 ? ` (${r.missing} never Running)` : '';
      return [
        labels[r.mode] ?? r.mode,
        `${r.latenciesMs.length}${missed}`,
        s(percentile(r.latenciesMs, 50)),
        s(percentile(r.latenciesMs, 90)),
        s(p99),
        s(r.latenciesMs.at(-1) ?? Number.NaN),
        r.missing === 0 && p99 <= sloP99Ms ? 'met' : 'missed',
        r.missing === 0 && p99 <= aimP99Ms ? 'met' : 'missed',
        [...r.perNode.entries()]
          .sort()
          .map(([, c]) => String(c))
          .join('/'),
        `${fmt(r.loadBefore, 1)}→${fmt(r.loadAfter, 1)}`,
      ];
    }),
  ]);
  console.log(
    "\nKubernetes' SLO: https://github.com/kubernetes/community/blob/master/sig-scalability/slos/pod_startup_latency.md",
  );
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  const teardownStart = performance.now();
  await cluster.destroy();
  await cleanupAll();
  console.log(`cluster torn down in ${fmt((performance.now() - teardownStart) / 1000)} s`);
}
// Everything is torn down; a NATS client's timers would otherwise keep the process up.
process.exit();

/** One pod per node through the same path, not measured: the agents' first-pod costs out of the way. */
async function measureWarmUp(api: ApiClient): Promise<void> {
  const pods = api.resource<Pod>(podsRef);
  const names = nodeNames.map((n) => `warm-${n}`);
  await Promise.all(names.map((name, i) => pods.create(pod(name, 'warm', nodeNames[i]))));
  await until(
    'the warm-up pods Running',
    async () =>
      (await pods.list({ namespace, labelSelector: 'bench=warm' })).items.filter(
        (p) => p.status?.phase === 'Running',
      ).length === names.length,
    120_000,
  );
  await Promise.all(names.map((n) => pods.delete(n, { namespace })));
  await until(
    'the warm-up pods gone',
    async () => (await pods.list({ namespace, labelSelector: 'bench=warm' })).items.length === 0,
    120_000,
  );
}
