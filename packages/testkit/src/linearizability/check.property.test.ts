import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CheckResult, check } from './check.ts';
import type { Operation } from './history.ts';
import { type KvInput, type KvOutput, type KvState, kvModel } from './kv-model.ts';
import type { Model } from './model.ts';
import { type RegisterInput, type RegisterOutput, registerModel } from './register-model.ts';
import {
  defaultSimulation,
  kvWorkload,
  registerWorkload,
  type SimulationOptions,
  simulateHistory,
} from './simulate.ts';

type KvOp = Operation<KvInput, KvOutput>;

// An oracle written separately from the models: it applies a sequence and says whether every
// known output is what a sequential map would have answered.
function kvSequenceIsLegal(sequence: readonly KvOp[]): boolean {
  const map = new Map<string, string>();
  for (const op of sequence) {
    const current = map.get(op.input.key) ?? null;
    const output = op.kind === 'ok' ? op.output : undefined;
    switch (op.input.kind) {
      case 'get':
        if (output?.kind === 'get' && output.value !== current) return false;
        break;
      case 'put':
        if (output?.kind === 'put' && output.prev !== undefined && output.prev !== current) return false;
        map.set(op.input.key, op.input.value);
        break;
      case 'cas': {
        const matches = current === op.input.expected;
        if (output?.kind === 'cas' && output.succeeded !== matches) return false;
        if (matches) map.set(op.input.key, op.input.value);
        break;
      }
      case 'delete':
        if (
          output?.kind === 'delete' &&
          output.deleted !== undefined &&
          output.deleted !== (current !== null)
        ) {
          return false;
        }
        map.delete(op.input.key);
        break;
    }
  }
  return true;
}

function registerSequenceIsLegal(sequence: readonly Operation<RegisterInput, RegisterOutput>[]): boolean {
  let value = 0;
  for (const op of sequence) {
    if (op.input.kind === 'write') value = op.input.value;
    else if (op.kind === 'ok' && op.output.kind === 'read' && op.output.value !== value) return false;
  }
  return true;
}

/** `a` has to precede `b` when it returned before `b` was called. */
function mustPrecede<I, O>(a: Operation<I, O>, b: Operation<I, O>): boolean {
  return a.kind === 'ok' && a.returnMs < b.callMs;
}

/**
 * Brute force, from the definition: some subset of the unknown operations together with all
 * definite ones has an order that respects real time and that the oracle accepts.
 */
function bruteForceLinearizable<I, O>(
  history: readonly Operation<I, O>[],
  legal: (sequence: readonly Operation<I, O>[]) => boolean,
): boolean {
  const definite = history.filter((op) => op.kind === 'ok');
  const unknown = history.filter((op) => op.kind === 'unknown');
  for (let mask = 0; mask < 1 << unknown.length; mask++) {
    const included = [...definite, ...unknown.filter((_, i) => (mask & (1 << i)) !== 0)];
    const used = included.map(() => false);
    const sequence: Operation<I, O>[] = [];
    const extend = (): boolean => {
      if (sequence.length === included.length) return true;
      for (let i = 0; i < included.length; i++) {
        if (used[i]) continue;
        const op = included[i]!;
        // Everything that had to come before op is already in the sequence.
        if (included.some((other, j) => !used[j] && j !== i && mustPrecede(other, op))) continue;
        sequence.push(op);
        used[i] = true;
        if (legal(sequence) && extend()) return true;
        sequence.pop();
        used[i] = false;
      }
      return false;
    };
    if (extend()) return true;
  }
  return false;
}

/** An 'ok' verdict's witness must be a real linearization of each partition. */
function expectValidWitness<S, I, O>(
  result: CheckResult<S>,
  history: readonly Operation<I, O>[],
  legal: (sequence: readonly Operation<I, O>[]) => boolean,
): void {
  const placed = new Set<number>();
  for (const partition of result.partitions) {
    if (partition.verdict !== 'ok') continue;
    const sequence = partition.linearization.map((i) => history[i]!);
    expect(legal(sequence)).toBe(true);
    // No operation is placed before one that returned before it was called.
    let outOfOrder = 0;
    for (let i = 0; i < sequence.length; i++) {
      for (let j = i + 1; j < sequence.length; j++) if (mustPrecede(sequence[j]!, sequence[i]!)) outOfOrder++;
    }
    expect(outOfOrder).toBe(0);
    for (const i of partition.linearization) placed.add(i);
  }
  if (result.result === 'ok') {
    const definite = history.flatMap((op, i) => (op.kind === 'ok' ? [i] : []));
    expect(definite.filter((i) => !placed.has(i))).toEqual([]);
  }
}

