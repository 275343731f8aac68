// The service proxy in real network namespaces: two nodes, three web pods spread over
// them, a client pod; each node's ServiceProxy fed the same Services and EndpointSlices
// from an in-memory source. Needs root.
import { silentLogger, sleep } from '@flotilla/actor';
import type { EndpointSlice, Service } from '@flotilla/api';
import {
  diffSnapshots,
  fetchMany,
  lockNetnsScope,
  NetnsCluster,
  type RootNetworkSnapshot,
  reportRootSkip,
  rootNetworkSnapshot,
  runsAsRoot,
  startHttpEcho,
  tallyEcho,
  unrelatedTo,
} from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNet } from '../src/net/command.ts';
import { linkExists } from '../src/net/links.ts';
import { createNetns, deleteNetns } from '../src/net/netns.ts';
import { PodRouter } from '../src/net/pod-routes.ts';
import { listOwnRoutes } from '../src/net/routes.ts';
import { InMemoryServiceSource } from '../src/net/service-catalog.ts';
import { endpointChainName, serviceChainName } from '../src/proxy/chain-names.ts';
import { type ProxySyncResult, ServiceProxy, serviceSinkInterface } from '../src/proxy/service-proxy.ts';
import { service, slice } from './net-fixtures.ts';

const ranges = {
  name: 'flproxy',
  underlayCIDR: '10.211.0.0/24',
  clusterCIDR: '10.212.0.0/16',
  serviceCIDR: '10.213.0.0/16',
};
/** How long a run waits for another run of this file to finish with the machine. */
const scopeLockWaitMs = 540_000;
const clusterIP = '10.213.0.20';
const nodePort = 30080;
const requests = 300;
/**
 * Each of 3 endpoints should get 100 of 300 requests; the count is binomial with
 * σ ≈ 8.2, so ±40 (4.9σ) fails a correct proxy about once in a million runs.
 */
const fairShareTolerance = 40;

const webService = (spec: Partial<Service['spec']> = {}): Service =>
  service('default', 'web', clusterIP, [{ name: 'http', port: 80, nodePort }], spec);

