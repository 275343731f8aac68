// Cluster DNS in real network namespaces: two replicas running in pod namespaces behind
// the kube-dns Service (reached through each node's ServiceProxy, UDP and TCP), queried
// by busybox nslookup and wget and by the agent's own client from a client pod whose
// resolv.conf is the one pods get. Needs root.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { FlotillaError, silentLogger, sleep } from '@flotilla/actor';
import type { EndpointSlice, Service } from '@flotilla/api';
import {
  diffSnapshots,
  lockNetnsScope,
  NetnsCluster,
  type NetnsPod,
  type RootNetworkSnapshot,
  registerCleanup,
  reportRootSkip,
  rootNetworkSnapshot,
  runsAsRoot,
  startHttpEcho,
  tallyEcho,
  unrelatedTo,
} from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { podResolvConf } from '../src/dns/resolv-conf.ts';
import { Rcode, RRType } from '../src/dns/wire.ts';
import { PodRouter } from '../src/net/pod-routes.ts';
import { ServiceProxy } from '../src/proxy/service-proxy.ts';
import { service, slice } from './net-fixtures.ts';

const ranges = {
  name: 'fldns',
  underlayCIDR: '10.221.0.0/24',
  clusterCIDR: '10.222.0.0/16',
  serviceCIDR: '10.223.0.0/16',
};
/** How long a run waits for another run of this file to finish with the machine. */
const scopeLockWaitMs = 540_000;
const dnsIP = '10.223.0.10';
const webIP = '10.223.0.20';
/** How long a replica may take to start and take in the Services. */
const replicaStartTimeoutMs = 30_000;

class ReplicaError extends FlotillaError {
  constructor(message: string) {
    super('DnsReplica', message);
  }
}

