import { createRegistry, silentLogger } from '@flotilla/actor';
import { type Pod, resourceExpired } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { podsResource } from '../resources.ts';
import { MemoryApi, serverError } from '../testing/memory-api.ts';
import { pod } from '../testing/objects.ts';
import { waitFor } from '../testing/wait.ts';
import { Informer } from './informer.ts';

type Seen = { kind: 'add' | 'update' | 'delete'; name: string; rv: string };

const running: Informer<Pod>[] = [];

function start(api: MemoryApi, options: { resyncPeriodMs?: number; listPageSize?: number } = {}) {
  const registry = createRegistry();
  const informer = new Informer<Pod>({
    client: api.resource<Pod>(podsResource),
    log: silentLogger(),
    registry,
    indexers: { node: (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []) },
    retryInitialMs: 20,
    resyncPeriodMs: options.resyncPeriodMs ?? 0,
    listPageSize: options.listPageSize ?? 2,
  });
  const seen: Seen[] = [];
  const record = (kind: Seen['kind'], p: Pod) =>
    seen.push({ kind, name: p.metadata.name ?? '', rv: p.metadata.resourceVersion ?? '' });
  informer.addHandler({
    onAdd: (p) => record('add', p),
    onUpdate: (_, p) => record('update', p),
    onDelete: (p) => record('delete', p),
  });
  informer.start();
  running.push(informer);
  return { informer, seen, registry };
}

/** Waits until the informer has opened its `n`th watch (so that ending watches reaches it). */
async function watching(api: MemoryApi, n = 1): Promise<void> {
  await waitFor('watch open', () => (api.calls.get('watch /pods') ?? 0) >= n);
}

async function lists(registry: ReturnType<typeof createRegistry>): Promise<number> {
  const m = await registry.getSingleMetric('flotilla_informer_lists_total')?.get();
  return m?.values.reduce((s, v) => s + v.value, 0) ?? 0;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()));
});

describe('Informer', () => {
  it('lists in pages, then watches from the list revision into an indexed cache', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    for (const n of ['a', 'b', 'c']) await pods.create(pod(n));
    const { informer, seen } = start(api);
    await informer.whenSynced();
    expect(seen.map((s) => `${s.kind} ${s.name}`)).toEqual(['add a', 'add b', 'add c']);
    await api.bind('default', 'b', 'n1');
    await pods.delete('c');
    await pods.create(pod('d'));
    await waitFor('events', () => seen.length === 6);
    expect(seen.slice(3).map((s) => `${s.kind} ${s.name}`)).toEqual(['update b', 'delete c', 'add d']);
    expect(informer.cache.byIndex('node', 'n1').map((p) => p.metadata.name)).toEqual(['b']);
    expect(informer.cache.keys().sort()).toEqual(['default/a', 'default/b', 'default/d']);
    expect(informer.revision).toBe(String(api.revision));
  });

  it('resumes an ended watch from the last revision without listing again or missing a write', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    await pods.create(pod('a'));
    const { informer, seen, registry } = start(api);
    await informer.whenSynced();
    await watching(api);
    api.inject({ verb: 'watch', times: 2, error: () => serverError('watch refused') });
    api.endWatches();
    await pods.create(pod('b')); // written while no watch is open
    await waitFor('b seen', () => seen.some((s) => s.name === 'b'), 2_000);
    expect(await lists(registry)).toBe(1);
    expect(api.calls.get('watch /pods')).toBe(4);
    expect(seen.map((s) => `${s.kind} ${s.name}`)).toEqual(['add a', 'add b']);
  });

  it('lists again after a 410 and tells handlers only what changed meanwhile', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    for (const n of ['a', 'b']) await pods.create(pod(n));
    const { informer, seen, registry } = start(api);
    await informer.whenSynced();
    await watching(api);
    // Keep the informer away long enough to miss writes that are then compacted away.
    api.inject({ verb: 'watch', times: 1, error: () => serverError() });
    api.endWatches();
    await pods.delete('a');
    await pods.create(pod('c'));
    api.compact();
    await waitFor('relist', async () => (await lists(registry)) === 2, 2_000);
    await waitFor('c seen', () => informer.cache.has('default/c'));
    expect(seen.slice(2).map((s) => `${s.kind} ${s.name}`)).toEqual(['add c', 'delete a']);
    expect(informer.cache.keys().sort()).toEqual(['default/b', 'default/c']);
  });

  it('treats a 410 ERROR event like a 410 from the server: it lists again', async () => {
    const api = new MemoryApi();
    await api.resource<Pod>(podsResource).create(pod('a'));
    const { informer, registry } = start(api);
    await informer.whenSynced();
    await watching(api);
    api.endWatches(resourceExpired('too old resource version'));
    await waitFor('relist', async () => (await lists(registry)) === 2, 2_000);
  });

  it('relists on request and resolves once the fresh list is in the cache', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    await pods.create(pod('a'));
    const { informer, registry } = start(api);
    await informer.whenSynced();
    await informer.relist();
    expect(await lists(registry)).toBe(2);
    await pods.create(pod('b'));
    await waitFor('watch resumed', () => informer.cache.has('default/b'));
  });

  it('replays the cache to a handler added after the sync, and resyncs every object', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    for (const n of ['a', 'b']) await pods.create(pod(n));
    const { informer } = start(api);
    await informer.whenSynced();
    const late: string[] = [];
    informer.addHandler({
      onAdd: (p) => late.push(`add ${p.metadata.name}`),
      onUpdate: (_, p) => late.push(`update ${p.metadata.name}`),
    });
    informer.resync();
    expect(late).toEqual(['add a', 'add b', 'update a', 'update b']);
  });

  it('retries a failed first list with back-off and then syncs', async () => {
    const api = new MemoryApi();
    await api.resource<Pod>(podsResource).create(pod('a'));
    api.inject({ verb: 'list', times: 3, error: () => serverError() });
    const { informer } = start(api);
    await informer.whenSynced();
    expect(informer.cache.size).toBe(1);
    expect(api.calls.get('list /pods')).toBe(4);
  });
});
