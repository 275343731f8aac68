// @kubernetes/client-node against a 3-replica control plane through its balancer: list,
// watch, and an informer that keeps working when the replica it talks to is SIGKILLed.
import { setTimeout as delay } from 'node:timers/promises';
import { ControlPlane } from '@flotilla/testkit';
import {
  CoreV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let cp: ControlPlane;
let kc: KubeConfig;
let core: CoreV1Api;
const namespace = 'informed';

const configMap = (name: string, data: Record<string, string> = {}): V1ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data,
});

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(25);
  }
}

/** The replica serving HTTP watches now, read from each replica's metrics. */
async function replicaWithWatch(): Promise<number | undefined> {
  for (const r of cp.apiServers) {
    if (!r.process.running) continue;
    const text = await (await fetch(`${r.url}/metrics`)).text();
    const m = /flotilla_apiserver_watches\{transport="http"\} (\d+)/.exec(text);
    if (m !== null && Number(m[1]) > 0) return r.index;
  }
  return undefined;
}

beforeAll(async () => {
  cp = await ControlPlane.start();
  kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
  });
});

afterAll(async () => {
  await cp?.stop();
});

describe('@kubernetes/client-node', () => {
  it('lists and watches', async () => {
    await core.createNamespacedConfigMap({ namespace, body: configMap('listed', { a: '1' }) });
    const list = await core.listNamespacedConfigMap({ namespace });
    expect(list.items.map((c) => c.metadata?.name)).toEqual(['listed']);
    const events: string[] = [];
    const watch = new Watch(kc);
    const controller = await watch.watch(
      `/api/v1/namespaces/${namespace}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion },
      (type: string, obj: V1ConfigMap) => events.push(`${type} ${obj.metadata?.name}`),
      () => undefined,
    );
    try {
      await core.createNamespacedConfigMap({ namespace, body: configMap('watched') });
      await core.deleteNamespacedConfigMap({ namespace, name: 'listed' });
      await until('two watch events', () => events.length >= 2, 15_000);
      expect(events).toEqual(['ADDED watched', 'DELETED listed']);
    } finally {
      controller.abort();
    }
  });

  it('keeps an informer working when the replica it talks to is SIGKILLed', async () => {
    const informer = makeInformer(kc, `/api/v1/namespaces/${namespace}/configmaps`, () =>
      core.listNamespacedConfigMap({ namespace }),
    );
    const seen: string[] = [];
    let errors = 0;
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${o.data?.v ?? ''}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    // client-node hands watch failures to the application, which restarts the informer
    // (its documented use); the balancer then sends it to a live replica.
    informer.on('error', () => {
      errors += 1;
      setTimeout(() => void informer.start().catch(() => undefined), 100);
    });
    await informer.start();
    let victim: number | undefined;
    try {
      await until('the initial list', () => seen.includes('add watched'));
      await core.createNamespacedConfigMap({ namespace, body: configMap('before', { v: '1' }) });
      await until('the first add', () => seen.includes('add before'));

      for (let i = 0; i < 100 && victim === undefined; i++) {
        victim = await replicaWithWatch();
        if (victim === undefined) await delay(50);
      }
      expect(victim).toBeDefined();
      await cp.killApiServer(victim as number);

      await core.createNamespacedConfigMap({ namespace, body: configMap('after') });
      await core.patchNamespacedConfigMap(
        { namespace, name: 'before', body: { data: { v: '2' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await core.deleteNamespacedConfigMap({ namespace, name: 'watched' });
      await until('the changes made after the kill', () =>
        ['add after', 'update before 2', 'delete watched'].every((e) => seen.includes(e)),
      );
      expect(errors).toBeGreaterThanOrEqual(1);
      expect(
        informer
          .list(namespace)
          .map((c) => c.metadata?.name)
          .sort(),
      ).toEqual(['after', 'before']);
      expect(await replicaWithWatch()).not.toBe(victim);
    } finally {
      await informer.stop();
      await cp.restartApiServer(victim ?? 0).catch(() => undefined);
    }
  });
});