/** A DNS replica process inside a pod namespace, fed Service events on its stdin. */
async function startReplica(
  pod: NetnsPod,
  objects: readonly (Service | EndpointSlice)[],
): Promise<ChildProcess> {
  const main = new URL('./dns-replica-main.ts', import.meta.url).pathname;
  const child = spawn('ip', ['netns', 'exec', pod.netns, process.execPath, main, pod.ip, '53'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  registerCleanup({
    name: `dns replica ${pod.name}`,
    run: () => void child.kill('SIGKILL'),
    onExit: () => child.kill('SIGKILL'),
  });
  const lines = createInterface({ input: child.stdout! });
  for (const object of objects) child.stdin!.write(`${JSON.stringify({ kind: 'added', object })}\n`);
  child.stdin!.write(`${JSON.stringify({ kind: 'synced' })}\n`);
  const synced = new Promise<void>((resolve, reject) => {
    lines.on('line', (l) => l === 'synced' && resolve());
    child.once('exit', (code) => reject(new ReplicaError(`replica in ${pod.name} exited with ${code}`)));
  });
  await Promise.race([
    synced,
    sleep(replicaStartTimeoutMs).then(() => {
      throw new ReplicaError(`replica in ${pod.name} not synced within ${replicaStartTimeoutMs} ms`);
    }),
  ]);
  return child;
}

type QueryResult = {
  readonly rcode?: number;
  readonly tc?: boolean;
  readonly aa?: boolean;
  readonly answers?: readonly Record<string, unknown>[];
  readonly error?: string;
};

/** Asks with the agent's own client, from inside the pod. */
async function ask(
  pod: NetnsPod,
  queries: readonly { server: string; name: string; type: number; transport: 'udp' | 'tcp' }[],
): Promise<QueryResult[]> {
  const main = new URL('./dns-query-main.ts', import.meta.url).pathname;
  const out = await pod.exec(
    process.execPath,
    [main, JSON.stringify(queries.map((q) => ({ ...q, port: 53 })))],
    60_000,
  );
  return JSON.parse(out) as QueryResult[];
}

describe.runIf(reportRootSkip('dns e2e'))('cluster DNS from inside pods', () => {
  let before: RootNetworkSnapshot;
  let cluster: NetnsCluster;
  const proxies: ServiceProxy[] = [];
  const routers: PodRouter[] = [];
  let objects: (Service | EndpointSlice)[];

  beforeAll(async () => {
    // Another run of this file (someone running the whole e2e project) waits its turn.
    await lockNetnsScope(ranges.name, scopeLockWaitMs);
    before = await rootNetworkSnapshot();
    cluster = await NetnsCluster.create({
      ...ranges,
      nodes: [
        { name: 'a', podCIDR: '10.222.1.0/24' },
        { name: 'b', podCIDR: '10.222.2.0/24' },
      ],
    });
    const pods = {
      dnsA: await cluster.addPod('a', 'dns-a'),
      dnsB: await cluster.addPod('b', 'dns-b'),
      web: await cluster.addPod('a', 'web-a'),
      db0: await cluster.addPod('b', 'db-0'),
      db1: await cluster.addPod('a', 'db-1'),
      client: await cluster.addPod('a', 'client'),
    };
    await startHttpEcho(pods.web, 8080);
    objects = [
      service('kube-system', 'kube-dns', dnsIP, [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ]),
      slice(
        'kube-system',
        'kube-dns',
        [pods.dnsA, pods.dnsB].map((p) => ({ ip: p.ip })),
        [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        ],
      ),
      service('default', 'web', webIP, [{ name: 'http', port: 80 }]),
      slice('default', 'web', [{ ip: pods.web.ip }], [{ name: 'http', port: 8080 }]),
      service('default', 'db', 'None', [{ name: 'tcp-pg', port: 5432 }]),
      slice(
        'default',
        'db',
        [{ ip: pods.db0.ip, hostname: 'db-0' }, { ip: pods.db1.ip }],
        [{ name: 'tcp-pg', port: 5432 }],
      ),
    ];
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
      });
      for (const object of objects) proxy.handle({ kind: 'added', object });
      await proxy.flush();
      proxies.push(proxy);
    }
    await Promise.all([startReplica(pods.dnsA, objects), startReplica(pods.dnsB, objects)]);
    pods.client.setResolvConf(
      podResolvConf({ nameservers: [dnsIP], namespace: 'default', domain: 'cluster.local' }),
    );
  }, scopeLockWaitMs + 60_000);

  afterAll(async () => {
    if (!runsAsRoot) return;
    for (const proxy of proxies) await proxy.destroy();
    for (const router of routers) await router.stop();
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

  /** busybox nslookup's output (it prints NXDOMAIN on stdout) and whether it exited 0. */
  const nslookup = async (args: readonly string[]) => {
    const out = await cluster
      .pod('client')
      .exec('busybox', ['sh', '-c', `busybox timeout 20 busybox nslookup ${args.join(' ')}; echo "exit $?"`]);
    return { ok: out.endsWith('exit 0\n'), out };
  };

  it('answers busybox nslookup through the DNS Service: A, headless A, SRV, pod record, NXDOMAIN', async () => {
    const a = await nslookup(['web.default.svc.cluster.local', dnsIP]);
    expect(a.out).toMatch(
      new RegExp(
        `Name:\\s+web\\.default\\.svc\\.cluster\\.local\\nAddress: ${webIP.replaceAll('.', '\\.')}\\n`,
      ),
    );
    const headless = await nslookup(['db.default.svc.cluster.local', dnsIP]);
    const dbIPs = [cluster.pod('db-1').ip, cluster.pod('db-0').ip].sort();
    expect([...headless.out.matchAll(/^Address: (\S+)$/gm)].map((m) => m[1]).sort()).toEqual(dbIPs);
    const srv = await nslookup(['-type=srv', '_tcp-pg._tcp.db.default.svc.cluster.local', dnsIP]);
    expect([...srv.out.matchAll(/service = (\d+ \d+ \d+ \S+)/g)].map((m) => m[1]).sort()).toEqual(
      [
        `0 50 5432 ${cluster.pod('db-1').ip.replaceAll('.', '-')}.db.default.svc.cluster.local`,
        '0 50 5432 db-0.db.default.svc.cluster.local',
      ].sort(),
    );
    const pod = await nslookup(['10-222-1-77.default.pod.cluster.local', dnsIP]);
    expect(pod.out).toMatch(/Address: 10\.222\.1\.77\n/);
    const nx = await nslookup(['nope.default.svc.cluster.local', dnsIP]);
    expect([nx.ok, nx.out]).toEqual([
      false,
      expect.stringMatching(/can't find nope\.default\.svc\.cluster\.local: NXDOMAIN/),
    ]);
  });

  it('answers the agent’s client over UDP and TCP through the Service, and each replica alike', async () => {
    const names: [string, number][] = [
      ['web.default.svc.cluster.local', RRType.A],
      ['db.default.svc.cluster.local', RRType.A],
      ['_tcp-pg._tcp.db.default.svc.cluster.local', RRType.SRV],
      ['10-222-2-9.default.pod.cluster.local', RRType.A],
      ['nope.default.svc.cluster.local', RRType.A],
    ];
    const servers = [dnsIP, cluster.pod('dns-a').ip, cluster.pod('dns-b').ip];
    const queries = servers.flatMap((server) =>
      (['udp', 'tcp'] as const).flatMap((transport) =>
        names.map(([name, type]) => ({ server, name, type, transport })),
      ),
    );
    const results = await ask(cluster.pod('client'), queries);
    expect(results.filter((r) => r.error !== undefined)).toEqual([]);
    const first = results.slice(0, names.length);
    expect(first.map((r) => [r.rcode, r.aa, r.answers?.length])).toEqual([
      [Rcode.NOERROR, true, 1],
      [Rcode.NOERROR, true, 2],
      [Rcode.NOERROR, true, 2],
      [Rcode.NOERROR, true, 1],
      [Rcode.NXDOMAIN, true, 0],
    ]);
    expect(first[0]!.answers).toEqual([{ type: 'A', address: webIP }]);
    // Every server and transport gives the same answers: replicas agree, TCP equals UDP.
    for (let i = 0; i < results.length; i += names.length) {
      expect(results.slice(i, i + names.length), JSON.stringify(queries[i])).toEqual(first);
    }
  });

  it('lets a pod reach a Service by name, full or short through its search path', async () => {
    const client = cluster.pod('client');
    for (const host of ['web.default.svc.cluster.local', 'web', 'web.default']) {
      const tally = tallyEcho(await client.fetchMany(`http://${host}/cgi-bin/who`, 2, 10));
      expect([host, tally.failures, [...tally.byPod], [...tally.sources]]).toEqual([
        host,
        0,
        [['web-a', 2]],
        [client.ip],
      ]);
    }
  });
});
