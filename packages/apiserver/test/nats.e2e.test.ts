// The API as actor requests through the real ApiClient (NatsApiClient): the same verbs
// and Status errors as HTTP, lists larger than a NATS message, watches that survive the
// replica serving them, 410 as a StatusError, pod logs relayed from a node's agent, and
// the EventRecorder.
import { ActorSystem, silentLogger, stream } from '@flotilla/actor';
import type {
  AgentProtocol,
  ApiClient,
  ApiProtocol,
  ConfigMap,
  Deployment,
  Event,
  LogOptions,
  Pod,
  WatchEvent,
} from '@flotilla/api';
import { agentActorName, apiActorName, EventRecorder, StatusError } from '@flotilla/api';
import { ControlPlane } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactStore } from './http-client.ts';

let cp: ControlPlane;
let client: ApiClient;
let agentSystem: ActorSystem;
const namespace = 'natsy';
const logRequests: (LogOptions & { namespace: string; pod: string })[] = [];

const configMaps = () => client.resource<ConfigMap>({ group: '', version: 'v1', resource: 'configmaps' });
const pods = () => client.resource<Pod>({ group: '', version: 'v1', resource: 'pods' });
const configMap = (name: string, data: Record<string, string> = {}): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data,
});

async function failure(run: () => Promise<unknown>): Promise<StatusError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  throw new Error('expected a StatusError');
}

async function replicaWithNatsWatch(): Promise<number | undefined> {
  for (const r of cp.apiServers) {
    if (!r.process.running) continue;
    const text = await (await fetch(`${r.url}/metrics`)).text();
    const m = /flotilla_apiserver_watches\{transport="nats"\} (\d+)/.exec(text);
    if (m !== null && Number(m[1]) > 0) return r.index;
  }
  return undefined;
}

beforeAll(async () => {
  cp = await ControlPlane.start();
  client = await cp.apiClient();
  await client
    .resource({ group: '', version: 'v1', resource: 'namespaces' })
    .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  // A stand-in for the agent of node-a: it serves container logs the way AgentProtocol says.
  agentSystem = await ActorSystem.connect({ servers: cp.nats.urls, log: silentLogger(), prefix: 'flotilla' });
  const host = agentSystem.spawn<AgentProtocol>({
    name: agentActorName(cp.clusterId, 'node-a'),
    handlers: {
      log: stream(async (req, sink) => {
        logRequests.push(req);
        for (let i = 1; i <= 3; i++) await sink.send({ text: `${req.container} line ${i}\n` });
        sink.end();
      }),
    },
  });
  await host.ready;
});

afterAll(async () => {
  await agentSystem?.shutdown({ timeoutMs: 500 });
  await cp?.stop();
});

