// The REST API's semantics over HTTP against a real control plane (3-member store, 3 API
// server processes): optimistic concurrency, bad input, paging at one revision, watches,
// deletion, subresources, Service addresses under concurrent creates on every replica.
import type { ConfigMap, KubeList, KubeObject, Pod, Service, Status } from '@flotilla/api';
import { ControlPlane } from '@flotilla/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactStore, type Http, http, readWatch } from './http-client.ts';

let cp: ControlPlane;
let api: Http;

const ns = 'semantics';
const cmPath = (name = '') => `/api/v1/namespaces/${ns}/configmaps${name === '' ? '' : `/${name}`}`;
const configMap = (
  name: string,
  data: Record<string, string> = {},
  labels?: Record<string, string>,
): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(labels === undefined ? {} : { labels }) },
  data,
});

async function storeRevision(): Promise<number> {
  const client = await cp.storeClient();
  return (await client.range({ key: new Uint8Array([0]), countOnly: true })).revision;
}

beforeAll(async () => {
  cp = await ControlPlane.start({ apiServer: { serviceClusterIPRange: '10.96.0.0/24' } });
  api = http(cp.url);
  const created = await api.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns },
  });
  expect(created.code).toBe(201);
});

afterAll(async () => {
  await cp?.stop();
});

