// Pod-to-pod across nodes with host-gateway routes, in real network namespaces: two node
// namespaces on an underlay, a pod namespace on each node's bridge, PodRouter keeping
// the routes from the Node list. Needs root.
import { silentLogger } from '@flotilla/actor';
import {
  diffSnapshots,
  lockNetnsScope,
  NetnsCluster,
  type RootNetworkSnapshot,
  reportRootSkip,
  rootNetworkSnapshot,
  runsAsRoot,
  startHttpEcho,
  startUnderlay,
  tallyEcho,
  unrelatedTo,
} from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNet } from '../src/net/command.ts';
import { linkExists, readSysctl } from '../src/net/links.ts';
import { listNetns } from '../src/net/netns.ts';
import { PodRouter } from '../src/net/pod-routes.ts';
import { listOwnRoutes } from '../src/net/routes.ts';

const ranges = {
  name: 'flnet',
  underlayCIDR: '10.201.0.0/24',
  clusterCIDR: '10.202.0.0/16',
  serviceCIDR: '10.203.0.0/16',
};
/** How long a run waits for another run of this file to finish with the machine. */
const scopeLockWaitMs = 540_000;

describe.runIf(reportRootSkip('net e2e'))('pod network across nodes (host-gateway)', () => {
  let before: RootNetworkSnapshot;
  let cluster: NetnsCluster;
  const routers = new Map<string, PodRouter>();

  beforeAll(async () => {
    // Another run of this file (someone running the whole e2e project) waits its turn.
    await lockNetnsScope(ranges.name, scopeLockWaitMs);
    before = await rootNetworkSnapshot();
    cluster = await NetnsCluster.create({
      ...ranges,
      nodes: [
        { name: 'a', podCIDR: '10.202.1.0/24' },
        { name: 'b', podCIDR: '10.202.2.0/24' },
      ],
    });
    for (const [node, pod] of [
      ['a', 'a1'],
      ['b', 'b1'],
    ] as const) {
      await startHttpEcho(await cluster.addPod(node, pod));
    }
    for (const node of cluster.nodeList) {
      const router = new PodRouter({
        nodeName: node.name,
        netns: node.netns,
        clusterCIDR: ranges.clusterCIDR,
        logger: silentLogger(),
      });
      await router.start();
      routers.set(node.name, router);
    }
  }, scopeLockWaitMs + 60_000);

  afterAll(async () => {
    if (!runsAsRoot) return;
    for (const router of routers.values()) await router.stop();
    for (const node of cluster?.nodeList ?? []) {
      expect(await listOwnRoutes(node.netns), node.name).toEqual([]);
    }
    await cluster?.destroy();
    expect(listNetns().filter((n) => n.startsWith(`${ranges.name}-`))).toEqual([]);
    const after = await rootNetworkSnapshot();
    expect(
      diffSnapshots(
        before,
        after,
        unrelatedTo({
          prefixes: [`${ranges.name}-`, 'flnetu-'],
          ranges: [ranges.underlayCIDR, ranges.clusterCIDR, ranges.serviceCIDR, '10.204.0.0/24'],
        }),
      ),
    ).toEqual({ added: [], removed: [] });
  });

  it('installs a route to every other node’s pods, then changes nothing on a repeat', async () => {
    const first = await routers.get('a')!.sync(cluster.nodeObjects());
    expect(first.added).toEqual([{ kind: 'via', dst: '10.202.2.0/24', gateway: cluster.node('b').address }]);
    expect((await routers.get('b')!.sync(cluster.nodeObjects())).added).toEqual([
      { kind: 'via', dst: '10.202.1.0/24', gateway: cluster.node('a').address },
    ]);
    const again = await routers.get('a')!.sync(cluster.nodeObjects());
    expect([again.added, again.removed, again.failed]).toEqual([[], [], []]);
    const route = await runNet('ip', ['route', 'get', cluster.pod('b1').ip], {
      netns: cluster.node('a').netns,
    });
    expect(route).toContain(`via ${cluster.node('b').address}`);
  });

  it('carries a pod’s request to a pod on the other node with its source address intact', async () => {
    const a1 = cluster.pod('a1');
    const b1 = cluster.pod('b1');
    const there = tallyEcho(await a1.fetchMany(`http://${b1.ip}/cgi-bin/who`, 5));
    expect([...there.byPod], 'answers').toEqual([['b1', 5]]);
    expect([...there.sources], 'source seen by b1').toEqual([a1.ip]);
    const back = tallyEcho(await b1.fetchMany(`http://${a1.ip}/cgi-bin/who`, 5));
    expect([[...back.byPod], [...back.sources]]).toEqual([[['a1', 5]], [b1.ip]]);
  });

  it('drops the route when a node leaves and puts it back when it returns', async () => {
    const a = routers.get('a')!;
    const withoutB = cluster.nodeObjects().filter((n) => n.metadata.name !== 'b');
    expect((await a.sync(withoutB)).removed).toEqual([
      { kind: 'via', dst: '10.202.2.0/24', gateway: cluster.node('b').address },
    ]);
    // Node a's guard drops packets for the unknown pod range: nothing leaves by another way.
    const route = await runNet('ip', ['route', 'get', cluster.pod('b1').ip], {
      netns: cluster.node('a').netns,
    }).catch((err: Error) => err.message);
    expect(route).toMatch(/blackhole|No route|Invalid argument/);
    const cut = tallyEcho(
      await cluster.pod('a1').fetchMany(`http://${cluster.pod('b1').ip}/cgi-bin/who`, 1, 1),
    );
    expect(cut.failures).toBe(1);
    expect((await a.sync(cluster.nodeObjects())).added).toHaveLength(1);
    const back = tallyEcho(
      await cluster.pod('a1').fetchMany(`http://${cluster.pod('b1').ip}/cgi-bin/who`, 1),
    );
    expect([...back.byPod]).toEqual([['b1', 1]]);
  });

  it('keeps the pod and service ranges off the machine’s default route', async () => {
    const root = await runNet('ip', ['route', 'get', '10.202.9.9']).catch((err: Error) => err.message);
    expect(root).toMatch(/blackhole|Invalid argument|No route/);
    const svc = await runNet('ip', ['route', 'get', '10.203.0.10']).catch((err: Error) => err.message);
    expect(svc).toMatch(/blackhole|Invalid argument|No route/);
  });

  it('puts hosts on an underlay: loopback up, forwarding on, reachable from each other and from the root leg', async () => {
    const underlay = await startUnderlay({
      name: 'flnetu',
      cidr: '10.204.0.0/24',
      guardedRanges: [],
      rootAddress: '10.204.0.1',
      hosts: ['m1', 'm2', 'm3'],
    });
    expect(underlay.hostList.map((h) => [h.name, h.netns, h.address])).toEqual([
      ['m1', 'flnetu-m1', '10.204.0.2'],
      ['m2', 'flnetu-m2', '10.204.0.3'],
      ['m3', 'flnetu-m3', '10.204.0.4'],
    ]);
    const ping = (netns: string | undefined, address: string) =>
      runNet('busybox', ['ping', '-c', '1', '-W', '2', address], { netns }).then(
        () => true,
        () => false,
      );
    for (const host of underlay.hostList) {
      expect(await readSysctl(host.netns, 'net.ipv4.ip_forward')).toBe('1');
      expect(await ping(host.netns, '127.0.0.1'), `${host.name} loopback`).toBe(true);
      for (const other of underlay.hostList) expect(await ping(host.netns, other.address)).toBe(true);
    }
    expect(await ping(undefined, '10.204.0.3'), 'root leg').toBe(true);
    expect(await readSysctl(underlay.switchNetns, 'net.ipv4.ip_forward')).toBe('0');
    // A host that replaces a removed one gets an address nobody held: the old one's MAC is
    // still in the others' neighbour tables, and a new host behind it would be unreachable.
    await underlay.removeHost('m3');
    const m4 = await underlay.addHost('m4');
    expect(m4.address).toBe('10.204.0.5');
    expect(await ping(undefined, m4.address), 'replacement from the root leg').toBe(true);
    expect(await ping(underlay.host('m1').netns, m4.address), 'replacement from m1').toBe(true);
    await underlay.destroy();
    expect(listNetns().filter((n) => n.startsWith('flnetu-'))).toEqual([]);
    expect(await linkExists({ name: 'flnetu-up' })).toBe(false);
    expect(await ping(undefined, '10.204.0.3')).toBe(false);
  });
});
