import { assert, assertNever } from '@flotilla/actor';
import type { Operation } from './history.ts';
import type { KvInput, KvOutput } from './kv-model.ts';
import type { RegisterInput, RegisterOutput } from './register-model.ts';

/**
 * Histories of a correct object, for the checker's own tests and its measurement: clients
 * run operations against one sequential state, each taking effect at a random instant inside
 * its call window, so the history is linearizable by construction. Some outcomes are lost
 * (the client times out; the operation took effect later, or never) and some fail cleanly.
 */

export type Random = () => number;

/** mulberry32: a tiny seeded generator, so every simulated history can be replayed. */
export function seededRandom(seed: number): Random {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Workload<State, Input, Output> = {
  readonly init: State;
  apply(state: State, input: Input): { readonly next: State; readonly output: Output };
  /** The next input of `client`; `serial` is unique across the whole run. */
  nextInput(random: Random, client: number, serial: number): Input;
  /** Told every answer a client received, so later inputs can depend on it. */
  observe?(client: number, input: Input, output: Output): void;
};

export type SimulationOptions = {
  readonly seed: number;
  readonly clients: number;
  readonly operations: number;
  /** Upper bound of each half of a call window (call → effect, effect → return). */
  readonly maxLatencyMs: number;
  readonly maxThinkMs: number;
  /** Probability that a client never learns an operation's outcome. */
  readonly unknownRate: number;
  /** Of those, the probability that it took effect anyway. */
  readonly unknownAppliedRate: number;
  /** How long after its call a lost operation may still take effect (a retried proposal). */
  readonly lateApplyMs: number;
  /** How long a client waits before giving up on an answer. */
  readonly clientTimeoutMs: number;
  /** Probability that an operation is rejected without taking effect. */
  readonly failedRate: number;
};

export const defaultSimulation: Omit<SimulationOptions, 'seed' | 'clients' | 'operations'> = {
  maxLatencyMs: 5,
  maxThinkMs: 2,
  unknownRate: 0.01,
  unknownAppliedRate: 0.5,
  lateApplyMs: 200,
  clientTimeoutMs: 50,
  failedRate: 0.01,
};

type Event =
  | { readonly kind: 'call'; readonly atMs: number; readonly seq: number; readonly client: number }
  | { readonly kind: 'apply'; readonly atMs: number; readonly seq: number; readonly op: number }
  | { readonly kind: 'return'; readonly atMs: number; readonly seq: number; readonly op: number };

type Draft<Input, Output> = {
  readonly client: number;
  readonly input: Input;
  readonly callMs: number;
  fate: 'ok' | 'failed' | 'unknown';
  output?: Output;
};

export function simulateHistory<State, Input, Output>(
  workload: Workload<State, Input, Output>,
  options: SimulationOptions,
): Operation<Input, Output>[] {
  const random = seededRandom(options.seed);
  const queue = new EventQueue();
  let seq = 0;
  for (let c = 0; c < options.clients; c++) {
    queue.push({ kind: 'call', atMs: random() * options.maxThinkMs, seq: seq++, client: c });
  }
  const drafts: Draft<Input, Output>[] = [];
  const returns: number[] = [];
  let state = workload.init;
  for (let event = queue.pop(); event !== undefined; event = queue.pop()) {
    switch (event.kind) {
      case 'call': {
        if (drafts.length >= options.operations) break;
        const op = drafts.length;
        const input = workload.nextInput(random, event.client, op);
        const callMs = event.atMs;
        const roll = random();
        if (roll < options.unknownRate) {
          drafts.push({ client: event.client, input, callMs, fate: 'unknown' });
          if (random() < options.unknownAppliedRate) {
            queue.push({ kind: 'apply', atMs: callMs + random() * options.lateApplyMs, seq: seq++, op });
          }
          returns.push(Number.POSITIVE_INFINITY);
          const nextCallMs = callMs + options.clientTimeoutMs + random() * options.maxThinkMs;
          queue.push({ kind: 'call', atMs: nextCallMs, seq: seq++, client: event.client });
        } else {
          const fate = roll < options.unknownRate + options.failedRate ? 'failed' : 'ok';
          drafts.push({ client: event.client, input, callMs, fate });
          const effectMs = callMs + random() * options.maxLatencyMs;
          const returnMs = effectMs + random() * options.maxLatencyMs;
          if (fate === 'ok') queue.push({ kind: 'apply', atMs: effectMs, seq: seq++, op });
          queue.push({ kind: 'return', atMs: returnMs, seq: seq++, op });
          returns.push(returnMs);
        }
        break;
      }
      case 'apply': {
        const draft = drafts[event.op]!;
        const { next, output } = workload.apply(state, draft.input);
        state = next;
        draft.output = output;
        break;
      }
      case 'return': {
        const draft = drafts[event.op]!;
        if (draft.fate === 'ok') workload.observe?.(draft.client, draft.input, draft.output as Output);
        queue.push({
          kind: 'call',
          atMs: event.atMs + random() * options.maxThinkMs,
          seq: seq++,
          client: draft.client,
        });
        break;
      }
    }
  }
  return drafts.map((d, i): Operation<Input, Output> => {
    switch (d.fate) {
      case 'ok':
        assert('output' in d, 'an acknowledged operation took effect before it returned');
        return {
          kind: 'ok',
          client: d.client,
          input: d.input,
          output: d.output as Output,
          callMs: d.callMs,
          returnMs: returns[i]!,
        };
      case 'failed':
        return { kind: 'failed', client: d.client, input: d.input, callMs: d.callMs, returnMs: returns[i]! };
      case 'unknown':
        return { kind: 'unknown', client: d.client, input: d.input, callMs: d.callMs };
      default:
        return assertNever(d.fate, 'simulated fate');
    }
  });
}

/**
 * Clients doing get, put, compare-and-swap and delete on a few keys, each write a fresh value.
 * `recordPrev` also records each put's previous value, which the checker then verifies.
 */
export function kvWorkload(
  keys: readonly string[],
  recordPrev = false,
): Workload<ReadonlyMap<string, string>, KvInput, KvOutput> {
  // What each client last saw under each key: its compare-and-swaps expect that value.
  const seen = new Map<string, string | null>();
  return {
    init: new Map(),
    apply(state, input) {
      const current = state.get(input.key) ?? null;
      const set = (value: string | null) => {
        const next = new Map(state);
        if (value === null) next.delete(input.key);
        else next.set(input.key, value);
        return next;
      };
      switch (input.kind) {
        case 'get':
          return { next: state, output: { kind: 'get', value: current } };
        case 'put':
          return {
            next: set(input.value),
            output: recordPrev ? { kind: 'put', prev: current } : { kind: 'put' },
          };
        case 'cas':
          return current === input.expected
            ? { next: set(input.value), output: { kind: 'cas', succeeded: true } }
            : { next: state, output: { kind: 'cas', succeeded: false } };
        case 'delete':
          return { next: set(null), output: { kind: 'delete', deleted: current !== null } };
      }
    },
    nextInput(random, client, serial) {
      const key = keys[Math.floor(random() * keys.length)]!;
      const value = `v${serial}`;
      const roll = random();
      if (roll < 0.45) return { kind: 'get', key };
      if (roll < 0.75) return { kind: 'put', key, value };
      if (roll < 0.97) return { kind: 'cas', key, expected: seen.get(`${client}/${key}`) ?? null, value };
      return { kind: 'delete', key };
    },
    observe(client, input, output) {
      const slot = `${client}/${input.key}`;
      if (output.kind === 'get') seen.set(slot, output.value);
      else if (input.kind === 'put' || (input.kind === 'cas' && output.kind === 'cas' && output.succeeded)) {
        seen.set(slot, input.value);
      } else if (input.kind === 'delete') seen.set(slot, null);
    },
  };
}

/** Reads and writes of one register; values drawn from a few, so different orders can explain a read. */
export function registerWorkload(values: number): Workload<number, RegisterInput, RegisterOutput> {
  return {
    init: 0,
    apply: (state, input) =>
      input.kind === 'read'
        ? { next: state, output: { kind: 'read', value: state } }
        : { next: input.value, output: { kind: 'write' } },
    nextInput: (random) =>
      random() < 0.5 ? { kind: 'read' } : { kind: 'write', value: 1 + Math.floor(random() * values) },
  };
}

/** A binary min-heap of events by time, then by scheduling order. */
class EventQueue {
  readonly #heap: Event[] = [];

  push(event: Event): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): Event | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) return top;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  }
}

function before(a: Event, b: Event): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}
