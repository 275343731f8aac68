// bench:apiserver — a 3-replica control plane (3 NATS servers, 3 store members, 3 API
// server processes behind the loopback balancer), driven over HTTP as kubectl drives it:
// mutating call latency (create, patch, delete of pods) at 20 and 200 calls/s, open loop;
// list latency with 10,000 pods; watch delivery latency. Printed next to Kubernetes'
// SLOs (mutating calls p99 <= 1 s; namespace-scoped lists p99 <= 5 s).
import { setTimeout as delay } from 'node:timers/promises';
import { ControlPlane, cleanupAll } from '@flotilla/testkit';
import { fmt, percentile, printTable } from './lib/stats.ts';

const lowRate = Number(process.env.BENCH_LOW_RATE ?? 20);
const highRate = Number(process.env.BENCH_HIGH_RATE ?? 200);
const rateSeconds = Number(process.env.BENCH_RATE_SECONDS ?? 20);
const listPods = Number(process.env.BENCH_LIST_PODS ?? 10_000);
const listRounds = Number(process.env.BENCH_LIST_ROUNDS ?? 10);
const watchers = Number(process.env.BENCH_WATCHERS ?? 10);
const watchEvents = Number(process.env.BENCH_WATCH_EVENTS ?? 300);

const cp = await ControlPlane.start({ logLevel: 'warn' });
const base = cp.url;

class CallFailed extends Error {
  readonly status: number;
  constructor(method: string, path: string, status: number) {
    super(`${method} ${path}: ${status}`);
    this.status = status;
  }
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<number> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await res.arrayBuffer();
  if (res.status >= 300) throw new CallFailed(method, path, res.status);
  return res.status;
}

const pod = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'bench', ...labels } },
  spec: {
    containers: [
      {
        name: 'main',
        image: 'registry.example/bench/app:1.0',
        ports: [{ containerPort: 8080 }],
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
        env: [{ name: 'MODE', value: 'bench' }],
      },
    ],
  },
});

async function namespace(name: string): Promise<void> {
  await call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/**
 * Mutating calls sent at a fixed rate whatever their latency (open loop, so a slow call
 * does not hide the ones that would have queued behind it): each pod is created, patched,
 * then deleted, one call per tick.
 */
async function mutatingAtRate(ns: string, rate: number, seconds: number) {
  const total = Math.round(rate * seconds);
  const latencies: Record<string, number[]> = { create: [], patch: [], delete: [] };
  const failures = new Map<string, number>();
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await delay(wait);
    const n = Math.floor(i / 3);
    const verb = (['create', 'patch', 'delete'] as const)[i % 3] as 'create' | 'patch' | 'delete';
    const name = `p-${n}`;
    const path = `/api/v1/namespaces/${ns}/pods`;
    const op =
      verb === 'create'
        ? () => call('POST', path, pod(name))
        : verb === 'patch'
          ? () =>
              call(
                'PATCH',
                `${path}/${name}`,
                { metadata: { labels: { patched: 'yes' } } },
                'application/merge-patch+json',
              )
          : () => call('DELETE', `${path}/${name}`);
    // Each pod's calls are ordered: a patch waits for its create, a delete for its patch.
    const previous = inflight[n] ?? Promise.resolve();
    inflight[n] = previous.then(async () => {
      const t = performance.now();
      try {
        await op();
        latencies[verb]?.push(performance.now() - t);
      } catch (err) {
        const code = err instanceof CallFailed ? String(err.status) : 'network';
        failures.set(code, (failures.get(code) ?? 0) + 1);
      }
    });
  }
  await Promise.all(inflight);
  const all = Object.values(latencies)
    .flat()
    .sort((a, b) => a - b);
  return { latencies, all, failures, seconds: (performance.now() - started) / 1000, total };
}

/** Retries a create that the server could not take (503/504 while the store elects a leader). */
const maxCreateAttempts = 5;

/** The floor: puts of a pod-sized value straight to the store, at the same rate, from this process. */
async function storePutsAtRate(rate: number, seconds: number): Promise<number[]> {
  const store = await cp.storeClient();
  const value = JSON.stringify(pod('floor'));
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await delay(wait);
    inflight.push(
      (async () => {
        const t = performance.now();
        await store.put(`/bench/floor/${i % 100}`, value);
        latencies.push(performance.now() - t);
      })(),
    );
  }
  await Promise.all(inflight);
  return latencies.sort((a, b) => a - b);
}

async function populate(
  ns: string,
  count: number,
  concurrency = 48,
): Promise<{ perSecond: number; retries: number }> {
  const started = performance.now();
  let next = 0;
  let retries = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const name = `pod-${String(next++).padStart(5, '0')}`;
        for (let attempt = 1; ; attempt++) {
          const res = await fetch(`${base}/api/v1/namespaces/${ns}/pods`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(pod(name)),
          });
          await res.arrayBuffer();
          // 409: an earlier attempt that timed out did create it.
          if (res.status < 300 || res.status === 409) break;
          if (attempt >= maxCreateAttempts) throw new Error(`creating ${name}: ${res.status}`);
          retries += 1;
          await delay(200 * attempt);
        }
      }
    }),
  );
  return { perSecond: (count / (performance.now() - started)) * 1000, retries };
}

