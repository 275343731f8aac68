import { StreamError } from '@flotilla/actor';
import { describe, expect, it } from 'vitest';
import type { WatchResponse } from '../watch/types.ts';
import { StoreWatch } from './store-client.ts';

/** A stream that yields `items`, then fails the way a member that died does (or ends). */
function stream(items: readonly WatchResponse[], fail: boolean) {
  let i = 0;
  return {
    async next(): Promise<IteratorResult<WatchResponse>> {
      if (i < items.length) return { value: items[i++]!, done: false };
      if (fail) throw new StreamError('StreamBroken', 'the producer went silent');
      return new Promise(() => {}); // an open stream with nothing more to say
    },
    cancel() {},
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

describe('StoreWatch', () => {
  it('never reports a revision below one it already delivered when it resumes on a member that is behind', async () => {
    const opened: number[] = [];
    const streams = [
      stream(
        [
          { kind: 'events', revision: 10, events: [] },
          { kind: 'progress', revision: 12 },
        ],
        true,
      ),
      // The member the watch resumed on has applied only up to 7.
      stream(
        [
          { kind: 'progress', revision: 7 },
          { kind: 'progress', revision: 12 },
          { kind: 'progress', revision: 13 },
        ],
        false,
      ),
    ];
    const ref = {
      stream: (_method: string, request: { startRevision?: number }) => {
        opened.push(request.startRevision ?? 0);
        return streams.shift()!;
      },
    };
    // biome-ignore lint/suspicious/noExplicitAny: a stand-in for the actor reference (no I/O)
    const watch = new StoreWatch(ref as any, { prefix: new Uint8Array([47]), startRevision: 1 } as any);
    const seen: string[] = [];
    for (let n = 0; n < 4; n++) {
      const r = await watch.next();
      seen.push(`${r.value.kind}@${r.value.revision}`);
    }
    watch.cancel();
    expect(seen).toEqual(['events@10', 'progress@12', 'progress@12', 'progress@13']);
    expect(opened).toEqual([1, 13]);
    expect(watch.resumes).toBe(1);
  });
});
