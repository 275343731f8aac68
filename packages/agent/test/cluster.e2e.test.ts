// The whole system on one machine: a control plane of real processes (NATS, a 3-member
// store, an API server, controller manager, scheduler) and two `flotilla agent` processes,
// each in its own network namespace with its own containerd, driven by the stock kubectl.
// Shows nodes registering and turning Ready, a Deployment spread over both nodes,
// `kubectl logs`, pod-to-pod across nodes with the source address kept, a Service's
// cluster IP, a DNS name resolved from a pod, and deletion removing every container.
// Needs root.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listNetns } from '@flotilla/agent/net';
import type { Lease, Node, Pod, Service } from '@flotilla/api';
import {
  AgentCluster,
  diffSnapshots,
  reportRootSkip,
  rootNetworkSnapshot,
  runsAsRoot,
  unrelatedTo,
} from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriClient } from '../src/cri/cri-client.ts';
import { nodePaths } from '../src/node-paths.ts';
import { CriRuntime } from '../src/runtime/cri-runtime.ts';
import { kubectlFor, until } from './kubectl.ts';

const run = promisify(execFile);
const ranges = {
  name: 'flagents',
  underlayCIDR: '10.231.0.0/24',
  clusterCIDR: '10.232.0.0/16',
  serviceCIDR: '10.233.0.0/16',
  clusterDNS: '10.233.0.10',
};
const nodeNames = ['node-a', 'node-b'];
/** How long a run waits for another run of this file (another checkout's CI) to finish with the machine. */
const scopeLockWaitMs = 540_000;

let cluster: AgentCluster;

const { kubectl, kubectlApply, getJson } = kubectlFor(() => cluster.kubeconfig);

/** Runs `f` against a node's containerd (the agent's own, whether or not the agent runs). */
async function withRuntime<T>(node: string, dataDir: string, f: (r: CriRuntime) => Promise<T>): Promise<T> {
  const cri = new CriClient(nodePaths(node, dataDir).containerdSocket);
  try {
    return await f(new CriRuntime(cri));
  } finally {
    cri.close();
  }
}

const isReady = (n: Node) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

// busybox httpd serving /cgi-bin/ip, which answers the client's address as httpd sees it.
const webScript = [
  'mkdir -p /www/cgi-bin',
  "echo '#!/bin/sh' > /www/cgi-bin/ip",
  "echo 'echo Content-Type: text/plain; echo; echo $REMOTE_ADDR' >> /www/cgi-bin/ip",
  'chmod +x /www/cgi-bin/ip',
  'echo web up on $(hostname)',
  'exec httpd -f -p 8080 -h /www',
].join('; ');

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        terminationGracePeriodSeconds: 2,
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' },
            ],
          },
        },
        containers: [
          {
            name: 'web',
            image: 'localhost/busybox:1',
            imagePullPolicy: 'Never',
            command: ['sh', '-c', webScript],
            ports: [{ containerPort: 8080, name: 'http' }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          },
        ],
      },
    },
  },
};

const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
};

