import { assertNever } from '@flotilla/actor';
import type { Operation } from './history.ts';
import {
  hashString,
  ILLEGAL,
  type Model,
  mixHash,
  type Partition,
  type StepResult,
  UNKNOWN,
  type Unknown,
} from './model.ts';

/**
 * A map of registers, as a workload sees the store: `null` is an absent key. `cas` is the
 * store's Txn "if value(key) == expected then put" (`expected: null` means "if absent").
 */
export type KvInput =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string };

/** Optional fields (`prev`, `deleted`) are checked when the workload recorded them. */
export type KvOutput =
  | { readonly kind: 'get'; readonly value: string | null }
  | { readonly kind: 'put'; readonly prev?: string | null }
  | { readonly kind: 'cas'; readonly succeeded: boolean }
  | { readonly kind: 'delete'; readonly deleted?: boolean };

export type KvState = ReadonlyMap<string, string>;

const empty: KvState = new Map();

function withValue(state: KvState, key: string, value: string | null): StepResult<KvState> {
  if ((state.get(key) ?? null) === value) return { ok: true, next: state };
  // Within a partition the map holds at most this key: skip the general copy.
  if (state.size === 0 || (state.size === 1 && state.has(key))) {
    return { ok: true, next: value === null ? empty : new Map([[key, value]]) };
  }
  const next = new Map(state);
  if (value === null) next.delete(key);
  else next.set(key, value);
  return { ok: true, next };
}

/** Linearizability is local, so each key is checked on its own (Herlihy & Wing 1990, §3.3). */
function partitionByKey(history: readonly Operation<KvInput, KvOutput>[]): Partition[] {
  const byKey = new Map<string, number[]>();
  for (let i = 0; i < history.length; i++) {
    const key = history[i]!.input.key;
    let ops = byKey.get(key);
    if (ops === undefined) {
      ops = [];
      byKey.set(key, ops);
    }
    ops.push(i);
  }
  return [...byKey].map(([key, operations]) => ({ label: `key ${JSON.stringify(key)}`, operations }));
}

function describeInput(input: KvInput): string {
  const key = JSON.stringify(input.key);
  switch (input.kind) {
    case 'get':
      return `get ${key}`;
    case 'put':
      return `put ${key}=${JSON.stringify(input.value)}`;
    case 'cas':
      return `cas ${key} ${JSON.stringify(input.expected)}→${JSON.stringify(input.value)}`;
    case 'delete':
      return `delete ${key}`;
    default:
      return assertNever(input, 'kv input');
  }
}

function describeOutput(output: KvOutput | Unknown): string {
  if (output === UNKNOWN) return '?';
  switch (output.kind) {
    case 'get':
      return JSON.stringify(output.value);
    case 'put':
      return output.prev === undefined ? 'ok' : `ok (prev ${JSON.stringify(output.prev)})`;
    case 'cas':
      return output.succeeded ? 'succeeded' : 'failed';
    case 'delete':
      return output.deleted === undefined ? 'ok' : output.deleted ? 'deleted' : 'absent';
    default:
      return assertNever(output, 'kv output');
  }
}

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: 'kv',
  init: () => empty,
  step(state, input, output) {
    const current = state.get(input.key) ?? null;
    switch (input.kind) {
      case 'get':
        return output === UNKNOWN || (output.kind === 'get' && output.value === current)
          ? { ok: true, next: state }
          : ILLEGAL;
      case 'put':
        if (
          output !== UNKNOWN &&
          (output.kind !== 'put' || (output.prev !== undefined && output.prev !== current))
        ) {
          return ILLEGAL;
        }
        return withValue(state, input.key, input.value);
      case 'cas': {
        const matches = current === input.expected;
        if (output !== UNKNOWN && (output.kind !== 'cas' || output.succeeded !== matches)) return ILLEGAL;
        return matches ? withValue(state, input.key, input.value) : { ok: true, next: state };
      }
      case 'delete':
        if (
          output !== UNKNOWN &&
          (output.kind !== 'delete' ||
            (output.deleted !== undefined && output.deleted !== (current !== null)))
        ) {
          return ILLEGAL;
        }
        return withValue(state, input.key, null);
      default:
        return assertNever(input, 'kv input');
    }
  },
  equal(a, b) {
    if (a === b) return true;
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (b.get(k) !== v) return false;
    return true;
  },
  hash(state) {
    // XOR over entries so the hash does not depend on insertion order.
    let h = state.size;
    for (const [k, v] of state) h ^= mixHash(hashString(k), hashString(v));
    return h;
  },
  partition: partitionByKey,
  readOnly: (input, output) =>
    input.kind === 'get' ||
    (output !== UNKNOWN &&
      ((output.kind === 'cas' && !output.succeeded) ||
        (output.kind === 'delete' && output.deleted === false))),
  blindWrite: (input, output) =>
    output === UNKNOWN
      ? input.kind === 'put' || input.kind === 'delete'
      : (output.kind === 'put' && output.prev === undefined) ||
        (output.kind === 'delete' && output.deleted === undefined),
  validate(input, output) {
    if (typeof input !== 'object' || input === null) return 'input is not an object';
    if (!['get', 'put', 'cas', 'delete'].includes(input.kind))
      return `unknown input kind ${JSON.stringify(input.kind)}`;
    if (typeof input.key !== 'string') return 'key must be a string';
    if ((input.kind === 'put' || input.kind === 'cas') && typeof input.value !== 'string') {
      return 'value must be a string';
    }
    if (input.kind === 'cas' && input.expected !== null && typeof input.expected !== 'string') {
      return 'expected must be a string or null';
    }
    if (output === UNKNOWN) return undefined;
    if (typeof output !== 'object' || output === null || output.kind !== input.kind) {
      return `a ${input.kind} needs a ${input.kind} output, got ${JSON.stringify(output)}`;
    }
    return undefined;
  },
  describeOperation: (input, output) => `${describeInput(input)} → ${describeOutput(output)}`,
  describeState(state) {
    if (state.size === 0) return '{} (every key absent)';
    return `{${[...state].map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`;
  },
};
