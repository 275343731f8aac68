import { createRegistry, silentLogger } from '@flotilla/actor';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue, type WorkQueueOptions } from './work-queue.ts';

function queue(options: Partial<WorkQueueOptions> = {}): WorkQueue {
  return new WorkQueue({ name: 'test', registry: createRegistry(), log: silentLogger(), ...options });
}

/** The keys ready now, in the order workers would get them (each marked done). */
async function drain(q: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.length > 0) {
    const key = await q.get();
    if (key === undefined) break;
    out.push(key);
    q.done(key);
  }
  return out;
}

describe('WorkQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds a key once however often it is added, in FIFO order', async () => {
    const q = queue();
    for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
    expect(q.length).toBe(3);
    expect(await drain(q)).toEqual(['a', 'b', 'c']);
  });

  it('never hands a key to two workers at once, and queues it again when added meanwhile', async () => {
    const q = queue();
    q.add('a');
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a');
    expect(q.length).toBe(0); // held by the first worker: only marked
    const second = q.get();
    let got: string | undefined;
    void second.then((k) => {
      got = k;
    });
    await Promise.resolve();
    expect(got).toBeUndefined();
    q.done('a');
    expect(await second).toBe('a');
  });

  it('delays keys, and an earlier time for the same key wins', async () => {
    const q = queue();
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 500);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(49);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(await drain(q)).toEqual(['a']);
    vi.advanceTimersByTime(1000);
    expect(q.length).toBe(0);
  });

  it('an immediate add of a delayed key makes it ready once', async () => {
    const q = queue();
    q.addAfter('a', 100);
    q.add('a');
    expect(await drain(q)).toEqual(['a']);
    vi.advanceTimersByTime(200);
    expect(q.length).toBe(0);
  });

  it('backs off exponentially per key and drops a key after maxRetries', () => {
    const q = queue({ baseRetryDelayMs: 10, maxRetryDelayMs: 35, maxRetries: 4 });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = q.delayedLength;
      expect(q.addRateLimited('a')).toBe(true);
      expect(q.delayedLength).toBe(before + (i === 0 ? 1 : 0));
      delays.push(q.backoffMs(i));
    }
    expect(delays).toEqual([10, 20, 35, 35]);
    expect(q.retries('a')).toBe(4);
    expect(q.addRateLimited('a')).toBe(false);
    expect(q.retries('a')).toBe(0);
  });

  it('a retried key becomes ready after its back-off, and forget resets it', async () => {
    const q = queue({ baseRetryDelayMs: 100 });
    q.addRateLimited('a');
    vi.advanceTimersByTime(99);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(await drain(q)).toEqual(['a']);
    q.addRateLimited('a');
    vi.advanceTimersByTime(199);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(await drain(q)).toEqual(['a']);
    q.forget('a');
    q.addRateLimited('a');
    vi.advanceTimersByTime(100);
    expect(await drain(q)).toEqual(['a']);
  });

  it('spaces retries across keys by the retry bucket', async () => {
    const q = queue({ baseRetryDelayMs: 1, retriesPerSecond: 10, retryBurst: 1 });
    q.addRateLimited('a');
    q.addRateLimited('b');
    vi.advanceTimersByTime(1);
    expect(await drain(q)).toEqual(['a']);
    vi.advanceTimersByTime(98);
    expect(q.length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(await drain(q)).toEqual(['b']);
  });

  it('orders ready keys by priority, FIFO among equals', async () => {
    const priorities: Record<string, number> = { low: 0, high: 10, mid: 5, mid2: 5 };
    const q = queue({ priorityOf: (k) => priorities[k] ?? 0 });
    for (const k of ['low', 'mid', 'high', 'mid2']) q.add(k);
    expect(await drain(q)).toEqual(['high', 'mid', 'mid2', 'low']);
  });

  it('drops adds beyond maxItems', async () => {
    const registry = createRegistry();
    const q = queue({ maxItems: 2, registry });
    q.add('a');
    q.add('b');
    q.add('c');
    q.addAfter('d', 10);
    expect(await drain(q)).toEqual(['a', 'b']);
    const dropped = await registry.getSingleMetric('flotilla_workqueue_dropped_total')?.get();
    expect(dropped?.values.find((v) => v.labels.reason === 'full')?.value).toBe(2);
  });

  it('shutDown wakes waiting workers with undefined and waits for held keys', async () => {
    const q = queue();
    q.add('a');
    const held = await q.get();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    let idle = false;
    void q.whenIdle().then(() => {
      idle = true;
    });
    await Promise.resolve();
    expect(idle).toBe(false);
    q.done(held as string);
    await Promise.resolve();
    expect(idle).toBe(true);
    q.add('b');
    expect(await q.get()).toBeUndefined();
  });

  it('reports depth, adds and durations', async () => {
    const registry = createRegistry();
    const q = queue({ registry, name: 'metrics' });
    q.add('a');
    q.add('b');
    const depth = await registry.getSingleMetric('flotilla_workqueue_depth')?.get();
    expect(depth?.values[0]?.value).toBe(2);
    await drain(q);
    const adds = await registry.getSingleMetric('flotilla_workqueue_adds_total')?.get();
    expect(adds?.values[0]).toMatchObject({ value: 2, labels: { name: 'metrics' } });
  });
});
