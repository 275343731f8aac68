// NodeAgent against a real control plane (NATS, 3-member store, an API server), with the
// fake runtime: registration before and after the pod CIDR, Lease heartbeats, node
// status, a bound pod's status written through pods/status, graceful deletion ending in
// the agent's final delete, and a graceful stop leaving Node and pods alone. Needs no root.
import { ActorSystem, createLogger, createRegistry, sleep } from '@flotilla/actor';
import { type ApiClient, type Lease, NatsApiClient, type Node, type Pod } from '@flotilla/api';
import { ControlPlane } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeAgent } from '../src/node-agent/node-agent.ts';
import { until as pollUntil } from './kubectl.ts';

const nodesRef = { group: '', version: 'v1', resource: 'nodes' };
const podsRef = { group: '', version: 'v1', resource: 'pods' };
const leasesRef = { group: 'coordination.k8s.io', version: 'v1', resource: 'leases' };
const nodeName = 'fake-1';
const podCIDR = '10.250.3.0/24';

let cp: ControlPlane;
let system: ActorSystem;
let api: ApiClient;
let agent: NodeAgent;
let started: Promise<void>;

/** A bounded poll, every 100 ms, 15 s unless told. */
const until = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000) =>
  pollUntil(what, check, timeoutMs, 100);

const ready = (n: Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;

describe('NodeAgent on a control plane, fake runtime', () => {
  beforeAll(async () => {
    cp = await ControlPlane.start({ apiServers: 1 });
    const logger = createLogger({ level: process.env.FLOTILLA_TEST_LOG_LEVEL ?? 'warn' });
    system = await ActorSystem.connect({
      servers: cp.nats.urls,
      log: logger,
      prefix: 'flotilla',
      name: 'agent',
    });
    api = new NatsApiClient({ system, clusterId: cp.clusterId });
    agent = new NodeAgent({
      client: api,
      system,
      clusterId: cp.clusterId,
      nodeName,
      nodeIP: '192.0.2.77',
      runtime: 'fake',
      clusterDns: { serviceIP: '10.96.0.10', domain: 'cluster.local' },
      leaseRenewIntervalMs: 300,
      nodeStatusIntervalMs: 300,
      logger,
      registry: createRegistry(),
    });
    started = agent.start();
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await system?.shutdown({ timeoutMs: 2_000 });
  });

  it('registers a NotReady Node without capacity and waits for its pod CIDR', async () => {
    const nodes = api.resource<Node>(nodesRef);
    const node = await until('the Node registered', () => nodes.get(nodeName));
    expect(ready(node)).toBe('False');
    expect(node.status?.allocatable).toBeUndefined();
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: '192.0.2.77' });
    expect(node.metadata.labels?.['kubernetes.io/hostname']).toBe(nodeName);
    // The Lease is renewed while the agent waits.
    const leases = api.resource<Lease>(leasesRef);
    const first = await until('the Lease', () => leases.get(nodeName, 'kube-node-lease'));
    expect(first.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Node', name: nodeName });
    const renewed = await until('a renewal', async () => {
      const l = await leases.get(nodeName, 'kube-node-lease');
      return l.spec?.renewTime !== first.spec?.renewTime ? l : undefined;
    });
    expect(renewed.spec?.holderIdentity).toBe(nodeName);
    let done = false;
    void started.then(() => {
      done = true;
    });
    await sleep(300);
    expect(done).toBe(false);
    // What the node IPAM controller does.
    await nodes.patch(nodeName, 'merge', { spec: { podCIDR } });
    await started;
    const after = await until('the Node Ready', async () => {
      const n = await nodes.get(nodeName);
      return ready(n) === 'True' ? n : undefined;
    });
    expect(after.status?.allocatable?.pods).toBe('110');
    expect(after.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^fake/);
  }, 30_000);

  it('runs a bound pod, writes its status, and deletes it after a graceful deletion', async () => {
    const pods = api.resource<Pod>(podsRef);
    const created = await pods.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p1', namespace: 'default' },
      spec: { nodeName, containers: [{ name: 'c', image: 'localhost/busybox:1' }] },
    });
    const running = await until('p1 Running', async () => {
      const p = await pods.get('p1', 'default');
      return p.status?.phase === 'Running' ? p : undefined;
    });
    expect(running.metadata.uid).toBe(created.metadata.uid);
    expect(running.status?.hostIP).toBe('192.0.2.77');
    expect(running.status?.podIP).toMatch(/^10\.250\.3\./);
    expect(running.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    // Graceful deletion: the API marks it, the agent stops it and removes the object.
    await pods.delete('p1', { namespace: 'default', gracePeriodSeconds: 30 });
    await until('p1 gone', async () => {
      try {
        await pods.get('p1', 'default');
        return undefined;
      } catch {
        return true;
      }
    });
  }, 30_000);

  it('stops gracefully, leaving its Node and its pods in place', async () => {
    const pods = api.resource<Pod>(podsRef);
    await pods.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p2', namespace: 'default' },
      spec: { nodeName, containers: [{ name: 'c', image: 'localhost/busybox:1' }] },
    });
    await until('p2 Running', async () => {
      const p = await pods.get('p2', 'default');
      return p.status?.phase === 'Running' ? p : undefined;
    });
    await agent.stop();
    const leases = api.resource<Lease>(leasesRef);
    const last = await leases.get(nodeName, 'kube-node-lease');
    await sleep(800);
    expect((await leases.get(nodeName, 'kube-node-lease')).spec?.renewTime).toBe(last.spec?.renewTime);
    expect((await pods.get('p2', 'default')).status?.phase).toBe('Running');
    expect(ready(await api.resource<Node>(nodesRef).get(nodeName))).toBe('True');
  }, 30_000);
});