describe('what clients read first', () => {
  it('serves version, discovery, OpenAPI, health and metrics', async () => {
    expect((await api.get<{ gitVersion: string }>('/version')).body.gitVersion).toMatch(/^v1\.\d+/);
    const aggregated = await api.get('/apis', {
      Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json',
    });
    expect(aggregated.headers.get('content-type')).toContain('as=APIGroupDiscoveryList');
    expect((await api.get<{ groupVersion: string }>('/apis/apps/v1')).body.groupVersion).toBe('apps/v1');
    const v2 = await fetch(`${cp.url}/openapi/v2`, {
      headers: { Accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' },
    });
    expect(v2.headers.get('content-type')).toBe('application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    expect((await v2.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    const index = await api.get<{ paths: Record<string, { serverRelativeURL: string }> }>('/openapi/v3');
    const appsUrl = index.body.paths['apis/apps/v1']?.serverRelativeURL ?? '';
    const apps = await api.get<{ openapi: string }>(appsUrl);
    expect(apps.body.openapi).toBe('3.0.0');
    expect(apps.headers.get('cache-control')).toBe('public, immutable');
    const ready = await fetch(`${cp.url}/readyz?verbose`);
    expect(await ready.text()).toContain('[+]store ok');
    const metrics = await (await fetch(`${cp.apiServer(0).url}/metrics`)).text();
    expect(metrics).toContain('flotilla_apiserver_requests_total');
  });
});

describe('writes', () => {
  it('answers a stale update with 409 and applies a current one', async () => {
    const created = await api.request<ConfigMap>('POST', cmPath(), configMap('occ', { v: '1' }));
    expect(created.code).toBe(201);
    const rv = created.body.metadata.resourceVersion ?? '';
    const first = await api.request<ConfigMap>('PUT', cmPath('occ'), { ...created.body, data: { v: '2' } });
    expect(first.code).toBe(200);
    const stale = await api.request('PUT', cmPath('occ'), { ...created.body, data: { v: '3' } });
    expect(stale.code).toBe(409);
    expect(api.status(stale).message).toBe(
      'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please apply your changes to the latest version and try again',
    );
    expect((await api.get<ConfigMap>(cmPath('occ'))).body.data).toEqual({ v: '2' });
    expect(Number(first.body.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
    // Writing what is stored changes nothing, not even the resourceVersion.
    const same = await api.request<ConfigMap>('PUT', cmPath('occ'), first.body);
    expect(same.body.metadata.resourceVersion).toBe(first.body.metadata.resourceVersion);
  });

  it('answers each bad input with its Status, writes nothing, and keeps serving', async () => {
    await api.request('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'fixed' },
      spec: { ports: [{ port: 80 }] },
    });
    const before = await storeRevision();
    const cases: readonly [string, () => Promise<{ code: number; body: unknown }>, number, RegExp][] = [
      [
        'malformed JSON',
        () => api.request('POST', cmPath(), '{"kind": "ConfigMap",', jsonType),
        400,
        /not valid JSON/,
      ],
      [
        'malformed YAML',
        () => api.request('POST', cmPath(), 'kind: ConfigMap\nmetadata: [a', yamlType),
        400,
        /not valid YAML/,
      ],
      [
        'unknown kind',
        () => api.request('POST', cmPath(), { apiVersion: 'v1', kind: 'Gadget', metadata: { name: 'g' } }),
        400,
        /the kind in the data \(Gadget\) does not match/,
      ],
      [
        'invalid name',
        () => api.request('POST', cmPath(), configMap('Not_Valid')),
        422,
        /metadata\.name: Invalid value/,
      ],
      [
        'wrong type',
        () => api.request('POST', cmPath(), { ...configMap('typed'), data: { n: 5 } }),
        400,
        /cannot unmarshal number/,
      ],
      [
        'oversized body',
        () =>
          api.request(
            'POST',
            cmPath(),
            JSON.stringify(configMap('big', { x: 'y'.repeat(4 * 1024 * 1024) })),
            jsonType,
          ),
        413,
        /Request entity too large/,
      ],
      [
        'immutable field',
        () =>
          api.request(
            'PATCH',
            '/api/v1/namespaces/default/services/fixed',
            { spec: { clusterIP: '10.96.0.200' } },
            mergeType,
          ),
        422,
        /spec\.clusterIPs\[0\]: Invalid value: .*may not change once set/,
      ],
      [
        'resourceVersion on create',
        () =>
          api.request('POST', cmPath(), {
            ...configMap('rv'),
            metadata: { name: 'rv', resourceVersion: '5' },
          }),
        400,
        /resourceVersion should not be set/,
      ],
      [
        'namespace mismatch',
        () =>
          api.request('POST', cmPath(), { ...configMap('x'), metadata: { name: 'x', namespace: 'default' } }),
        400,
        /does not match the namespace/,
      ],
      [
        'unknown field, strict',
        () => api.request('POST', `${cmPath()}?fieldValidation=Strict`, { ...configMap('s'), spec: {} }),
        400,
        /strict decoding error: unknown field "spec"/,
      ],
      ['bad label selector', () => api.get(`${cmPath()}?labelSelector=a%20in%20(`), 400, /./],
      ['bad continue', () => api.get(`${cmPath()}?continue=garbage`), 400, /continue key is not valid/],
      [
        'server-side apply',
        () => api.request('PATCH', cmPath('occ'), '{}', { 'Content-Type': 'application/apply-patch+yaml' }),
        415,
        /unknown format/,
      ],
      [
        'missing namespace',
        () => api.request('POST', '/api/v1/namespaces/nowhere/configmaps', configMap('n')),
        404,
        /namespaces "nowhere" not found/,
      ],
    ];
    for (const [what, run, code, message] of cases) {
      const reply = await run();
      expect(reply.code, what).toBe(code);
      expect(api.status(reply as never).message, what).toMatch(message);
    }
    expect(await storeRevision()).toBe(before);
    expect((await api.get(cmPath('occ'))).code).toBe(200);
  });

  it('fills in generateName, and writes nothing on dryRun', async () => {
    const made = await api.request<ConfigMap>('POST', cmPath(), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { generateName: 'gen-' },
    });
    expect(made.body.metadata.name).toMatch(/^gen-[a-z0-9]{5}$/);
    const before = await storeRevision();
    const dry = await api.request<ConfigMap>('POST', `${cmPath()}?dryRun=All`, configMap('dry'));
    expect(dry.code).toBe(201);
    expect(dry.body.metadata.uid).toBeTruthy();
    const dryDelete = await api.request('DELETE', `${cmPath(made.body.metadata.name)}?dryRun=All`);
    expect(dryDelete.code).toBe(200);
    expect(await storeRevision()).toBe(before);
    expect((await api.get(cmPath('dry'))).code).toBe(404);
  });
});

describe('lists', () => {
  it('pages at one revision, with continue tokens that expire once compacted', async () => {
    for (let i = 0; i < 12; i++) {
      await api.request(
        'POST',
        cmPath(),
        configMap(`page-${String(i).padStart(2, '0')}`, {}, { set: 'paging' }),
      );
    }
    const selector = 'labelSelector=set%3Dpaging';
    const first = await api.get<KubeList<ConfigMap>>(`${cmPath()}?${selector}&limit=5`);
    expect(first.body.items.map((c) => c.metadata.name)).toEqual([
      'page-00',
      'page-01',
      'page-02',
      'page-03',
      'page-04',
    ]);
    const token = first.body.metadata.continue ?? '';
    expect(token).not.toBe('');
    // A change after the first page does not show on the next ones: they read its revision.
    await api.request('POST', cmPath(), configMap('page-05b', {}, { set: 'paging' }));
    const second = await api.get<KubeList<ConfigMap>>(`${cmPath()}?${selector}&limit=5&continue=${token}`);
    expect(second.body.items.map((c) => c.metadata.name)).toEqual([
      'page-05',
      'page-06',
      'page-07',
      'page-08',
      'page-09',
    ]);
    expect(second.body.metadata.resourceVersion).toBe(first.body.metadata.resourceVersion);
    const unfiltered = await api.get<KubeList<ConfigMap>>(`${cmPath()}?limit=2`);
    expect(unfiltered.body.metadata.remainingItemCount).toBeGreaterThan(10);

    await compactStore(cp);
    const expired = await api.get(
      `${cmPath()}?${selector}&limit=5&continue=${second.body.metadata.continue}`,
    );
    expect(expired.code).toBe(410);
    expect(api.status(expired).reason).toBe('Expired');
  });

  it('selects by label and field, across namespaces too', async () => {
    await api.request('POST', cmPath(), configMap('sel-a', {}, { app: 'a', tier: 'front' }));
    await api.request('POST', cmPath(), configMap('sel-b', {}, { app: 'b', tier: 'back' }));
    const names = async (query: string, path = cmPath()) =>
      (await api.get<KubeList<ConfigMap>>(`${path}?${query}`)).body.items.map((c) => c.metadata.name);
    expect(await names('labelSelector=tier%20in%20(front,back),app!%3Db')).toEqual(['sel-a']);
    expect(await names('fieldSelector=metadata.name%3Dsel-b')).toEqual(['sel-b']);
    expect(
      await names('fieldSelector=metadata.namespace%3Dsemantics,metadata.name%3Dsel-a', '/api/v1/configmaps'),
    ).toEqual(['sel-a']);
    const unsupported = await api.get(`${cmPath()}?fieldSelector=data.x%3D1`);
    expect(unsupported.code).toBe(400);
  });
});

describe('watch', () => {
  it('streams changes after a resourceVersion, a label change leaving the selection as DELETED', async () => {
    const list = await api.get<KubeList<ConfigMap>>(`${cmPath()}?labelSelector=watched%3Dyes`);
    const rv = list.body.metadata.resourceVersion;
    const watching = readWatch(
      `${cp.url}${cmPath()}?watch=true&labelSelector=watched%3Dyes&resourceVersion=${rv}`,
      (e) => e.length >= 3,
    );
    const created = await api.request<ConfigMap>(
      'POST',
      cmPath(),
      configMap('w1', { a: '1' }, { watched: 'yes' }),
    );
    await api.request('PATCH', cmPath('w1'), { data: { a: '2' } }, mergeType);
    await api.request('PATCH', cmPath('w1'), { metadata: { labels: { watched: 'no' } } }, mergeType);
    const events = await watching;
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(events[0]?.object.metadata.resourceVersion).toBe(created.body.metadata.resourceVersion);
    // DELETED carries the last content that matched, at the revision it stopped matching.
    expect((events[2]?.object as ConfigMap | undefined)?.data).toEqual({ a: '2' });
    expect(Number(events[2]?.object.metadata.resourceVersion)).toBeGreaterThan(
      Number(events[1]?.object.metadata.resourceVersion),
    );
  });

  it('starts with the current objects without a resourceVersion, and ends at timeoutSeconds', async () => {
    const started = performance.now();
    const events = await readWatch(
      `${cp.url}${cmPath()}?watch=1&fieldSelector=metadata.name%3Docc&timeoutSeconds=1`,
      () => false,
    );
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED occ']);
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it('sends bookmarks when allowed, and a 410 ERROR for a compacted resourceVersion', async () => {
    const rv = (await api.get<KubeList<ConfigMap>>(cmPath())).body.metadata.resourceVersion;
    const bookmarks = await readWatch(
      `${cp.url}${cmPath()}?watch=1&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=20`,
      (e) => e.some((x) => x.type === 'BOOKMARK'),
    );
    const bookmark = bookmarks.find((e) => e.type === 'BOOKMARK');
    expect(bookmark?.object.kind).toBe('ConfigMap');
    expect(Number(bookmark?.object.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(rv));

    await api.request('POST', cmPath(), configMap('bump'));
    await compactStore(cp);
    const gone = await readWatch<{ type: string; object: Status }>(
      `${cp.url}${cmPath()}?watch=1&resourceVersion=2`,
      () => false,
    );
    expect(gone.map((e) => e.type)).toEqual(['ERROR']);
    expect(gone[0]?.object).toMatchObject({ code: 410, reason: 'Expired' });
  });
});

describe('deletion', () => {
  const podPath = (name = '') => `/api/v1/namespaces/${ns}/pods${name === '' ? '' : `/${name}`}`;
  const pod = (name: string, nodeName?: string): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: 'busybox' }], ...(nodeName === undefined ? {} : { nodeName }) },
  });

  it('gives a running pod its grace period, which a later delete may shorten', async () => {
    await api.request('POST', podPath(), pod('graceful', 'node-1'));
    const first = await api.request<Pod>('DELETE', podPath('graceful'));
    expect(first.code).toBe(200);
    expect(first.body.metadata.deletionGracePeriodSeconds).toBe(30);
    expect(first.body.metadata.deletionTimestamp).toBeTruthy();
    expect((await api.get(podPath('graceful'))).code).toBe(200);
    const now = await api.request('DELETE', podPath('graceful'), { gracePeriodSeconds: 0 });
    expect(now.code).toBe(200);
    expect((await api.get(podPath('graceful'))).code).toBe(404);
    // A pod that never ran goes at once.
    await api.request('POST', podPath(), pod('pending'));
    await api.request('DELETE', podPath('pending'));
    expect((await api.get(podPath('pending'))).code).toBe(404);
  });

  it('waits for finalizers, writes what the garbage collector needs, and checks preconditions', async () => {
    await api.request('POST', cmPath(), {
      ...configMap('fin'),
      metadata: { name: 'fin', finalizers: ['example.com/hold'] },
    });
    const marked = await api.request<ConfigMap>('DELETE', cmPath('fin'), { propagationPolicy: 'Foreground' });
    expect(marked.body.metadata.finalizers).toEqual(['example.com/hold', 'foregroundDeletion']);
    await api.request('PATCH', cmPath('fin'), [{ op: 'replace', path: '/metadata/finalizers', value: [] }], {
      'Content-Type': 'application/json-patch+json',
    });
    expect((await api.get(cmPath('fin'))).code).toBe(404);

    await api.request('POST', cmPath(), configMap('orphaned'));
    const orphan = await api.request<ConfigMap>('DELETE', `${cmPath('orphaned')}?propagationPolicy=Orphan`);
    expect(orphan.body.metadata.finalizers).toEqual(['orphan']);

    await api.request('POST', cmPath(), configMap('pre'));
    const wrongUid = await api.request('DELETE', cmPath('pre'), { preconditions: { uid: 'not-it' } });
    expect(wrongUid.code).toBe(409);
    expect((await api.get(cmPath('pre'))).code).toBe(200);
  });

  it('refuses new objects in a terminating namespace and finishes it through finalize', async () => {
    await api.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'doomed' },
    });
    const marked = await api.request<{ status: { phase: string } }>('DELETE', '/api/v1/namespaces/doomed');
    expect(marked.body.status.phase).toBe('Terminating');
    const refused = await api.request('POST', '/api/v1/namespaces/doomed/configmaps', configMap('late'));
    expect(refused.code).toBe(403);
    const ns = await api.get<KubeObject & { spec: { finalizers: string[] } }>('/api/v1/namespaces/doomed');
    const finalized = await api.request('PUT', '/api/v1/namespaces/doomed/finalize', {
      ...ns.body,
      spec: { finalizers: [] },
    });
    expect(finalized.code).toBe(200);
    expect((await api.get('/api/v1/namespaces/doomed')).code).toBe(404);
    expect((await api.request('DELETE', '/api/v1/namespaces/kube-system')).code).toBe(403);
  });
});