describe.runIf(reportRootSkip('proxy e2e'))('service proxy (iptables, nf_tables backend)', () => {
  let before: RootNetworkSnapshot;
  let cluster: NetnsCluster;
  const proxies = new Map<string, ServiceProxy>();
  const sources = new Map<string, InMemoryServiceSource>();
  const routers: PodRouter[] = [];
  let webSlice: (names: readonly string[]) => EndpointSlice;

  /** Every proxy gets the event; resolves once each has synced after it. */
  async function publish(...objects: (Service | EndpointSlice)[]): Promise<Map<string, ProxySyncResult>> {
    const previous = new Map([...proxies].map(([n, p]) => [n, p.lastSync]));
    for (const source of sources.values()) for (const o of objects) source.upsert(o);
    const results = new Map<string, ProxySyncResult>();
    // The proxies sync on their own (minSyncIntervalMs after the event); wait, bounded
    // generously (process starts are slow on a loaded machine).
    for (let i = 0; i < 800 && results.size < proxies.size; i++) {
      for (const [name, proxy] of proxies) {
        if (proxy.lastSync !== previous.get(name) && proxy.lastSync !== undefined)
          results.set(name, proxy.lastSync);
      }
      await sleep(25);
    }
    expect(results.size, 'proxies that synced').toBe(proxies.size);
    return results;
  }

  beforeAll(async () => {
    // Another run of this file (someone running the whole e2e project) waits its turn.
    await lockNetnsScope(ranges.name, scopeLockWaitMs);
    before = await rootNetworkSnapshot();
    cluster = await NetnsCluster.create({
      ...ranges,
      nodes: [
        { name: 'a', podCIDR: '10.212.1.0/24' },
        { name: 'b', podCIDR: '10.212.2.0/24' },
      ],
    });
    for (const [node, pod] of [
      ['a', 'web-a'],
      ['b', 'web-b1'],
      ['b', 'web-b2'],
    ] as const) {
      await startHttpEcho(await cluster.addPod(node, pod), 8080);
    }
    await cluster.addPod('a', 'client');
    webSlice = (names) =>
      slice(
        'default',
        'web',
        names.map((n) => ({ ip: cluster.pod(n).ip, nodeName: cluster.pod(n).node.name })),
        [{ name: 'http', port: 8080 }],
      );
    for (const node of cluster.nodeList) {
      const router = new PodRouter({
        nodeName: node.name,
        netns: node.netns,
        clusterCIDR: ranges.clusterCIDR,
        logger: silentLogger(),
      });
      await router.start();
      await router.sync(cluster.nodeObjects());
      routers.push(router);
      const proxy = await ServiceProxy.start({
        nodeName: node.name,
        netns: node.netns,
        serviceCIDR: ranges.serviceCIDR,
        logger: silentLogger(),
        minSyncIntervalMs: 50,
      });
      const source = new InMemoryServiceSource();
      proxies.set(node.name, proxy);
      sources.set(node.name, source);
      void proxy.run(source);
    }
    for (const source of sources.values()) source.synced();
    const first = await publish(webService(), webSlice(['web-a', 'web-b1', 'web-b2']));
    for (const result of first.values()) expect(result.full).toBe(true);
  }, scopeLockWaitMs + 60_000);

  afterAll(async () => {
    if (!runsAsRoot) return;
    for (const source of sources.values()) source.close();
    for (const [name, proxy] of proxies) {
      await proxy.destroy();
      const netns = cluster.node(name).netns;
      const saved = await runNet('iptables-save', [], { netns });
      expect(
        saved.split('\n').filter((l) => l.startsWith('-A') || l.includes('FLOTILLA')),
        name,
      ).toEqual([]);
      expect(await linkExists({ netns, name: serviceSinkInterface })).toBe(false);
    }
    for (const router of routers) await router.stop();
    for (const node of cluster?.nodeList ?? []) expect(await listOwnRoutes(node.netns)).toEqual([]);
    await cluster?.destroy();
    expect(
      diffSnapshots(
        before,
        await rootNetworkSnapshot(),
        unrelatedTo({
          prefixes: [`${ranges.name}-`],
          ranges: [ranges.underlayCIDR, ranges.clusterCIDR, ranges.serviceCIDR],
        }),
      ),
    ).toEqual({
      added: [],
      removed: [],
    });
  });

  function expectFairSpread(
    byPod: ReadonlyMap<string, number>,
    pods: readonly string[],
    total: number,
  ): void {
    const fair = total / pods.length;
    expect([...byPod.keys()].sort()).toEqual([...pods].sort());
    for (const pod of pods) {
      const n = byPod.get(pod) ?? 0;
      expect(n, `${pod} got ${n} of ${total}`).toBeGreaterThanOrEqual(fair - fairShareTolerance);
      expect(n, `${pod} got ${n} of ${total}`).toBeLessThanOrEqual(fair + fairShareTolerance);
    }
  }

  it('spreads 300 requests to the cluster IP fairly over the three endpoints, the client’s address intact', async () => {
    const client = cluster.pod('client');
    const tally = tallyEcho(await client.fetchMany(`http://${clusterIP}/cgi-bin/who`, requests));
    expect(tally.failures).toBe(0);
    expectFairSpread(tally.byPod, ['web-a', 'web-b1', 'web-b2'], requests);
    expect([...tally.sources]).toEqual([client.ip]);
  });

  it('spreads 300 requests to a NodePort from another node fairly, masqueraded to the proxying node', async () => {
    const a = cluster.node('a');
    const tally = tallyEcho(
      await fetchMany(cluster.node('b').netns, `http://${a.address}:${nodePort}/cgi-bin/who`, requests),
    );
    expect(tally.failures).toBe(0);
    expectFairSpread(tally.byPod, ['web-a', 'web-b1', 'web-b2'], requests);
    // The reply must return through node a: endpoints see one of node a's own addresses.
    expect(
      [...tally.sources].every((s) => s === a.address || s === a.gateway),
      [...tally.sources].join(),
    ).toBe(true);
  });

  it('keeps a client on one endpoint with ClientIP session affinity', async () => {
    await publish(webService({ sessionAffinity: 'ClientIP' }));
    const tally = tallyEcho(await cluster.pod('client').fetchMany(`http://${clusterIP}/cgi-bin/who`, 30));
    expect([tally.failures, tally.byPod.size]).toEqual([0, 1]);
    await publish(webService());
    const spread = tallyEcho(await cluster.pod('client').fetchMany(`http://${clusterIP}/cgi-bin/who`, 30));
    expect(spread.byPod.size).toBeGreaterThan(1);
  });

  it('stops sending to a removed endpoint at the next sync, rewriting only the chains that changed', async () => {
    const netns = cluster.node('a').netns;
    const counters = async () => {
      const saved = await runNet('iptables-save', ['-c', '-t', 'nat'], { netns });
      const packets = (chain: string) =>
        saved
          .split('\n')
          .filter((l) => l.includes(`-A ${chain} `))
          .map((l) => Number(/^\[(\d+):/.exec(l)?.[1] ?? 'NaN'));
      return { packets };
    };
    const svc = serviceChainName('default/web:http', 'TCP');
    const beforeSync = await counters();
    const entryPackets = beforeSync.packets('FLOTILLA-SERVICES')[0]!;
    expect(entryPackets).toBeGreaterThan(0);
    expect(beforeSync.packets(svc).reduce((x, y) => x + y, 0)).toBeGreaterThan(0);

    const results = await publish(webSlice(['web-a', 'web-b1']));
    const removed = endpointChainName('default/web:http', 'TCP', `${cluster.pod('web-b2').ip}:8080`);
    for (const result of results.values()) {
      expect(result.full).toBe(false);
      expect(result.written).toEqual([{ table: 'nat', chain: svc }]);
      expect(result.deleted).toEqual([{ table: 'nat', chain: removed }]);
    }
    // In the kernel: the entry chain kept its counters (not rewritten), the Service chain starts over.
    const afterSync = await counters();
    expect(afterSync.packets('FLOTILLA-SERVICES')[0]).toBeGreaterThanOrEqual(entryPackets);
    expect(afterSync.packets(svc)).toEqual([0, 0]);
    expect(afterSync.packets(removed)).toEqual([]);

    const tally = tallyEcho(await cluster.pod('client').fetchMany(`http://${clusterIP}/cgi-bin/who`, 60));
    expect(tally.failures).toBe(0);
    expect(tally.byPod.get('web-b2')).toBeUndefined();
    expect([...tally.byPod.keys()].sort()).toEqual(['web-a', 'web-b1']);
  });

  it('lets a pod reach itself through its Service (hairpin, masqueraded to its gateway)', async () => {
    const self = cluster.pod('web-a');
    const lines = await self.fetchMany(`http://${clusterIP}/cgi-bin/who`, 40);
    const tally = tallyEcho(lines);
    expect(tally.failures).toBe(0);
    // Two endpoints: 40 requests all missing web-a has probability 2^-40.
    const own = lines.filter((l) => l.startsWith('web-a '));
    expect(own.length).toBeGreaterThan(0);
    expect(new Set(own)).toEqual(new Set([`web-a ${self.node.gateway}`]));
    expect(new Set(lines.filter((l) => !l.startsWith('web-a ')))).toEqual(new Set([`web-b1 ${self.ip}`]));
  });

  it('refuses connections at once to a Service port without ready endpoints', async () => {
    await publish(
      slice(
        'default',
        'web',
        ['web-a', 'web-b1'].map((n) => ({ ip: cluster.pod(n).ip, ready: false })),
        [{ name: 'http', port: 8080 }],
      ),
    );
    const failure = await cluster
      .pod('client')
      .exec('busybox', ['timeout', '10', 'busybox', 'wget', '-q', '-O-', `http://${clusterIP}/cgi-bin/who`])
      .then(() => 'answered')
      .catch((err: Error) => err.message);
    // REJECT answers at once; without it the connection would hang until `timeout` kills wget.
    expect(failure).toMatch(/refused/i);
    await publish(webSlice(['web-a', 'web-b1', 'web-b2']));
    expect(
      tallyEcho(await cluster.pod('client').fetchMany(`http://${clusterIP}/cgi-bin/who`, 3)).failures,
    ).toBe(0);
  });

  it('retries a failed sync and then rewrites everything, when its namespace comes back', async () => {
    const netns = `${ranges.name}-retry`;
    await createNetns(netns);
    const proxy = await ServiceProxy.start({
      nodeName: 'retry',
      netns,
      serviceCIDR: ranges.serviceCIDR,
      logger: silentLogger(),
      minSyncIntervalMs: 10,
      maxSyncRetryDelayMs: 200,
    });
    try {
      proxy.handle({ kind: 'added', object: webService() });
      proxy.handle({ kind: 'added', object: webSlice(['web-a']) });
      proxy.handle({ kind: 'synced' });
      const first = await proxy.flush();
      // The namespace goes away under the proxy: every command fails until it is back.
      await deleteNetns(netns);
      proxy.handle({ kind: 'updated', object: webSlice(['web-a', 'web-b1']) });
      await expect(proxy.flush()).rejects.toThrow(/netns|namespace/i);
      await createNetns(netns);
      // The background retry (backoff at most 200 ms) finds an empty table and writes it all.
      for (let i = 0; i < 400 && (proxy.lastSync === first || proxy.lastSync?.full !== true); i++)
        await sleep(25);
      expect(proxy.lastSync).not.toBe(first);
      expect(proxy.lastSync?.full).toBe(true);
      const saved = await runNet('iptables-save', ['-t', 'nat'], { netns });
      expect(saved).toContain(`--to-destination ${cluster.pod('web-b1').ip}:8080`);
      expect(saved).toContain(
        '-A PREROUTING -m comment --comment "flotilla service portals" -j FLOTILLA-SERVICES',
      );
    } finally {
      await proxy.stop();
      await deleteNetns(netns);
    }
  });
});