// Model variants: without the speed hints the search takes its general path; without
// partitions it sees the whole map at once (where blind writes are not blind, so no hints).
const kvWithoutHints: Model<KvState, KvInput, KvOutput> = {
  ...kvModel,
  readOnly: undefined,
  blindWrite: undefined,
};
const kvUnpartitioned: Model<KvState, KvInput, KvOutput> = {
  ...kvModel,
  partition: undefined,
  blindWrite: undefined,
};
const registerWithoutHints: Model<number, RegisterInput, RegisterOutput> = {
  ...registerModel,
  readOnly: undefined,
  blindWrite: undefined,
};

// Tiny histories over a tiny domain, so that many are illegal and many are legal in few ways.
const value = fc.constantFrom('a', 'b', 'c');
const key = fc.constantFrom('x', 'y');
const kvCall = fc.oneof(
  fc.record({
    input: fc.record({ kind: fc.constant('get' as const), key }),
    output: fc.record({ kind: fc.constant('get' as const), value: fc.option(value, { nil: null }) }),
  }),
  fc.record({
    input: fc.record({ kind: fc.constant('put' as const), key, value }),
    output: fc.constant({ kind: 'put' as const }),
  }),
  fc.record({
    input: fc.record({
      kind: fc.constant('cas' as const),
      key,
      expected: fc.option(value, { nil: null }),
      value,
    }),
    output: fc.record({ kind: fc.constant('cas' as const), succeeded: fc.boolean() }),
  }),
  fc.record({
    input: fc.record({ kind: fc.constant('delete' as const), key }),
    output: fc.record({
      kind: fc.constant('delete' as const),
      deleted: fc.option(fc.boolean(), { nil: undefined }),
    }),
  }),
);
const timing = fc.record({
  client: fc.integer({ min: 0, max: 3 }),
  callMs: fc.integer({ min: 0, max: 8 }),
  durationMs: fc.integer({ min: 0, max: 4 }),
  ending: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'unknown', 'unknown', 'failed'),
});
type Timing = typeof timing extends fc.Arbitrary<infer T> ? T : never;

function toOperation<I, O>(call: { readonly input: I; readonly output: O }, t: Timing): Operation<I, O> {
  const common = { client: t.client, input: call.input, callMs: t.callMs };
  switch (t.ending) {
    case 'ok':
      return { ...common, kind: 'ok', output: call.output, returnMs: t.callMs + t.durationMs };
    case 'failed':
      return { ...common, kind: 'failed', returnMs: t.callMs + t.durationMs };
    default:
      return { ...common, kind: 'unknown' };
  }
}
const tinyKvHistory = fc
  .array(fc.tuple(kvCall, timing), { minLength: 1, maxLength: 7 })
  .map((ops) => ops.map(([c, t]) => toOperation<KvInput, KvOutput>(c, t)));
const registerCall = fc.oneof(
  fc.record({
    input: fc.constant({ kind: 'read' as const }),
    output: fc.record({ kind: fc.constant('read' as const), value: fc.integer({ min: 0, max: 2 }) }),
  }),
  fc.record({
    input: fc.record({ kind: fc.constant('write' as const), value: fc.integer({ min: 0, max: 2 }) }),
    output: fc.constant({ kind: 'write' as const }),
  }),
);
const tinyRegisterHistory = fc
  .array(fc.tuple(registerCall, timing), { minLength: 1, maxLength: 7 })
  .map((ops) => ops.map(([c, t]) => toOperation<RegisterInput, RegisterOutput>(c, t)));

describe('check agrees with brute force on every tiny history', () => {
  it('KV model, with and without hints and partitions', () => {
    fc.assert(
      fc.property(tinyKvHistory, (history) => {
        const expected = bruteForceLinearizable(history, kvSequenceIsLegal) ? 'ok' : 'illegal';
        for (const model of [kvModel, kvWithoutHints, kvUnpartitioned]) {
          const result = check(model, history);
          expect(result.result).toBe(expected);
          expectValidWitness(result, history, kvSequenceIsLegal);
        }
      }),
      { numRuns: 400, seed: 0x5eed },
    );
  });

  it('register model, with and without hints', () => {
    fc.assert(
      fc.property(tinyRegisterHistory, (history) => {
        const expected = bruteForceLinearizable(history, registerSequenceIsLegal) ? 'ok' : 'illegal';
        for (const model of [registerModel, registerWithoutHints]) {
          const result = check(model, history);
          expect(result.result).toBe(expected);
          expectValidWitness(result, history, registerSequenceIsLegal);
        }
      }),
      { numRuns: 300, seed: 0x5eed },
    );
  });
});