describe.skipIf(!runsAsRoot)('a cluster of two containerd agents driven by kubectl', () => {
  beforeAll(async () => {
    cluster = await AgentCluster.start({ ...ranges, nodes: nodeNames, scopeLockWaitMs });
  }, scopeLockWaitMs + 120_000);

  afterAll(async () => {
    if (cluster === undefined) return;
    await cluster.destroy();
    // Nothing of the cluster is left in the root namespace (other runs' lines aside).
    const after = await rootNetworkSnapshot();
    expect(
      diffSnapshots(
        cluster.rootBefore,
        after,
        unrelatedTo({
          prefixes: [`${ranges.name}-`],
          ranges: [ranges.underlayCIDR, ranges.clusterCIDR, ranges.serviceCIDR],
        }),
      ),
    ).toEqual({ added: [], removed: [] });
    expect(listNetns().filter((n) => n.startsWith(`${ranges.name}-`))).toEqual([]);
  }, 120_000);

  it('registers both nodes, which get pod CIDRs, heartbeat their Lease and turn Ready', async () => {
    const nodes = await until(
      'two Ready nodes',
      async () => {
        const list = await getJson<{ items: Node[] }>('nodes');
        return list.items.length === 2 && list.items.every(isReady) ? list.items : undefined;
      },
      60_000,
    );
    for (const node of nodes) {
      const name = node.metadata.name ?? '';
      expect(nodeNames).toContain(name);
      expect(node.spec?.podCIDR).toMatch(/^10\.232\.\d+\.0\/24$/);
      expect(node.status?.addresses).toContainEqual({
        type: 'InternalIP',
        address: cluster.node(name).address,
      });
      expect(node.status?.allocatable?.pods).toBe('110');
      expect(node.metadata.labels?.['kubernetes.io/hostname']).toBe(name);
      expect(node.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    }
    expect(nodes[0]?.spec?.podCIDR).not.toBe(nodes[1]?.spec?.podCIDR);
    const leases = await getJson<{ items: Lease[] }>('leases', '-n', 'kube-node-lease');
    expect(leases.items.map((l) => l.spec?.holderIdentity).sort()).toEqual(nodeNames);
  }, 70_000);

  it('runs a Deployment over both nodes, serves its logs, and connects pods across nodes, through a Service and by DNS name', async () => {
    await kubectlApply(deployment);
    await kubectlApply(service);
    await kubectl('rollout', 'status', 'deployment/web', '--timeout=60s');
    const pods = await getJson<{ items: Pod[] }>('pods', '-l', 'app=web');
    expect(pods.items).toHaveLength(2);
    const byNode = new Map(pods.items.map((p) => [p.spec?.nodeName ?? '', p]));
    expect([...byNode.keys()].sort()).toEqual(nodeNames);
    const webB = byNode.get('node-b')!;
    expect(webB.status?.podIP).toMatch(/^10\.232\./);

    // kubectl logs goes API server → NATS → the agent of the pod's node.
    const logs = await kubectl('logs', webB.metadata.name ?? '');
    expect(logs).toContain(`web up on ${webB.metadata.name}`);

    const svc = await getJson<Service>('service', 'web');
    const clusterIP = svc.spec?.clusterIP ?? '';
    expect(clusterIP).toMatch(/^10\.233\./);
    // Endpoints are written by the controller manager once both pods are ready.
    await until(
      'two web endpoints',
      async () => {
        const ep = await getJson<{ subsets?: { addresses?: unknown[] }[] }>('endpoints', 'web');
        return (ep.subsets?.[0]?.addresses?.length ?? 0) === 2 ? true : undefined;
      },
      20_000,
    );

    // The DNS add-on: every agent serves it and lists itself, ready, behind kube-dns.
    const agentIPs = nodeNames.map((n) => cluster.node(n).address).sort();
    await until(
      'both agents in kube-dns',
      async () => {
        const ep = await getJson<{ subsets?: { addresses?: { ip: string }[] }[] }>(
          'endpoints',
          'kube-dns',
          '-n',
          'kube-system',
        );
        const ips = (ep.subsets?.[0]?.addresses ?? []).map((a) => a.ip).sort();
        return JSON.stringify(ips) === JSON.stringify(agentIPs) ? true : undefined;
      },
      20_000,
    );

    // A client pod on node A: pod-to-pod by address, the Service by cluster IP, the DNS
    // name. Each step retries a few times (routes and rules follow the watches).
    const retry = (cmd: string) => `for i in $(seq 20); do ${cmd} && break; sleep 1; done`;
    const probe: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'probe', namespace: 'default' },
      spec: {
        nodeName: 'node-a',
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'probe',
            image: 'localhost/busybox:1',
            imagePullPolicy: 'Never',
            command: [
              'sh',
              '-c',
              [
                retry(`timeout 3 wget -q -O /tmp/direct http://${webB.status?.podIP}:8080/cgi-bin/ip`),
                'echo "direct $(cat /tmp/direct)"',
                retry(`timeout 3 wget -q -O /tmp/svc http://${clusterIP}/cgi-bin/ip`),
                'echo "service $(cat /tmp/svc)"',
                // Either endpoint, the one on this node's bridge included (1 in 64 to miss it).
                `for i in 1 2 3 4 5 6; do echo "again $(timeout 3 wget -q -O - http://${clusterIP}/cgi-bin/ip)"; done`,
                retry('nslookup web.default.svc.cluster.local > /tmp/dns 2>&1'),
                'echo "dns $(grep -A1 "Name:.*web.default" /tmp/dns | tail -1)"',
                retry('timeout 3 wget -q -O /tmp/byname http://web/cgi-bin/ip'),
                'echo "byname $(cat /tmp/byname)"',
              ].join('\n'),
            ],
          },
        ],
      },
    };
    await kubectlApply(probe);
    // `kubectl logs -f` from while the probe runs: it streams until the container exits.
    const followed = until(
      'the probe log followed',
      async () => {
        const p = await getJson<Pod>('pod', 'probe');
        if (p.status?.containerStatuses?.[0]?.state?.waiting !== undefined || p.status?.phase === 'Pending') {
          return undefined;
        }
        return kubectl('logs', '-f', 'probe');
      },
      40_000,
    );
    const done = await until(
      'the probe pod finished',
      async () => {
        const p = await getJson<Pod>('pod', 'probe');
        return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
      },
      40_000,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; its log so far:\n${await kubectl('logs', 'probe').catch(String)}`);
    });
    const out = await kubectl('logs', 'probe');
    expect(done.status?.phase, out).toBe('Succeeded');
    expect(await followed).toBe(out);
    const probeIP = done.status?.podIP ?? '';
    expect(done.spec?.nodeName).toBe('node-a');
    // httpd reports IPv4 clients as IPv4-mapped IPv6 addresses.
    const saw = (label: string) =>
      new RegExp(`^${label} (\\[::ffff:)?${probeIP.replace(/\./g, '\\.')}\\]?$`, 'm');
    // Across nodes with no NAT: node B's pod sees the probe's own address.
    expect(out).toMatch(saw('direct'));
    // Through the cluster IP, either endpoint: the source address is kept there too.
    expect(out).toMatch(saw('service'));
    expect(out.split('\n').filter((l) => saw('again').test(l))).toHaveLength(6);
    expect(out).toMatch(new RegExp(`dns Address:? *(1: )?${clusterIP.replace(/\./g, '\\.')}`));
    expect(out).toMatch(saw('byname'));
  }, 120_000);

  it('keeps pods running across a graceful agent restart, which adopts them', async () => {
    const node = cluster.node('node-b');
    const before = await withRuntime(node.name, node.dataDir, (r) => r.listContainers());
    const web = before.filter((c) => c.name === 'web' && c.state === 'running');
    expect(web).toHaveLength(1);
    const exit = await node.process.stop(15_000);
    expect(exit).toEqual({ code: 0, signal: null });
    // The agent and its containerd are gone; the container is not (runc sees it running).
    const runcRoot = join(nodePaths(node.name, node.dataDir).runcRoot, 'k8s.io');
    const state = JSON.parse((await run('runc', ['--root', runcRoot, 'state', web[0]?.id ?? ''])).stdout) as {
      status: string;
    };
    expect(state.status).toBe('running');
    node.process.start();
    // Back: the same container, not restarted, and the node still Ready.
    await until(
      'the restarted agent serving logs again',
      async () => {
        const pods = await getJson<{ items: Pod[] }>(
          'pods',
          '-l',
          'app=web',
          '--field-selector',
          'spec.nodeName=node-b',
        );
        const name = pods.items[0]?.metadata.name ?? '';
        return (await kubectl('logs', name)).includes('web up') ? pods.items[0] : undefined;
      },
      40_000,
    );
    const after = await withRuntime(node.name, node.dataDir, (r) => r.listContainers());
    expect(after.filter((c) => c.name === 'web').map((c) => c.id)).toEqual([web[0]?.id]);
    const pods = await getJson<{ items: Pod[] }>('pods', '-l', 'app=web');
    expect(pods.items.map((p) => p.status?.containerStatuses?.[0]?.restartCount)).toEqual([0, 0]);
    expect(isReady(await getJson<Node>('node', 'node-b'))).toBe(true);
  }, 70_000);

  it('removes every container when the Deployment and the probe are deleted', async () => {
    await kubectl('delete', 'pod', 'probe', '--wait=false');
    await kubectl('delete', 'deployment', 'web', '--wait=false');
    await until(
      'no pods left',
      async () => ((await getJson<{ items: Pod[] }>('pods')).items.length === 0 ? true : undefined),
      40_000,
    );
    for (const node of cluster.nodes.values()) {
      await until(
        `no containers or sandboxes on ${node.name}`,
        async () => {
          const [containers, sandboxes] = await withRuntime(node.name, node.dataDir, (r) =>
            Promise.all([r.listContainers(), r.listPodSandboxes()]),
          );
          return containers.length === 0 && sandboxes.length === 0 ? true : undefined;
        },
        20_000,
      );
    }
  }, 70_000);
});

if (!runsAsRoot) reportRootSkip('cluster.e2e');
