import { isConflict, isNotFound, isResourceExpired, type Pod, type WatchEvent } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { nodesResource, podsResource } from '../resources.ts';
import { MemoryApi } from './memory-api.ts';
import { node, pod } from './objects.ts';

async function take<T>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('MemoryApi (the unit-test stand-in for the API server)', () => {
  it('refuses an update with a stale resourceVersion and keeps one revision counter', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    const a = await pods.create(pod('a'));
    const b = await pods.create(pod('b'));
    expect(Number(b.metadata.resourceVersion)).toBe(Number(a.metadata.resourceVersion) + 1);
    const a2 = await pods.update({ ...a, metadata: { ...a.metadata, labels: { x: '1' } } });
    await expect(pods.update({ ...a, metadata: { ...a.metadata, labels: { x: '2' } } })).rejects.toSatisfy(
      isConflict,
    );
    expect(a2.metadata.labels).toEqual({ x: '1' });
    expect(() => {
      (a2.metadata as { name: string }).name = 'mutated';
    }).toThrow();
  });

  it('filters lists by label and field selectors and pages them from one snapshot', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    for (let i = 0; i < 5; i++)
      await pods.create(pod(`p${i}`, { labels: { tier: i % 2 === 0 ? 'fe' : 'be' } }));
    await api.bind('default', 'p0', 'n1');
    expect((await pods.list({ labelSelector: 'tier=fe' })).items.map((p) => p.metadata.name)).toEqual([
      'p0',
      'p2',
      'p4',
    ]);
    expect(
      (await pods.list({ fieldSelector: 'spec.nodeName=n1' })).items.map((p) => p.metadata.name),
    ).toEqual(['p0']);
    const first = await pods.list({ limit: 2 });
    await pods.create(pod('p9'));
    const second = await pods.list({ limit: 2, continue: first.metadata.continue ?? '' });
    const third = await pods.list({ limit: 2, continue: second.metadata.continue ?? '' });
    expect([...first.items, ...second.items, ...third.items].map((p) => p.metadata.name)).toEqual([
      'p0',
      'p1',
      'p2',
      'p3',
      'p4',
    ]);
    expect(third.metadata.continue).toBeUndefined();
  });

  it('watches from a revision; objects entering or leaving a selection are ADDED or DELETED', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    const a = await pods.create(pod('a', { labels: { app: 'x' } }));
    const from = api.revision;
    const w = pods.watch({ resourceVersion: String(from), labelSelector: 'app=x' });
    await pods.create(pod('b', { labels: { app: 'y' } }));
    const moved = await pods.update({ ...a, metadata: { ...a.metadata, labels: { app: 'y' } } });
    const back = await pods.update({ ...moved, metadata: { ...moved.metadata, labels: { app: 'x' } } });
    await pods.delete('a');
    const events = await take<WatchEvent<Pod>>(w, 3);
    w.cancel();
    expect(events.map((e) => [e.type, e.object.metadata.resourceVersion])).toEqual([
      ['DELETED', moved.metadata.resourceVersion],
      ['ADDED', back.metadata.resourceVersion],
      ['DELETED', String(Number(back.metadata.resourceVersion) + 1)],
    ]);
  });

  it('answers 410 for a watch from a compacted revision', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    await pods.create(pod('a'));
    const old = api.revision;
    await pods.create(pod('b'));
    api.compact();
    const w = pods.watch({ resourceVersion: String(old) });
    await expect(w.next()).rejects.toSatisfy(isResourceExpired);
  });

  it('deletes a bound pod gracefully and an unbound one at once', async () => {
    const api = new MemoryApi();
    const pods = api.resource<Pod>(podsResource);
    await api.resource(nodesResource).create(node('n1'));
    await pods.create(pod('bound'));
    await pods.create(pod('free'));
    await api.bind('default', 'bound', 'n1');
    const marked = (await pods.delete('bound')) as Pod;
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    expect((await pods.get('bound')).metadata.deletionGracePeriodSeconds).toBe(30);
    await pods.delete('free');
    await expect(pods.get('free')).rejects.toSatisfy(isNotFound);
    await pods.delete('bound', { gracePeriodSeconds: 0 });
    await expect(pods.get('bound')).rejects.toSatisfy(isNotFound);
  });

  it('refuses to bind a pod twice', async () => {
    const api = new MemoryApi();
    await api.resource<Pod>(podsResource).create(pod('a'));
    await api.bind('default', 'a', 'n1');
    await expect(api.bind('default', 'a', 'n2')).rejects.toSatisfy(isConflict);
  });
});
