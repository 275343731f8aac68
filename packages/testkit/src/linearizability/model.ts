import type { Operation } from './history.ts';

/** Stands for the output of an operation whose outcome was never observed. */
export const UNKNOWN: unique symbol = Symbol('unknown output');
export type Unknown = typeof UNKNOWN;

export type StepResult<State> = { readonly ok: true; readonly next: State } | { readonly ok: false };

/** The shared "this output is impossible here" answer, so a rejecting step allocates nothing. */
export const ILLEGAL: StepResult<never> = { ok: false };

/** A named slice of a history that is checked on its own (one key of a map, say). */
export type Partition = {
  readonly label: string;
  /** Indices into the full history; every operation belongs to exactly one partition. */
  readonly operations: readonly number[];
};

/**
 * A sequential specification. `step` says whether `input` producing `output` is possible in
 * `state` and what state follows; with `output === UNKNOWN` the output is not checked. States
 * are never mutated: `step` returns a new one, and `equal`/`hash` let the checker remember
 * which (linearized set, state) pairs it has already explored (Lowe, "Testing for
 * linearizability", 2017).
 */
export type Model<State, Input, Output> = {
  readonly name: string;
  init(): State;
  step(state: State, input: Input, output: Output | Unknown): StepResult<State>;
  equal(a: State, b: State): boolean;
  /** Equal states must hash equally; a 32-bit integer. */
  hash(state: State): number;
  /**
   * Split a history into independent parts. Only sound when the object is a product of
   * independent objects, as a map is of its keys (linearizability is local: Herlihy & Wing 1990).
   */
  partition?(history: readonly Operation<Input, Output>[]): readonly Partition[];
  /**
   * Optional hints that make the search much faster; each must hold for every state, or the
   * checker may miss a violation. `readOnly`: wherever this operation with this output is
   * possible, it leaves the state as it was (a get; a compare-and-swap that failed); with an
   * unknown output, it never changes the state whatever happened (a get).
   */
  readOnly?(input: Input, output: Output | Unknown): boolean;
  /**
   * `blindWrite`: this operation with this output (or an unknown one) is possible in every
   * state and leaves the same state whatever it started from (a put whose previous value was
   * not recorded, a delete).
   */
  blindWrite?(input: Input, output: Output | Unknown): boolean;
  /** A reason when an operation can never be valid (an output of the wrong kind), else undefined. */
  validate?(input: Input, output: Output | Unknown): string | undefined;
  describeOperation(input: Input, output: Output | Unknown): string;
  describeState(state: State): string;
};

/** FNV-1a over UTF-16 code units: a cheap 32-bit hash for model states built from strings. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** Combine two 32-bit hashes, order-sensitive. */
export function mixHash(a: number, b: number): number {
  let h = Math.imul(a ^ (b + 0x9e3779b9 + (a << 6) + (a >>> 2)), 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}
