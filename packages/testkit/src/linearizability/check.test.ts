import { describe, expect, it } from 'vitest';
import { check } from './check.ts';
import { InvalidCheckOptionsError, InvalidHistoryError, InvalidModelError } from './errors.ts';
import type { ClientId, Operation } from './history.ts';
import { type KvInput, type KvOutput, kvModel } from './kv-model.ts';
import type { Model } from './model.ts';
import { type RegisterInput, type RegisterOutput, registerModel } from './register-model.ts';

type KvOp = Operation<KvInput, KvOutput>;

// Small builders so each history below reads as a timeline: [call → return] in ms.
const put = (client: ClientId, key: string, value: string, callMs: number, returnMs: number): KvOp => ({
  kind: 'ok',
  client,
  input: { kind: 'put', key, value },
  output: { kind: 'put' },
  callMs,
  returnMs,
});
const get = (
  client: ClientId,
  key: string,
  value: string | null,
  callMs: number,
  returnMs: number,
): KvOp => ({
  kind: 'ok',
  client,
  input: { kind: 'get', key },
  output: { kind: 'get', value },
  callMs,
  returnMs,
});
const cas = (
  client: ClientId,
  key: string,
  expected: string | null,
  value: string,
  succeeded: boolean,
  callMs: number,
  returnMs: number,
): KvOp => ({
  kind: 'ok',
  client,
  input: { kind: 'cas', key, expected, value },
  output: { kind: 'cas', succeeded },
  callMs,
  returnMs,
});
const lostPut = (client: ClientId, key: string, value: string, callMs: number): KvOp => ({
  kind: 'unknown',
  client,
  input: { kind: 'put', key, value },
  callMs,
});
const failedPut = (client: ClientId, key: string, value: string, callMs: number, returnMs: number): KvOp => ({
  kind: 'failed',
  client,
  input: { kind: 'put', key, value },
  callMs,
  returnMs,
});

/** check() must never change what it is given: every history here is frozen to the leaves. */
function frozen<T>(history: T[]): T[] {
  for (const op of history) Object.freeze(op);
  return Object.freeze(history) as T[];
}

describe('check on the KV model: histories that are linearizable', () => {
  it('finds the one order in which concurrent operations explain every read', () => {
    const history = frozen([
      put('a', 'x', '1', 0, 10),
      put('b', 'x', '2', 1, 9),
      get('c', 'x', '2', 2, 3),
      get('c', 'x', '1', 11, 12),
    ]);
    const result = check(kvModel, history);
    expect(result.result).toBe('ok');
    const [partition] = result.partitions;
    expect(partition?.verdict === 'ok' && partition.linearization).toEqual([1, 2, 0, 3]);
  });

  it('lets an unknown-outcome write have happened (a later read sees it)', () => {
    const history = frozen([
      put(1, 'x', 'a', 0, 1),
      lostPut(2, 'x', 'b', 2),
      get(3, 'x', 'b', 10, 11),
      get(3, 'x', 'b', 12, 13),
    ]);
    const result = check(kvModel, history);
    expect(result.result).toBe('ok');
    expect(result.partitions[0]?.verdict === 'ok' && result.partitions[0].linearization).toContain(1);
  });

  it('lets an unknown-outcome write not have happened (every later read sees the older value)', () => {
    const history = frozen([put(1, 'x', 'a', 0, 1), lostPut(2, 'x', 'b', 2), get(3, 'x', 'a', 10, 11)]);
    const result = check(kvModel, history);
    expect(result.result).toBe('ok');
    expect(result.partitions[0]?.verdict === 'ok' && result.partitions[0].linearization).not.toContain(1);
  });

  it('lets an unknown-outcome write take effect after its client moved on', () => {
    // Client 2 timed out on b, then wrote c; a retried proposal of b may still land after c.
    const history = frozen([lostPut(2, 'x', 'b', 0), put(2, 'x', 'c', 5, 6), get(3, 'x', 'b', 7, 8)]);
    expect(check(kvModel, history).result).toBe('ok');
  });

  it('checks keys independently and a compare-and-swap chain in order', () => {
    const history = frozen([
      cas(1, 'x', null, 'x1', true, 0, 2),
      cas(2, 'y', null, 'y1', true, 0, 2),
      cas(1, 'x', 'x1', 'x2', true, 3, 4),
      cas(2, 'x', 'x1', 'x3', false, 3, 5),
      get(2, 'y', 'y1', 6, 7),
      get(1, 'x', 'x2', 6, 7),
    ]);
    const result = check(kvModel, history);
    expect(result.result).toBe('ok');
    expect(result.partitions.map((p) => p.label).sort()).toEqual(['key "x"', 'key "y"']);
  });

  it('ignores an operation that definitely failed', () => {
    const history = frozen([put(1, 'x', 'a', 0, 1), failedPut(2, 'x', 'b', 2, 3), get(3, 'x', 'a', 4, 5)]);
    expect(check(kvModel, history).result).toBe('ok');
  });
});

