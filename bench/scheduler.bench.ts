// bench:scheduler — scheduling throughput on a real control plane (3 NATS servers, a
// 3-member store, API server replicas) with 1,000 fake nodes in one process: 10,000 pods
// are created while no scheduler runs, then a scheduler process starts and binds them;
// pods/s from its first binding to its last, for the three workloads of Kubernetes'
// scheduler_perf whose floors the issue names, printed next to them:
//   basic              pod-default (100m cpu, 500Mi)                     floor 680 pods/s
//   pod anti-affinity  required anti-affinity by hostname                floor  60 pods/s
//   node affinity      required node affinity to two of the zones        floor 220 pods/s
// (scheduler_perf's anti-affinity pods all repel each other on 5,000 nodes; 1,000 nodes
// cannot hold 10,000 of those, so here they repel within 20 groups of 500.)
// Fake nodes play no kubelet here (pods stay bound and Pending), as in scheduler_perf;
// their Leases are renewed every 10 s as a real node's are.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ControlPlane, cleanupAll, FakeNodeProcess } from '@flotilla/testkit';
import type { ApiClient, Namespace, Pod, PodSpec, WatchEvent } from '../packages/api/src/index.ts';
import { fmt, printTable } from './lib/stats.ts';

const nodeCount = Number(process.env.BENCH_NODES ?? 1_000);
const podCount = Number(process.env.BENCH_PODS ?? 10_000);
const createConcurrency = Number(process.env.BENCH_CREATE_CONCURRENCY ?? 64);
const bindsInFlight = Number(process.env.BENCH_BINDS_IN_FLIGHT ?? 0);
const only = (process.env.BENCH_WORKLOADS ?? 'basic,anti-affinity,node-affinity').split(',');
const schedulerMain = fileURLToPath(
  new URL('../packages/controllers/test/fixtures/scheduler-main.ts', import.meta.url),
);

type Workload = {
  readonly name: string;
  readonly label: string;
  readonly floor: number;
  readonly pod: (i: number) => { labels: Record<string, string>; spec: Partial<PodSpec> };
};

const antiAffinityGroups = 20;
const workloads: readonly Workload[] = [
  { name: 'basic', label: 'basic', floor: 680, pod: () => ({ labels: {}, spec: {} }) },
  {
    name: 'anti-affinity',
    label: 'required pod anti-affinity',
    floor: 60,
    pod: (i) => {
      const color = `c${i % antiAffinityGroups}`;
      return {
        labels: { color },
        spec: {
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: { matchLabels: { color } }, topologyKey: 'kubernetes.io/hostname' },
              ],
            },
          },
        },
      };
    },
  },
  {
    name: 'node-affinity',
    label: 'required node affinity',
    floor: 220,
    pod: () => ({
      labels: {},
      spec: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-0', 'zone-1'] },
                  ],
                },
              ],
            },
          },
        },
      },
    }),
  },
];

function pod(name: string, namespace: string, w: Workload, i: number): Pod {
  const { labels, spec } = w.pod(i);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: 'bench', ...labels } },
    spec: {
      containers: [
        {
          name: 'pause',
          image: 'registry.example/pause:3.9',
          ports: [{ containerPort: 80 }],
          resources: { requests: { cpu: '100m', memory: '500Mi' }, limits: { cpu: '100m', memory: '500Mi' } },
        },
      ],
      ...spec,
    },
  };
}

async function pool(count: number, concurrency: number, f: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await f(next++);
    }),
  );
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

type Result = {
  readonly w: Workload;
  readonly podsPerSecond: number;
  readonly totalSeconds: number;
  readonly cpu: number;
  readonly createPerSecond: number;
};

