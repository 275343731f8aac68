import { silentLogger } from '@flotilla/actor';
import {
  type KubeList,
  type ListOptions,
  type Pod,
  type ResourceClient,
  resourceExpired,
  type WatchEvent,
  type WatchOptions,
} from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { type ListWatchEvent, listAndWatch } from './list-watch.ts';

const pod = (name: string, rv: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', uid: name, resourceVersion: rv },
});

type Step =
  | { readonly kind: 'list'; readonly items: readonly Pod[]; readonly rv: string }
  | { readonly kind: 'watch'; readonly events: readonly WatchEvent<Pod>[]; readonly fail?: unknown };

/** A ResourceClient that answers lists and watches from a script, recording what was asked. */
function scripted(steps: Step[]): { client: ResourceClient<Pod>; asked: string[] } {
  const asked: string[] = [];
  const next = (kind: Step['kind']): Step => {
    const step = steps.shift();
    if (step === undefined || step.kind !== kind) throw new Error(`unexpected ${kind}`);
    return step;
  };
  const client = {
    ref: { group: '', version: 'v1', resource: 'pods' },
    list: async (options?: ListOptions): Promise<KubeList<Pod>> => {
      asked.push(`list ${options?.fieldSelector ?? ''}`);
      const step = next('list') as Extract<Step, { kind: 'list' }>;
      return {
        apiVersion: 'v1',
        kind: 'PodList',
        metadata: { resourceVersion: step.rv },
        items: [...step.items],
      };
    },
    watch: (options?: WatchOptions) => {
      asked.push(`watch ${options?.resourceVersion ?? ''}`);
      const step = next('watch') as Extract<Step, { kind: 'watch' }>;
      async function* events(): AsyncGenerator<WatchEvent<Pod>> {
        for (const e of step.events) yield e;
        if (step.fail !== undefined) throw step.fail;
        // The server keeps the watch open: park until cancelled.
        await new Promise(() => {});
      }
      const it = events();
      return Object.assign(it, { cancel: () => void it.return(undefined) });
    },
  } as unknown as ResourceClient<Pod>;
  return { client, asked };
}

async function take(
  client: ResourceClient<Pod>,
  count: number,
): Promise<{ kind: string; name?: string; rv?: string }[]> {
  const abort = new AbortController();
  const out: { kind: string; name?: string; rv?: string }[] = [];
  const summary = (e: ListWatchEvent<Pod>) =>
    e.kind === 'synced'
      ? { kind: e.kind }
      : { kind: e.kind, name: e.object.metadata.name ?? '', rv: e.object.metadata.resourceVersion ?? '' };
  for await (const e of listAndWatch(client, {
    name: 'pods',
    fieldSelector: 'spec.nodeName=n1',
    logger: silentLogger(),
    signal: abort.signal,
    retryBackoff: { initialMs: 1, maxMs: 1, multiplier: 1, jitter: 0 },
  })) {
    out.push(summary(e));
    if (out.length === count) abort.abort();
  }
  return out;
}

describe('listAndWatch', () => {
  it('lists, says synced, then watches from the list revision', async () => {
    const { client, asked } = scripted([
      { kind: 'list', items: [pod('a', '5')], rv: '7' },
      {
        kind: 'watch',
        events: [
          { type: 'ADDED', object: pod('b', '8') },
          { type: 'DELETED', object: pod('a', '9') },
        ],
      },
    ]);
    expect(await take(client, 4)).toEqual([
      { kind: 'added', name: 'a', rv: '5' },
      { kind: 'synced' },
      { kind: 'added', name: 'b', rv: '8' },
      { kind: 'deleted', name: 'a', rv: '9' },
    ]);
    expect(asked).toEqual(['list spec.nodeName=n1', 'watch 7']);
  });

  it('resumes a broken watch from the last revision it delivered', async () => {
    const { client, asked } = scripted([
      { kind: 'list', items: [], rv: '3' },
      { kind: 'watch', events: [{ type: 'ADDED', object: pod('a', '4') }], fail: new Error('stream broke') },
      { kind: 'watch', events: [{ type: 'MODIFIED', object: pod('a', '6') }] },
    ]);
    expect(await take(client, 3)).toEqual([
      { kind: 'synced' },
      { kind: 'added', name: 'a', rv: '4' },
      { kind: 'updated', name: 'a', rv: '6' },
    ]);
    expect(asked).toEqual(['list spec.nodeName=n1', 'watch 3', 'watch 4']);
  });

  it('after 410 Gone lists again and delivers only the difference, deletions included', async () => {
    const { client, asked } = scripted([
      { kind: 'list', items: [pod('a', '2'), pod('b', '3'), pod('c', '4')], rv: '4' },
      { kind: 'watch', events: [], fail: resourceExpired('too old resource version: 4 (90)') },
      // b changed, c went away, d came, a is as it was.
      { kind: 'list', items: [pod('a', '2'), pod('b', '95'), pod('d', '96')], rv: '100' },
      { kind: 'watch', events: [] },
    ]);
    expect(await take(client, 8)).toEqual([
      { kind: 'added', name: 'a', rv: '2' },
      { kind: 'added', name: 'b', rv: '3' },
      { kind: 'added', name: 'c', rv: '4' },
      { kind: 'synced' },
      { kind: 'updated', name: 'b', rv: '95' },
      { kind: 'added', name: 'd', rv: '96' },
      { kind: 'deleted', name: 'c', rv: '4' },
      { kind: 'synced' },
    ]);
    expect(asked).toEqual(['list spec.nodeName=n1', 'watch 4', 'list spec.nodeName=n1']);
  });
});
