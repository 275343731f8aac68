// How long the service proxy takes to sync 1,000 Services of 3 endpoints each into a
// network namespace of its own (root): the first full sync, a one-endpoint change, a
// sync with nothing changed, and the pure rule generation alone.
//   node packages/agent/test/proxy-sync.measure.ts [services] [rounds]
import { performance } from 'node:perf_hooks';
import { silentLogger } from '@flotilla/actor';
import { createNetns, deleteNetns } from '../src/net/netns.ts';
import { ServiceCatalog } from '../src/net/service-catalog.ts';
import { proxyRules, proxyServicePorts, ruleCount } from '../src/proxy/rules.ts';
import { ServiceProxy } from '../src/proxy/service-proxy.ts';
import { service, slice } from './net-fixtures.ts';

const services = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 20);
const netns = 'flmeasure-proxy';

const ipOf = (base: number, i: number) =>
  `10.${base + Math.floor(i / 65_536)}.${Math.floor(i / 256) % 256}.${i % 256}`;
const objects = Array.from({ length: services }, (_, i) => [
  service('bench', `svc-${i}`, ipOf(96, i + 1), [{ name: 'http', port: 80, nodePort: 30_000 + (i % 2700) }]),
  slice(
    'bench',
    `svc-${i}`,
    [0, 1, 2].map((e) => ({ ip: ipOf(100, i * 3 + e + 1) })),
    [{ name: 'http', port: 8080 }],
  ),
]).flat();

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms, max ${s[s.length - 1]!.toFixed(1)} ms`;
};

if (process.getuid?.() !== 0) {
  process.stdout.write('proxy-sync.measure: needs root (a network namespace and iptables)\n');
  process.exit(0);
}
await deleteNetns(netns);
await createNetns(netns);
try {
  // Pure part: catalog views → rules. Rules are memoized per (immutable) view, so the
  // first pass is what a cold start or a change to every Service costs, and later passes
  // what a sync costs when nothing changed.
  const catalog = new ServiceCatalog();
  for (const object of objects) catalog.apply({ kind: 'added', object });
  let t = performance.now();
  const rules = ruleCount(proxyRules(proxyServicePorts(catalog.views())));
  const coldGeneration = performance.now() - t;
  const warmGeneration: number[] = [];
  for (let r = 0; r < rounds; r++) {
    t = performance.now();
    proxyRules(proxyServicePorts(catalog.views()));
    warmGeneration.push(performance.now() - t);
  }

  const proxy = await ServiceProxy.start({
    nodeName: 'measure',
    netns,
    serviceCIDR: '10.96.0.0/12',
    logger: silentLogger(),
  });
  for (const object of objects) proxy.handle({ kind: 'added', object });
  const full = await proxy.flush();
  const oneEndpoint: number[] = [];
  const written: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const i = (r * 37) % services;
    proxy.handle({
      kind: 'updated',
      object: slice(
        'bench',
        `svc-${i}`,
        [0, 1, 2].map((e) => ({ ip: ipOf(100, i * 3 + e + 1 + ((r % 2) + 1) * 10_000) })),
        [{ name: 'http', port: 8080 }],
      ),
    });
    const result = await proxy.flush();
    oneEndpoint.push(result.durationMs);
    written.push(result.written.length + result.deleted.length);
  }
  const noop: number[] = [];
  for (let r = 0; r < rounds; r++) {
    proxy.handle({ kind: 'updated', object: objects[0]! });
    noop.push((await proxy.flush()).durationMs);
  }
  process.stdout.write(
    `${[
      `services ${services} x 3 endpoints: ${full.servicePorts} service ports, ${rules} rules, ${full.written.length} chains`,
      `full sync (first): ${full.durationMs.toFixed(0)} ms`,
      `one Service's endpoints replaced (${written[0]} chains written or deleted): ${stats(oneEndpoint)} over ${rounds} syncs`,
      `nothing changed: ${stats(noop)}`,
      `rule generation alone (views -> rules): ${coldGeneration.toFixed(1)} ms cold, ${stats(warmGeneration)} warm`,
    ].join('\n')}\n`,
  );
  await proxy.destroy();
} finally {
  await deleteNetns(netns);
}