describe('ApiClient over NATS', () => {
  it('creates, reads, updates, patches and deletes, with Kubernetes Status errors', async () => {
    const created = await configMaps().create(configMap('one', { a: '1' }));
    expect(created.metadata.uid).toBeTruthy();
    expect((await configMaps().get('one', namespace)).data).toEqual({ a: '1' });
    expect((await failure(() => configMaps().get('nope', namespace))).status).toMatchObject({
      code: 404,
      reason: 'NotFound',
    });
    expect((await failure(() => configMaps().create(configMap('one')))).status.code).toBe(409);
    expect((await failure(() => configMaps().create(configMap('Bad_Name')))).status.code).toBe(422);
    const updated = await configMaps().update({ ...created, data: { a: '2' } });
    const stale = await failure(() => configMaps().update({ ...created, data: { a: '3' } }));
    expect(stale.status.reason).toBe('Conflict');
    const patched = await configMaps().patch('one', 'strategic', { data: { b: '1' } }, { namespace });
    expect(patched.data).toEqual({ a: '2', b: '1' });
    expect(Number(patched.metadata.resourceVersion)).toBeGreaterThan(
      Number(updated.metadata.resourceVersion),
    );
    const dry = await configMaps().create(configMap('dry'), { dryRun: true });
    expect(dry.metadata.name).toBe('dry');
    expect((await failure(() => configMaps().get('dry', namespace))).status.code).toBe(404);
    const deleted = await configMaps().delete('one', { namespace });
    expect(deleted.kind).toBe('Status');
    expect((await failure(() => configMaps().get('one', namespace))).status.code).toBe(404);
  });

  it('lists more than one NATS message holds, at one revision', async () => {
    const big = 'x'.repeat(100 * 1024);
    for (let i = 0; i < 12; i++) {
      const cm = configMap(`big-${String(i).padStart(2, '0')}`, { big });
      await configMaps().create({ ...cm, metadata: { ...cm.metadata, labels: { size: 'big' } } });
    }
    const all = await configMaps().list({ namespace, labelSelector: '' });
    expect(all.items.filter((c) => c.metadata.name?.startsWith('big-'))).toHaveLength(12);
    expect(all.metadata.continue).toBeUndefined();
    const page = await configMaps().list({ namespace, limit: 5 });
    expect(page.items).toHaveLength(5);
    expect(page.metadata.continue).toBeTruthy();
    // A deletecollection answer is cut to one message too, and says how much it left out.
    const api = agentSystem.ref<ApiProtocol>(apiActorName(cp.clusterId));
    const deleted = await api.ask(
      'deleteCollection',
      { group: '', version: 'v1', resource: 'configmaps', namespace, labelSelector: 'size=big' },
      { timeoutMs: 20_000 },
    );
    expect(deleted.items.length).toBeGreaterThan(0);
    expect(deleted.items.length + (deleted.metadata.remainingItemCount ?? 0)).toBe(12);
    expect((await configMaps().list({ namespace, labelSelector: 'size=big' })).items).toEqual([]);
  });

  it('keeps a watch going when the replica serving it is SIGKILLed', async () => {
    const start = await configMaps().list({ namespace });
    const watch = configMaps().watch({ namespace, resourceVersion: start.metadata.resourceVersion });
    const events: WatchEvent<ConfigMap>[] = [];
    const collecting = (async () => {
      for await (const e of watch) events.push(e);
    })();
    let victim: number | undefined;
    try {
      await configMaps().create(configMap('w-0'));
      for (let i = 0; i < 100 && victim === undefined; i++) {
        victim = await replicaWithNatsWatch();
        if (victim === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(victim).toBeDefined();
      await cp.killApiServer(victim as number);
      for (let i = 1; i <= 5; i++) await configMaps().create(configMap(`w-${i}`));
      for (let i = 0; i < 600 && events.length < 6; i++) await new Promise((r) => setTimeout(r, 50));
      expect(
        events.map((e) => (e.type === 'ERROR' ? 'ERROR' : `${e.type} ${e.object.metadata.name}`)),
      ).toEqual(['ADDED w-0', 'ADDED w-1', 'ADDED w-2', 'ADDED w-3', 'ADDED w-4', 'ADDED w-5']);
    } finally {
      watch.cancel();
      await collecting;
      if (victim !== undefined) await cp.restartApiServer(victim);
    }
  });

  it('throws a 410 as a StatusError when the resourceVersion was compacted', async () => {
    await configMaps().create(configMap('compact-me'));
    await compactStore(cp);
    const watch = configMaps().watch({ namespace, resourceVersion: '3' });
    const err = await failure(async () => {
      for await (const _ of watch) {
        // no event can come before the error
      }
    });
    expect(err.status).toMatchObject({ code: 410, reason: 'Expired' });
  });

  it('binds pods, writes status and scale, and relays logs from the node agent', async () => {
    await pods().create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace },
      spec: {
        containers: [
          { name: 'main', image: 'busybox' },
          { name: 'side', image: 'busybox' },
        ],
      },
    });
    await client.bind(namespace, 'p', 'node-a');
    const bound = await pods().get('p', namespace);
    expect(bound.spec?.nodeName).toBe('node-a');
    expect(bound.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status).toBe('True');
    const running = await pods().updateStatus({ ...bound, status: { ...bound.status, phase: 'Running' } });
    expect(running.status?.phase).toBe('Running');

    const chunks: string[] = [];
    for await (const c of client.logs(namespace, 'p', { container: 'side', tailLines: 10 }))
      chunks.push(c.text);
    expect(chunks.join('')).toBe('side line 1\nside line 2\nside line 3\n');
    expect(logRequests.at(-1)).toMatchObject({ namespace, pod: 'p', container: 'side', tailLines: 10 });
    const viaHttp = await fetch(`${cp.url}/api/v1/namespaces/${namespace}/pods/p/log?container=main`);
    expect(await viaHttp.text()).toBe('main line 1\nmain line 2\nmain line 3\n');
    const which = await fetch(`${cp.url}/api/v1/namespaces/${namespace}/pods/p/log`);
    expect(which.status).toBe(400);
    expect(((await which.json()) as { message: string }).message).toBe(
      'a container name must be specified for pod p, choose one of: [main side]',
    );

    const deployments = client.resource<Deployment>({
      group: 'apps',
      version: 'v1',
      resource: 'deployments',
    });
    await deployments.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace },
      spec: {
        selector: { matchLabels: { app: 'd' } },
        template: {
          metadata: { labels: { app: 'd' } },
          spec: { containers: [{ name: 'c', image: 'nginx' }] },
        },
      },
    });
    const scale = await deployments.patch(
      'd',
      'merge',
      { spec: { replicas: 3 } },
      { namespace, subresource: 'scale' },
    );
    expect(scale.kind).toBe('Scale');
    expect((await deployments.get('d', namespace)).spec?.replicas).toBe(3);
  });

  it('records events, counting repeats on one Event that expires with its lease', async () => {
    const recorder = new EventRecorder({ client, component: 'test-controller' });
    const subject = await configMaps().create(configMap('subject'));
    recorder.record(subject, 'Warning', 'Trouble', 'something is off');
    recorder.record(subject, 'Warning', 'Trouble', 'something is off');
    recorder.record(subject, 'Normal', 'Fine', 'all good');
    await recorder.flush();
    const events = await client.resource<Event>({ group: '', version: 'v1', resource: 'events' }).list({
      namespace,
      fieldSelector: `involvedObject.name=subject,involvedObject.uid=${subject.metadata.uid}`,
    });
    const byReason = Object.fromEntries(events.items.map((e) => [e.reason, e.count]));
    expect(byReason).toEqual({ Trouble: 2, Fine: 1 });
    const store = await cp.storeClient();
    const key = `/registry/core/events/${namespace}/${events.items[0]?.metadata.name}`;
    expect((await store.get(key))?.lease).toBeGreaterThan(0);
  });
});