describe('subresources', () => {
  const deployPath = (sub = '') => `/apis/apps/v1/namespaces/${ns}/deployments/web${sub}`;

  it('scale and status write only their part; binding assigns a pod once', async () => {
    await api.request('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'c', image: 'nginx' }] },
        },
      },
    });
    const scaled = await api.request<{ spec: { replicas: number } }>(
      'PATCH',
      deployPath('/scale'),
      { spec: { replicas: 4 } },
      mergeType,
    );
    expect(scaled.body.spec.replicas).toBe(4);
    const scale = await api.get<{ kind: string; status: { selector: string } }>(deployPath('/scale'));
    expect(scale.body).toMatchObject({ kind: 'Scale', status: { selector: 'app=web' } });
    const current = await api.get<KubeObject & { spec: { replicas: number } }>(deployPath());
    expect(current.body.spec.replicas).toBe(4);
    expect(current.body.metadata.generation).toBe(2);
    const statusWrite = await api.request<
      KubeObject & { spec: { replicas: number }; status: { replicas: number } }
    >('PUT', deployPath('/status'), {
      ...current.body,
      spec: { ...current.body.spec, replicas: 9 },
      status: { replicas: 3 },
    });
    expect(statusWrite.body.status.replicas).toBe(3);
    expect(statusWrite.body.spec.replicas).toBe(4);

    await api.request('POST', `/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'to-bind' },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    const binding = {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'to-bind' },
      target: { kind: 'Node', name: 'n7' },
    };
    const bound = await api.request('POST', `/api/v1/namespaces/${ns}/pods/to-bind/binding`, binding);
    expect(bound.code).toBe(201);
    expect((await api.get<Pod>(`/api/v1/namespaces/${ns}/pods/to-bind`)).body.spec?.nodeName).toBe('n7');
    const again = await api.request('POST', `/api/v1/namespaces/${ns}/pods/to-bind/binding`, binding);
    expect(again.code).toBe(409);
  });

  it('answers a log request for a pod whose agent is not there with a clear 503', async () => {
    const reply = await api.get(`/api/v1/namespaces/${ns}/pods/to-bind/log`);
    expect(reply.code).toBe(503);
    expect(api.status(reply).message).toBe('the agent of node "n7" does not answer: no agent is connected');
  });
});

describe('Service addresses', () => {
  it('are unique when every replica creates at once, and go back to the ranges on delete', async () => {
    const replicas = cp.apiServers.map((r) => http(r.url));
    const creates = Array.from({ length: 24 }, (_, i) =>
      (replicas[i % replicas.length] as Http).request<Service>('POST', `/api/v1/namespaces/${ns}/services`, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `svc-${i}` },
        spec: { type: 'NodePort', ports: [{ port: 80 }] },
      }),
    );
    const made = await Promise.all(creates);
    expect(made.map((r) => r.code)).toEqual(made.map(() => 201));
    const ips = made.map((r) => r.body.spec?.clusterIP);
    const ports = made.map((r) => r.body.spec?.ports?.[0]?.nodePort);
    expect(new Set(ips).size).toBe(24);
    expect(new Set(ports).size).toBe(24);

    const taken = await api.request('POST', `/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'dup' },
      spec: { type: 'NodePort', clusterIP: ips[0], ports: [{ port: 80 }] },
    });
    expect(taken.code).toBe(422);

    await Promise.all(
      made.map((r) => api.request('DELETE', `/api/v1/namespaces/${ns}/services/${r.body.metadata.name}`)),
    );
    // The freed addresses can be asked for by name again.
    const reuse = await api.request<Service>('POST', `/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'reuse' },
      spec: { type: 'NodePort', clusterIP: ips[0], ports: [{ port: 80, nodePort: ports[0] }] },
    });
    expect(reuse.code).toBe(201);
  });
});

const jsonType = { 'Content-Type': 'application/json' };
const yamlType = { 'Content-Type': 'application/yaml' };
const mergeType = { 'Content-Type': 'application/merge-patch+json' };

describe('store failover', () => {
  it('keeps serving writes and watches when the store leader is SIGKILLed', async () => {
    const list = await api.get<KubeList<ConfigMap>>(`${cmPath()}?labelSelector=failover%3Dyes`);
    const watching = readWatch(
      `${cp.url}${cmPath()}?watch=1&labelSelector=failover%3Dyes&resourceVersion=${list.body.metadata.resourceVersion}`,
      (e) => e.length >= 3,
      60_000,
    );
    await api.request('POST', cmPath(), configMap('fo-0', {}, { failover: 'yes' }));
    const leader = await cp.store.waitForLeader();
    await cp.store.kill(leader);
    try {
      // The API server's store client waits out the election (its deadline is 10 s).
      for (const name of ['fo-1', 'fo-2']) {
        const made = await api.request('POST', cmPath(), configMap(name, {}, { failover: 'yes' }));
        expect(made.code, JSON.stringify(made.body)).toBe(201);
      }
      const events = await watching;
      expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
        'ADDED fo-0',
        'ADDED fo-1',
        'ADDED fo-2',
      ]);
    } finally {
      await cp.store.restart(leader);
    }
  });
});