describe('check on the KV model: histories that are not', () => {
  it('catches a stale read and says where', () => {
    const history = frozen([put(1, 'x', 'a', 0, 1), put(2, 'x', 'b', 2, 3), get(3, 'x', 'a', 4, 5)]);
    const result = check(kvModel, history);
    expect(result.result).toBe('illegal');
    const partition = result.partitions[0]!;
    expect(partition.verdict).toBe('illegal');
    if (partition.verdict !== 'illegal') return;
    expect(partition.label).toBe('key "x"');
    expect(partition.violation.prefix).toEqual([0, 1]);
    expect(partition.violation.state).toEqual(new Map([['x', 'b']]));
    expect(partition.violation.blocking).toBe(2);
    expect(partition.violation.candidates).toEqual([2]);
    expect(result.explanation).toContain('partition key "x"');
    expect(result.explanation).toContain('#2 client 3: get "x" → "a"');
    expect(result.explanation).toContain('state after it: {"x": "b"}');
  });

  it('catches a lost write: acknowledged, then never visible to anyone', () => {
    const history = frozen([
      put(1, 'x', 'old', 0, 1),
      put(2, 'x', 'new', 2, 3),
      get(3, 'x', 'old', 4, 5),
      get(4, 'x', 'old', 6, 7),
      get(1, 'x', 'old', 10, 11),
    ]);
    expect(check(kvModel, history).result).toBe('illegal');
    // The same history is fine when nobody was told the write succeeded.
    const unacknowledged = frozen(history.map((op, i) => (i === 1 ? lostPut(2, 'x', 'new', 2) : op)));
    expect(check(kvModel, unacknowledged).result).toBe('ok');
  });

  it('catches a compare-and-swap applied twice (its retry landed again)', () => {
    const history = frozen([
      put(1, 'x', 'v0', 0, 1),
      cas(2, 'x', 'v0', 'v1', true, 2, 3),
      put(3, 'x', 'v0', 4, 5),
      get(4, 'x', 'v1', 6, 7),
    ]);
    expect(check(kvModel, history).result).toBe('illegal');
  });

  it('catches a compare-and-swap that took effect but reported failure to its retry', () => {
    const history = frozen([
      put(1, 'x', 'v0', 0, 1),
      cas(2, 'x', 'v0', 'v1', false, 2, 3),
      get(3, 'x', 'v1', 4, 5),
    ]);
    expect(check(kvModel, history).result).toBe('illegal');
  });

  it('catches a read of a value nobody wrote', () => {
    const history = frozen([put(1, 'x', 'a', 0, 1), get(2, 'x', 'z', 2, 3)]);
    const result = check(kvModel, history);
    expect(result.result).toBe('illegal');
    expect(result.explanation).toContain('impossible here');
  });

  it('catches a read of a definitely failed write', () => {
    const history = frozen([put(1, 'x', 'a', 0, 1), failedPut(2, 'x', 'b', 2, 3), get(3, 'x', 'b', 4, 5)]);
    expect(check(kvModel, history).result).toBe('illegal');
  });

  it('catches an unknown write that was seen, then unseen with no other writer', () => {
    const history = frozen([
      put(1, 'x', 'a', 0, 1),
      lostPut(2, 'x', 'b', 2),
      get(3, 'x', 'b', 3, 4),
      get(3, 'x', 'a', 5, 6),
    ]);
    const result = check(kvModel, history);
    expect(result.result).toBe('illegal');
    expect(result.explanation).toContain('#3 client 3: get "x" → "a"');
  });

  it('catches two reads after all writes that disagree on the final value', () => {
    const history = frozen([
      put('a', 'x', '1', 0, 10),
      put('b', 'x', '2', 1, 9),
      get('c', 'x', '2', 11, 12),
      get('d', 'x', '1', 11.5, 12),
    ]);
    expect(check(kvModel, history).result).toBe('illegal');
  });

  it('reports every illegal key and checks the legal ones too', () => {
    const history = frozen([
      put(1, 'x', 'a', 0, 1),
      get(2, 'x', 'z', 2, 3),
      put(1, 'y', 'a', 0, 1),
      get(2, 'y', 'a', 2, 3),
      put(1, 'w', 'a', 0, 1),
      get(2, 'w', null, 2, 3),
    ]);
    const result = check(kvModel, history);
    expect(result.result).toBe('illegal');
    expect(Object.fromEntries(result.partitions.map((p) => [p.label, p.verdict]))).toEqual({
      'key "x"': 'illegal',
      'key "y"': 'ok',
      'key "w"': 'illegal',
    });
    expect(result.explanation).toContain('also illegal: key "w"');
  });
});