const simulation = fc.record({
  seed: fc.integer(),
  clients: fc.integer({ min: 1, max: 8 }),
  operations: fc.integer({ min: 10, max: 300 }),
  keys: fc.integer({ min: 1, max: 3 }),
  unknownRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  failedRate: fc.double({ min: 0, max: 0.05, noNaN: true }),
  maxLatencyMs: fc.integer({ min: 0, max: 8 }),
  recordPrev: fc.boolean(),
});

describe('histories of a correct object are linearizable', () => {
  it('KV: clients with random call windows, lost and failed outcomes', () => {
    fc.assert(
      fc.property(simulation, (s) => {
        const keys = ['a', 'b', 'c'].slice(0, s.keys);
        const options: SimulationOptions = { ...defaultSimulation, ...s };
        const history = simulateHistory(kvWorkload(keys, s.recordPrev), options);
        for (const model of [kvModel, kvWithoutHints]) {
          const result = check(model, history);
          expect(result.result).toBe('ok');
          expectValidWitness(result, history, kvSequenceIsLegal);
        }
      }),
      { numRuns: 60, seed: 0x5eed },
    );
  });

  it('KV: many lost writes to one key (a case that once caught the memo pruning the wrong way)', () => {
    const history = simulateHistory(kvWorkload(['a']), {
      ...defaultSimulation,
      seed: 550650540,
      clients: 7,
      operations: 169,
      unknownRate: 0.12,
      failedRate: 0,
      maxLatencyMs: 2,
    });
    const result = check(kvModel, history);
    expect(result.result).toBe('ok');
    expectValidWitness(result, history, kvSequenceIsLegal);
  });

  it('register: values drawn from a few, so many orders explain a read', () => {
    fc.assert(
      fc.property(simulation, (s) => {
        const history = simulateHistory(registerWorkload(3), { ...defaultSimulation, ...s });
        const result = check(registerModel, history);
        expect(result.result).toBe('ok');
        expectValidWitness(result, history, registerSequenceIsLegal);
      }),
      { numRuns: 60, seed: 0x5eed },
    );
  });
});

/** Change one acknowledged read or compare-and-swap's answer. */
function mutateOne(history: readonly KvOp[], pick: number): KvOp[] {
  const targets = history.flatMap((op, i) =>
    op.kind === 'ok' && (op.input.kind === 'get' || op.input.kind === 'cas') ? [i] : [],
  );
  const index = targets[pick % targets.length]!;
  const op = history[index]!;
  if (op.kind !== 'ok') throw new Error('targets are acknowledged operations');
  const written = history.flatMap((o) =>
    o.input.key === op.input.key && 'value' in o.input ? [o.input.value] : [],
  );
  let output: KvOutput;
  if (op.output.kind === 'cas') {
    output = { kind: 'cas', succeeded: !op.output.succeeded };
  } else if (op.output.kind === 'get') {
    // Another value this key really held at some point (or absence), not a made-up one.
    const others = [null, ...written].filter(
      (v) => v !== (op.output.kind === 'get' ? op.output.value : undefined),
    );
    output = { kind: 'get', value: others[(pick * 7) % others.length] ?? null };
  } else {
    throw new Error('targets are gets and compare-and-swaps');
  }
  return history.map((o, i) => (i === index ? { ...op, output } : o));
}

describe('one changed answer is usually caught', () => {
  it('flags most single-output mutations of simulated histories (fixed-seed sample)', () => {
    const sample = 120;
    let caught = 0;
    for (let seed = 1; seed <= sample; seed++) {
      const history = simulateHistory(kvWorkload(['a', 'b']), {
        ...defaultSimulation,
        seed,
        clients: 4,
        operations: 80,
        unknownRate: 0.05,
      });
      const result = check(kvModel, mutateOne(history, seed));
      expect(result.result).not.toBe('unknown');
      if (result.result === 'illegal') caught++;
    }
    // Some mutations stay legal (a read concurrent with the write it now reports); most do not.
    expect(caught / sample).toBeGreaterThanOrEqual(0.8);
  });
});