async function run(plane: ControlPlane, api: ApiClient, w: Workload): Promise<Result> {
  const namespace = `bench-${w.name}`;
  await api.resource<Namespace>({ group: '', version: 'v1', resource: 'namespaces' }).create({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespace },
  });
  const pods = api.resource<Pod>({ group: '', version: 'v1', resource: 'pods' });
  const createStart = performance.now();
  await pool(podCount, createConcurrency, (i) => pods.create(pod(`p-${i}`, namespace, w, i)));
  const createPerSecond = podCount / ((performance.now() - createStart) / 1000);
  const listed = await pods.list({ namespace, limit: 1 });
  // Every binding, timed as the watch delivers it.
  const boundAt: number[] = [];
  const watch = pods.watch({ namespace, resourceVersion: listed.metadata.resourceVersion ?? '' });
  const seen = new Set<string>();
  const watching = (async () => {
    for await (const e of watch as AsyncIterable<WatchEvent<Pod>>) {
      if (e.type !== 'MODIFIED' || !e.object.spec?.nodeName) continue;
      const uid = e.object.metadata.uid ?? '';
      if (seen.has(uid)) continue;
      seen.add(uid);
      boundAt.push(performance.now());
      if (boundAt.length >= podCount) break;
    }
  })();
  const started = performance.now();
  const scheduler = plane.startProcess({
    name: `scheduler-${w.name}`,
    script: schedulerMain,
    env: {
      FLOTILLA_LOG_LEVEL: process.env.BENCH_SCHEDULER_LOG_LEVEL ?? 'warn',
      FLOTILLA_SCHEDULER: JSON.stringify({
        election: { identity: `bench-${w.name}` },
        ...(bindsInFlight > 0 ? { scheduler: { maxBindsInFlight: bindsInFlight } } : {}),
      }),
    },
  });
  const cpuBefore = cpuSeconds(scheduler.pid);
  const deadline = Date.now() + 30 * 60_000;
  while (boundAt.length < podCount && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const cpu = cpuSeconds(scheduler.pid) - cpuBefore;
  watch.cancel();
  await watching.catch(() => undefined);
  await scheduler.stop(10_000);
  const first = boundAt[0] ?? Number.NaN;
  const last = boundAt[boundAt.length - 1] ?? Number.NaN;
  if (boundAt.length < podCount)
    console.log(`${w.name}: only ${boundAt.length}/${podCount} pods bound in time`);
  // Make room for the next workload: drop this one's pods (bound, so a grace period of 0).
  await pool(podCount, createConcurrency, (i) =>
    pods.delete(`p-${i}`, { namespace, gracePeriodSeconds: 0 }).catch(() => undefined),
  );
  return {
    w,
    podsPerSecond: (boundAt.length - 1) / ((last - first) / 1000),
    totalSeconds: (last - started) / 1000,
    cpu,
    createPerSecond,
  };
}

/**
 * The anchor of this machine: pods/s the API server binds when a client does nothing but
 * bind (as many in flight as the scheduler allows itself), measured in the same run.
 */
async function bindCeiling(api: ApiClient, nodeNames: readonly string[]): Promise<number> {
  const namespace = 'bench-ceiling';
  const count = Math.min(podCount, 2_000);
  await api.resource<Namespace>({ group: '', version: 'v1', resource: 'namespaces' }).create({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: namespace },
  });
  const pods = api.resource<Pod>({ group: '', version: 'v1', resource: 'pods' });
  await pool(count, createConcurrency, (i) => pods.create(pod(`c-${i}`, namespace, workloads[0]!, i)));
  const started = performance.now();
  await pool(count, bindsInFlight > 0 ? bindsInFlight : 64, (i) =>
    api.bind(namespace, `c-${i}`, nodeNames[i % nodeNames.length] ?? ''),
  );
  const perSecond = count / ((performance.now() - started) / 1000);
  await pool(count, createConcurrency, (i) =>
    pods.delete(`c-${i}`, { namespace, gracePeriodSeconds: 0 }).catch(() => undefined),
  );
  return perSecond;
}

const plane = await ControlPlane.start({ logLevel: 'warn', apiServers: 3 });
let nodes: FakeNodeProcess | undefined;
try {
  const api = await plane.apiClient({ timeoutMs: 30_000 });
  const registerStart = performance.now();
  nodes = await FakeNodeProcess.start(
    plane,
    {
      name: 'bench',
      count: nodeCount,
      zones: 4,
      capacity: { cpu: '32', memory: '128Gi', pods: '110' },
      podReadyDelayMs: 24 * 3600_000,
      leaseRenewIntervalMs: 10_000,
    },
    10 * 60_000,
  );
  console.log(`${nodeCount} fake nodes registered in ${fmt((performance.now() - registerStart) / 1000)} s`);
  const ceiling = await bindCeiling(api, nodes.nodeNames);
  const results: Result[] = [];
  for (const w of workloads) if (only.includes(w.name)) results.push(await run(plane, api, w));
  console.log(
    `\nscheduler: ${podCount} pods on ${nodeCount} fake nodes (${(await import('node:os')).cpus().length} cores)\n`,
  );
  console.log(`API bind ceiling on this machine (a client binding only): ${fmt(ceiling)} pods/s\n`);
  printTable([
    [
      'workload',
      'pods/s',
      'floor (scheduler_perf)',
      'ratio',
      'of bind ceiling',
      'start→last bound s',
      'scheduler cpu s',
      'create pods/s',
    ],
    ...results.map((r) => [
      r.w.label,
      fmt(r.podsPerSecond),
      String(r.w.floor),
      `${fmt(r.podsPerSecond / r.w.floor)}x`,
      `${fmt((100 * r.podsPerSecond) / ceiling)} %`,
      fmt(r.totalSeconds),
      fmt(r.cpu),
      fmt(r.createPerSecond),
    ]),
  ]);
  console.log('\nThe floors were measured by Kubernetes on machines with many more cores than this one.');
} finally {
  await nodes?.close();
  await plane.stop();
  await cleanupAll();
}
