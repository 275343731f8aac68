import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Operation } from './history.ts';
import { type KvInput, type KvOutput, type KvState, kvModel } from './kv-model.ts';
import { UNKNOWN } from './model.ts';
import { registerModel } from './register-model.ts';

const value = fc.constantFrom('a', 'b', 'c');
// Within a partition the state holds one key at most: the hints are promised for those states.
const state: fc.Arbitrary<KvState> = fc
  .option(value, { nil: null })
  .map((v) => (v === null ? new Map() : new Map([['k', v]])));
const input: fc.Arbitrary<KvInput> = fc.oneof(
  fc.constant({ kind: 'get' as const, key: 'k' }),
  value.map((v) => ({ kind: 'put' as const, key: 'k', value: v })),
  fc
    .tuple(fc.option(value, { nil: null }), value)
    .map(([expected, v]) => ({ kind: 'cas' as const, key: 'k', expected, value: v })),
  fc.constant({ kind: 'delete' as const, key: 'k' }),
);
const outputFor = (i: KvInput): fc.Arbitrary<KvOutput> => {
  switch (i.kind) {
    case 'get':
      return fc.option(value, { nil: null }).map((v) => ({ kind: 'get', value: v }));
    case 'put':
      return fc
        .option(fc.option(value, { nil: null }), { nil: undefined })
        .map((prev) => ({ kind: 'put', prev }));
    case 'cas':
      return fc.boolean().map((succeeded) => ({ kind: 'cas', succeeded }));
    case 'delete':
      return fc.option(fc.boolean(), { nil: undefined }).map((deleted) => ({ kind: 'delete', deleted }));
  }
};
const operation = input.chain((i) => fc.tuple(fc.constant(i), outputFor(i)));

describe('kvModel', () => {
  it('keeps its speed hints: read-only leaves the state, a blind write ends the same anywhere', () => {
    fc.assert(
      fc.property(state, state, operation, (s1, s2, [i, o]) => {
        if (kvModel.readOnly?.(i, o)) {
          const step = kvModel.step(s1, i, o);
          if (step.ok) expect(kvModel.equal(step.next, s1)).toBe(true);
        }
        if (kvModel.readOnly?.(i, UNKNOWN)) {
          const step = kvModel.step(s1, i, UNKNOWN);
          expect(step.ok && kvModel.equal(step.next, s1)).toBe(true);
        }
        for (const output of [o, UNKNOWN] as const) {
          if (!kvModel.blindWrite?.(i, output)) continue;
          const a = kvModel.step(s1, i, output);
          const b = kvModel.step(s2, i, output);
          expect(a.ok && b.ok && kvModel.equal(a.next, b.next)).toBe(true);
        }
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  it('hashes equal states equally, whatever order their keys went in', () => {
    const a = new Map([
      ['x', '1'],
      ['y', '2'],
    ]);
    const b = new Map([
      ['y', '2'],
      ['x', '1'],
    ]);
    expect(kvModel.equal(a, b)).toBe(true);
    expect(kvModel.hash(a)).toBe(kvModel.hash(b));
    expect(kvModel.equal(a, new Map([['x', '1']]))).toBe(false);
  });

  it('checks recorded previous values and delete results, and ignores them when absent', () => {
    const s: KvState = new Map([['k', 'a']]);
    expect(kvModel.step(s, { kind: 'put', key: 'k', value: 'b' }, { kind: 'put', prev: 'a' }).ok).toBe(true);
    expect(kvModel.step(s, { kind: 'put', key: 'k', value: 'b' }, { kind: 'put', prev: null }).ok).toBe(
      false,
    );
    expect(kvModel.step(s, { kind: 'put', key: 'k', value: 'b' }, { kind: 'put' }).ok).toBe(true);
    expect(kvModel.step(s, { kind: 'delete', key: 'k' }, { kind: 'delete', deleted: false }).ok).toBe(false);
    expect(kvModel.step(new Map(), { kind: 'delete', key: 'k' }, { kind: 'delete', deleted: false }).ok).toBe(
      true,
    );
  });

  it('partitions by key and describes operations and states readably', () => {
    const ops: Operation<KvInput, KvOutput>[] = [
      { kind: 'unknown', client: 1, input: { kind: 'get', key: 'b' }, callMs: 0 },
      { kind: 'unknown', client: 1, input: { kind: 'get', key: 'a' }, callMs: 0 },
      { kind: 'unknown', client: 1, input: { kind: 'get', key: 'b' }, callMs: 0 },
    ];
    expect(kvModel.partition?.(ops)).toEqual([
      { label: 'key "b"', operations: [0, 2] },
      { label: 'key "a"', operations: [1] },
    ]);
    expect(
      kvModel.describeOperation(
        { kind: 'cas', key: 'k', expected: null, value: 'v' },
        { kind: 'cas', succeeded: true },
      ),
    ).toBe('cas "k" null→"v" → succeeded');
    expect(kvModel.describeOperation({ kind: 'put', key: 'k', value: 'v' }, UNKNOWN)).toBe('put "k"="v" → ?');
    expect(kvModel.describeState(new Map([['k', 'v']]))).toBe('{"k": "v"}');
    expect(kvModel.describeState(new Map())).toBe('{} (every key absent)');
  });

  it('names what is wrong with a malformed operation', () => {
    expect(kvModel.validate?.({ kind: 'get', key: 'k' }, { kind: 'cas', succeeded: true })).toMatch(
      /needs a get output/,
    );
    expect(kvModel.validate?.({ kind: 'put', key: 'k', value: 3 } as unknown as KvInput, UNKNOWN)).toMatch(
      /value must be a string/,
    );
    expect(kvModel.validate?.({ kind: 'scan', key: 'k' } as unknown as KvInput, UNKNOWN)).toMatch(
      /unknown input kind/,
    );
    expect(kvModel.validate?.({ kind: 'get', key: 'k' }, { kind: 'get', value: null })).toBeUndefined();
  });
});

describe('registerModel', () => {
  it('keeps its speed hints', () => {
    for (const s of [0, 1, 2]) {
      expect(registerModel.step(s, { kind: 'read' }, UNKNOWN)).toEqual({ ok: true, next: s });
      expect(registerModel.step(s, { kind: 'write', value: 5 }, UNKNOWN)).toEqual({ ok: true, next: 5 });
    }
    expect(registerModel.readOnly?.({ kind: 'read' }, UNKNOWN)).toBe(true);
    expect(registerModel.blindWrite?.({ kind: 'write', value: 1 }, UNKNOWN)).toBe(true);
  });
});
