// Pod-to-pod across nodes with host-gateway routes, in real network namespaces: two node
// namespaces on an underlay, a pod namespace on each node's bridge, PodRouter keeping
// the routes from the Node list. Needs root.
import { silentLogger } from '@flotilla/actor';
import {
  diffSnapshots,
  isConcurrentAgentSuiteLine,
  NetnsCluster,
  type RootNetworkSnapshot,
  reportRootSkip,
  rootNetworkSnapshot,
  runsAsRoot,
  startHttpEcho,
  tallyEcho,
} from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNet } from '../src/net/command.ts';
import { listNetns } from '../src/net/netns.ts';
import { PodRouter } from '../src/net/pod-routes.ts';
import { listOwnRoutes } from '../src/net/routes.ts';

const ranges = {
  name: 'flnet',
  underlayCIDR: '10.201.0.0/24',
  clusterCIDR: '10.202.0.0/16',
  serviceCIDR: '10.203.0.0/16',
};

describe.runIf(reportRootSkip('net e2e'))('pod network across nodes (host-gateway)', () => {
  let before: RootNetworkSnapshot;
  let cluster: NetnsCluster;
  const routers = new Map<string, PodRouter>();

  beforeAll(async () => {
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
  });

  afterAll(async () => {
    if (!runsAsRoot) return;
    for (const router of routers.values()) await router.stop();
    for (const node of cluster?.nodeList ?? []) {
      expect(await listOwnRoutes(node.netns), node.name).toEqual([]);
    }
    await cluster?.destroy();
    expect(listNetns().filter((n) => n.startsWith(`${ranges.name}-`))).toEqual([]);
    const after = await rootNetworkSnapshot();
    expect(diffSnapshots(before, after, isConcurrentAgentSuiteLine)).toEqual({ added: [], removed: [] });
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
});
