import { setTimeout as delay } from 'node:timers/promises';
import type { StoreClient } from '@flotilla/store';
import { describe, expect, it } from 'vitest';
import { History } from '../linearizability/history.ts';
import type { KvInput, KvOutput } from '../linearizability/kv-model.ts';
import { runKvWorkload } from './kv-workload.ts';

/** A store client that answers every call at once from a map (no I/O: only the loop's pacing is under test). */
function instantClient(): StoreClient {
  const data = new Map<string, Uint8Array>();
  const fake = {
    get: async (key: string) => {
      const value = data.get(key);
      return value ? { key, value } : undefined;
    },
    put: async (key: string, value: string) => {
      data.set(key, new TextEncoder().encode(value));
    },
    txn: async () => ({ succeeded: true }),
  };
  return fake as unknown as StoreClient;
}

async function opsIn(ms: number, rate: number | undefined, clients = 4): Promise<number> {
  const history = new History<KvInput, KvOutput>();
  const load = runKvWorkload(
    Array.from({ length: clients }, () => instantClient()),
    history,
    { keys: 4, keyPrefix: 'k', ...(rate !== undefined && { rate }) },
  );
  await delay(ms);
  await load.stop();
  return history.counts().ok;
}

describe('runKvWorkload pacing', () => {
  it('keeps to the rate across its clients, and runs free without one', async () => {
    // 100 operations per second for 600 ms: about 60. Bounds are wide (a busy machine
    // delays timers, never speeds them up); unpaced, instant clients do thousands.
    const paced = await opsIn(600, 100);
    expect(paced).toBeGreaterThanOrEqual(20);
    expect(paced).toBeLessThanOrEqual(75);
    const free = await opsIn(600, undefined);
    expect(free).toBeGreaterThan(1_000);
  });

  it('stops a paced client that is waiting for its next turn', async () => {
    const history = new History<KvInput, KvOutput>();
    // One client at 1 per second: after its first operation it waits about a second.
    const load = runKvWorkload([instantClient()], history, { keys: 1, keyPrefix: 'k', rate: 1 });
    await delay(50);
    const t0 = performance.now();
    await load.stop();
    expect(performance.now() - t0).toBeLessThan(1_500);
    expect(history.counts().ok).toBe(1);
  });

  it('refuses a rate that is not a positive number', () => {
    const history = new History<KvInput, KvOutput>();
    for (const rate of [0, -5, Number.NaN])
      expect(() => runKvWorkload([instantClient()], history, { keys: 1, keyPrefix: 'k', rate })).toThrow(
        /rate must be a positive number/,
      );
  });
});