describe('check on the register model', () => {
  const write = (
    value: number,
    callMs: number,
    returnMs: number,
  ): Operation<RegisterInput, RegisterOutput> => ({
    kind: 'ok',
    client: 0,
    input: { kind: 'write', value },
    output: { kind: 'write' },
    callMs,
    returnMs,
  });
  const read = (
    value: number,
    callMs: number,
    returnMs: number,
  ): Operation<RegisterInput, RegisterOutput> => ({
    kind: 'ok',
    client: 1,
    input: { kind: 'read' },
    output: { kind: 'read', value },
    callMs,
    returnMs,
  });

  it('accepts a read concurrent with a write seeing either value, and rejects going back', () => {
    expect(check(registerModel, [write(1, 0, 10), read(0, 1, 2), read(1, 3, 4)]).result).toBe('ok');
    expect(check(registerModel, [write(1, 0, 10), read(1, 1, 2), read(0, 3, 4)]).result).toBe('illegal');
  });

  it('treats touching intervals as concurrent', () => {
    expect(check(registerModel, [write(1, 0, 5), read(0, 5, 6)]).result).toBe('ok');
    expect(check(registerModel, [write(1, 0, 5), read(0, 5.001, 6)]).result).toBe('illegal');
  });
});

describe('check: budgets', () => {
  // Every write overlaps every other and the read sees a value none wrote: an illegal history
  // whose proof must look at every subset of writes, far beyond any small budget.
  const hard = frozen([
    ...Array.from({ length: 24 }, (_, i) => put(i, 'x', `v${i}`, i * 0.01, 100)),
    get(99, 'x', 'nobody', 0, 100),
  ]);

  it('answers unknown with reason timeout when the time budget runs out', () => {
    const started = performance.now();
    const result = check(kvModel, hard, { timeoutMs: 100 });
    expect(result.result).toBe('unknown');
    expect(result.partitions[0]?.verdict === 'unknown' && result.partitions[0].reason).toBe('timeout');
    expect(result.explanation).toContain('ran out of budget');
    // Generous: the clock is consulted every ~1,000 search steps.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('answers unknown with reason cache-full when the memo budget runs out', () => {
    const result = check(kvModel, hard, { maxCacheEntries: 1_000 });
    expect(result.result).toBe('unknown');
    const [partition] = result.partitions;
    expect(partition?.verdict === 'unknown' && partition.reason).toBe('cache-full');
    expect(partition?.stats.cacheEntries).toBeLessThanOrEqual(1_000);
  });

  it('uses the injected clock for its deadline', () => {
    let now = 0;
    const clock = () => {
      now += 1_000;
      return now;
    };
    const result = check(kvModel, hard, { timeoutMs: 1, now: clock });
    expect(result.result).toBe('unknown');
  });
});

describe('check: bad input is refused and changes nothing', () => {
  const good = frozen([put(1, 'x', 'a', 0, 1)]);

  it('refuses a return before the call, a time that is not finite, an unknown kind', () => {
    expect(() => check(kvModel, [put(1, 'x', 'a', 5, 4)])).toThrow(InvalidHistoryError);
    expect(() => check(kvModel, [put(1, 'x', 'a', Number.NaN, 4)])).toThrow(/operation #0: callMs NaN/);
    const weird = { ...put(1, 'x', 'a', 0, 1), kind: 'maybe' } as unknown as KvOp;
    expect(() => check(kvModel, [weird])).toThrow(InvalidHistoryError);
  });

  it('refuses an output of the wrong kind, naming the operation', () => {
    const mismatched: KvOp = {
      kind: 'ok',
      client: 1,
      input: { kind: 'get', key: 'x' },
      output: { kind: 'put' },
      callMs: 0,
      returnMs: 1,
    };
    expect(() => check(kvModel, [put(1, 'x', 'a', 0, 1), mismatched])).toThrow(
      /operation #1: a get needs a get output/,
    );
  });

  it('refuses budgets that are not positive', () => {
    expect(() => check(kvModel, good, { timeoutMs: 0 })).toThrow(InvalidCheckOptionsError);
    expect(() => check(kvModel, good, { maxCacheEntries: 0.5 })).toThrow(InvalidCheckOptionsError);
  });

  it('refuses a model whose partitions lose or repeat an operation', () => {
    const losing: Model<number, RegisterInput, RegisterOutput> = { ...registerModel, partition: () => [] };
    const history = [{ kind: 'unknown', client: 0, input: { kind: 'read' }, callMs: 0 } as const];
    expect(() => check(losing, history)).toThrow(InvalidModelError);
    const repeating: Model<number, RegisterInput, RegisterOutput> = {
      ...registerModel,
      partition: () => [
        { label: 'a', operations: [0] },
        { label: 'b', operations: [0] },
      ],
    };
    expect(() => check(repeating, history)).toThrow(/in two partitions/);
  });
});