async function listLatency(
  path: string,
  rounds: number,
): Promise<{ sorted: number[]; items: number; bytes: number }> {
  const times: number[] = [];
  let items = 0;
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const res = await fetch(`${base}${path}`);
    const text = await res.text();
    const list = JSON.parse(text) as { items: unknown[] };
    times.push(performance.now() - t);
    items = list.items.length;
    bytes = text.length;
  }
  return { sorted: times.sort((a, b) => a - b), items, bytes };
}

async function pagedListLatency(path: string, limit: number, rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    let token = '';
    do {
      const res = await fetch(`${base}${path}?limit=${limit}${token === '' ? '' : `&continue=${token}`}`);
      const list = (await res.json()) as { metadata: { continue?: string } };
      token = list.metadata.continue ?? '';
    } while (token !== '');
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

/** Watchers on every replica; each create's event is timed from the moment the create was sent. */
async function watchDelivery(ns: string, count: number, watcherCount: number): Promise<number[]> {
  const list = (await (await fetch(`${base}/api/v1/namespaces/${ns}/configmaps`)).json()) as {
    metadata: { resourceVersion: string };
  };
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const controllers: AbortController[] = [];
  const streams = cp.apiServers.map((r) => r.url);
  const readers = Array.from({ length: watcherCount }, async (_, w) => {
    const controller = new AbortController();
    controllers.push(controller);
    const url = `${streams[w % streams.length]}/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${list.metadata.resourceVersion}`;
    const res = await fetch(url, { signal: controller.signal });
    const decoder = new TextDecoder();
    let buffered = '';
    let seen = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const event = JSON.parse(buffered.slice(0, nl)) as { object: { metadata: { name: string } } };
          buffered = buffered.slice(nl + 1);
          const sent = sentAt.get(event.object.metadata.name);
          if (sent !== undefined) latencies.push(performance.now() - sent);
          seen += 1;
        }
        if (seen >= count) break;
      }
    } catch {
      // aborted at the end
    }
  });
  await delay(500);
  for (let i = 0; i < count; i++) {
    const name = `w-${i}`;
    sentAt.set(name, performance.now());
    await call('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name },
    });
    await delay(1000 / lowRate);
  }
  const deadline = performance.now() + 30_000;
  while (latencies.length < count * watcherCount && performance.now() < deadline) await delay(50);
  for (const c of controllers) c.abort();
  await Promise.allSettled(readers);
  return latencies.sort((a, b) => a - b);
}

await namespace('rate-low');
await namespace('rate-high');
await namespace('listing');
await namespace('watching');
await mutatingAtRate('rate-low', lowRate, 3); // warm-up: connections, JIT, OpenAPI caches
const floor = await storePutsAtRate(lowRate, rateSeconds);
const low = await mutatingAtRate('rate-low', lowRate, rateSeconds);
const high = await mutatingAtRate('rate-high', highRate, rateSeconds);
const populated = await populate('listing', listPods);
const full = await listLatency('/api/v1/namespaces/listing/pods', listRounds);
const paged = await pagedListLatency('/api/v1/namespaces/listing/pods', 500, listRounds);
const watch = await watchDelivery('watching', watchEvents, watchers);

const p = (sorted: number[], q: number) => `${fmt(percentile(sorted, q))} ms`;
const sortedOf = (xs: number[] | undefined) => [...(xs ?? [])].sort((a, b) => a - b);
console.log(
  `bench:apiserver — 3 NATS servers, 3 store members, 3 API server processes; client over HTTP in a 4th process (${
    (await import('node:os')).cpus().length
  } cores)`,
);
printTable([
  ['measure', 'p50', 'p99', 'Kubernetes SLO', 'note'],
  [
    `store put at ${lowRate}/s (the floor)`,
    p(floor, 50),
    p(floor, 99),
    '',
    'a pod-sized value, straight to the store',
  ],
  ...[
    [`mutating calls at ${lowRate}/s`, low] as const,
    [`mutating calls at ${highRate}/s`, high] as const,
  ].flatMap(([label, r]) => [
    [
      label,
      p(r.all, 50),
      p(r.all, 99),
      'p99 <= 1,000 ms',
      `${r.all.length} calls in ${fmt(r.seconds)} s, ${
        r.failures.size === 0 ? 'none failed' : [...r.failures].map(([c, n]) => `${n} got ${c}`).join(', ')
      }`,
    ],
    ...(['create', 'patch', 'delete'] as const).map((verb) => [
      `  ${verb}`,
      p(sortedOf(r.latencies[verb]), 50),
      p(sortedOf(r.latencies[verb]), 99),
      '',
      '',
    ]),
  ]),
  [
    `list ${full.items} pods (one response)`,
    p(full.sorted, 50),
    p(full.sorted, 99),
    'p99 <= 5,000 ms',
    `${fmt(full.bytes / 1024 / 1024)} MiB of JSON, ${listRounds} rounds`,
  ],
  [
    `list ${full.items} pods, limit=500 pages`,
    p(paged, 50),
    p(paged, 99),
    'p99 <= 5,000 ms',
    'as kubectl get pages',
  ],
  [
    `watch delivery (${watchers} watchers)`,
    p(watch, 50),
    p(watch, 99),
    '',
    `${watch.length} deliveries of ${watchEvents} creates at ${lowRate}/s, from send to receipt`,
  ],
  [
    'pod creation, 48 in flight',
    `${fmt(populated.perSecond)}/s`,
    '',
    '',
    `to fill the list namespace (${populated.retries} retried after 5xx)`,
  ],
]);

await cp.stop();
await cleanupAll();
