import { setTimeout as delay } from 'node:timers/promises';
import { FlotillaError } from '@flotilla/actor';
import { bytesToString, type StoreClient, StoreError, toBytes } from '@flotilla/store';
import type { History } from '../linearizability/history.ts';
import type { KvInput, KvOutput } from '../linearizability/kv-model.ts';

export interface KvWorkloadOptions {
  /** Keys the clients share (few keys: more contention, cheaper checking). */
  readonly keys: number;
  readonly keyPrefix: string;
  /** Fractions of gets and CAS operations; the rest are puts. */
  readonly getRatio?: number;
  readonly casRatio?: number;
  /** Stop after this many operations per client, even if not stopped before. */
  readonly maxOperationsPerClient?: number;
  /** Hears how each operation ended, as it ends (for timelines). */
  readonly observe?: (outcome: KvOutcome) => void;
  /** Prefix of the client ids recorded in the history (default none: clients are 0, 1, ...). */
  readonly clientPrefix?: string;
  /** Awaited before each operation: lets a harness hold the load for a moment. */
  readonly gate?: () => Promise<void>;
  /**
   * Operations per second across all clients (default: as fast as they go). Each client
   * keeps its share of the pace; one that fell behind (a slow call in a fault) does not
   * burst to catch up.
   */
  readonly rate?: number;
}

/** One operation's end, for timelines: when it was called and ended, and how. */
export type KvOutcome = {
  readonly kind: KvInput['kind'];
  readonly result: 'ok' | 'failed' | 'unknown';
  readonly callMs: number;
  readonly endMs: number;
};

/**
 * The register and compare-and-swap workload: each client loops over get, put and CAS
 * (the store's Txn "if value = expected then put") on a small key set, recording every
 * call in `history` for the linearizability checker. A call that ends in an error the
 * store states as a refusal is a definite failure; anything else (timeouts, lost
 * connections, leader changes past the client's deadline) is an unknown outcome.
 */
export function runKvWorkload(
  clients: readonly StoreClient[],
  history: History<KvInput, KvOutput>,
  options: KvWorkloadOptions,
): { stop(): Promise<void> } {
  let running = true;
  const getRatio = options.getRatio ?? 0.4;
  const casRatio = options.casRatio ?? 0.3;
  const maxOps = options.maxOperationsPerClient ?? 1_000_000;
  const keyOf = (i: number) => `${options.keyPrefix}${i}`;
  const observe = options.observe;
  if (options.rate !== undefined && !(options.rate > 0))
    throw new RangeError(`rate must be a positive number of operations per second, not ${options.rate}`);
  const paceMs = options.rate === undefined ? 0 : (clients.length * 1_000) / options.rate;
  const loops = clients.map(async (client, index) => {
    const c = options.clientPrefix === undefined ? index : `${options.clientPrefix}${index}`;
    const ended = (kind: KvInput['kind'], result: KvOutcome['result'], callMs: number) =>
      observe?.({ kind, result, callMs, endMs: performance.now() });
    const seen = new Map<string, string | null>();
    let rnd = (index + 1) * 2654435761;
    const random = () => {
      rnd = (Math.imul(rnd, 48271) + 11) >>> 0;
      return rnd / 2 ** 32;
    };
    // Clients start spread over one pace interval, not all at once.
    let nextAt = performance.now() + (paceMs * index) / clients.length;
    for (let n = 0; running && n < maxOps; n++) {
      if (paceMs > 0) {
        const wait = nextAt - performance.now();
        if (wait > 0) await delay(wait);
        if (!running) break;
        nextAt = Math.max(nextAt, performance.now() - paceMs) + paceMs;
      }
      if (options.gate) await options.gate();
      const key = keyOf(Math.floor(random() * options.keys));
      const r = random();
      if (r < getRatio) {
        const call = history.invoke(c, { kind: 'get', key });
        const callMs = performance.now();
        try {
          const kv = await client.get(key);
          const value = kv ? bytesToString(kv.value) : null;
          seen.set(key, value);
          call.complete({ kind: 'get', value });
          ended('get', 'ok', callMs);
        } catch {
          call.fail(); // a read that failed changed nothing
          ended('get', 'failed', callMs);
        }
      } else if (r < getRatio + casRatio) {
        const expected = seen.get(key) ?? null;
        const value = `c${c}-${n}`;
        const call = history.invoke(c, { kind: 'cas', key, expected, value });
        const callMs = performance.now();
        try {
          const k = toBytes(key);
          const res = await client.txn({
            compare: [
              expected === null
                ? { key: k, target: 'create', createRevision: 0, result: '=' }
                : { key: k, target: 'value', value: toBytes(expected), result: '=' },
            ],
            success: [{ op: 'put', key: k, value: toBytes(value) }],
            failure: [],
          });
          if (res.succeeded) seen.set(key, value);
          call.complete({ kind: 'cas', succeeded: res.succeeded });
          ended('cas', 'ok', callMs);
        } catch (err) {
          const refused = isRefusal(err);
          if (refused) call.fail();
          else call.unknown();
          ended('cas', refused ? 'failed' : 'unknown', callMs);
        }
      } else {
        const value = `p${c}-${n}`;
        const call = history.invoke(c, { kind: 'put', key, value });
        const callMs = performance.now();
        try {
          await client.put(key, value);
          seen.set(key, value);
          call.complete({ kind: 'put' });
          ended('put', 'ok', callMs);
        } catch (err) {
          const refused = isRefusal(err);
          if (refused) call.fail();
          else call.unknown();
          ended('put', refused ? 'failed' : 'unknown', callMs);
        }
      }
      // Yield now and then so that the fault loop and watchers get the event loop.
      if (n % 16 === 15) await delay(0);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** The store refused the request: nothing was applied. */
function isRefusal(err: unknown): boolean {
  return err instanceof StoreError && err instanceof FlotillaError;
}
