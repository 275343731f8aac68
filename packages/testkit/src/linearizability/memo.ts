import type { Model } from './model.ts';

/**
 * The set of definite operations linearized so far, as a bitset over them in call order. The
 * search moves roughly forward in time, so the set is a run of full words and a short tail;
 * the memo stores only that tail. A Zobrist hash (one random word per operation, XORed in
 * and out) keeps hashing O(1) per placement.
 */
export class DefiniteSet {
  readonly #words: Uint32Array;
  readonly #zobrist: Int32Array;
  readonly #lastWordMask: number;
  /** Words below this index are all ones. */
  #fullWords = 0;
  /** No word at or above this index is non-zero. */
  #hiBound = 0;
  #hash = 0;

  constructor(size: number) {
    this.#words = new Uint32Array(Math.ceil(size / 32));
    this.#lastWordMask = size % 32 === 0 ? 0xffffffff : ((1 << (size % 32)) - 1) >>> 0;
    this.#zobrist = new Int32Array(size);
    for (let d = 0; d < size; d++) this.#zobrist[d] = fmix32(Math.imul(d + 1, 0x9e3779b9));
  }

  get hash(): number {
    return this.#hash;
  }

  add(d: number): void {
    const w = d >>> 5;
    this.#words[w]! |= 1 << (d & 31);
    this.#hash ^= this.#zobrist[d]!;
    if (w >= this.#hiBound) this.#hiBound = w + 1;
    const words = this.#words;
    const last = words.length - 1;
    while (
      this.#fullWords <= last &&
      words[this.#fullWords] === (this.#fullWords === last ? this.#lastWordMask : 0xffffffff)
    ) {
      this.#fullWords++;
    }
  }

  remove(d: number): void {
    const w = d >>> 5;
    this.#words[w]! &= ~(1 << (d & 31));
    this.#hash ^= this.#zobrist[d]!;
    if (w < this.#fullWords) this.#fullWords = w;
  }

  /** Tightens the upper bound and returns it: the end of the tail. */
  #tailEnd(): number {
    let hi = this.#hiBound;
    while (hi > this.#fullWords && this.#words[hi - 1] === 0) hi--;
    this.#hiBound = hi;
    return hi;
  }

  equalsSnapshot(fullWords: number, tail: readonly number[]): boolean {
    if (fullWords !== this.#fullWords || tail.length !== this.#tailEnd() - fullWords) return false;
    for (let w = 0; w < tail.length; w++) if (tail[w] !== this.#words[fullWords + w]) return false;
    return true;
  }

  snapshot(): { readonly fullWords: number; readonly tail: readonly number[] } {
    const end = this.#tailEnd();
    if (end === this.#fullWords) return { fullWords: end, tail: noWords };
    const tail: number[] = [];
    for (let w = this.#fullWords; w < end; w++) tail.push(this.#words[w]!);
    return { fullWords: this.#fullWords, tail };
  }
}

/** The set of unknown-outcome operations placed so far: usually empty or a handful. */
export class UnknownSet {
  readonly #words: Uint32Array;
  #count = 0;
  /** Shared by every memo entry made while the set stays as it is. */
  #snapshot: readonly number[] | null = null;

  constructor(size: number) {
    this.#words = new Uint32Array(Math.max(1, Math.ceil(size / 32)));
  }

  has(u: number): boolean {
    return (this.#words[u >>> 5]! & (1 << (u & 31))) !== 0;
  }

  add(u: number): void {
    this.#words[u >>> 5]! |= 1 << (u & 31);
    this.#count++;
    this.#snapshot = null;
  }

  remove(u: number): void {
    this.#words[u >>> 5]! &= ~(1 << (u & 31));
    this.#count--;
    this.#snapshot = null;
  }

  /** Whether every member of `words` (a snapshot; null for none) is in this set. */
  includes(words: readonly number[] | null): boolean {
    if (words === null) return true;
    for (let i = 0; i < words.length; i++) if ((words[i]! & ~this.#words[i]!) !== 0) return false;
    return true;
  }

  /** Whether this set is within `words` (a snapshot; null for none). */
  within(words: readonly number[] | null): boolean {
    if (this.#count === 0) return true;
    if (words === null) return false;
    for (let i = 0; i < words.length; i++) if ((this.#words[i]! & ~words[i]!) !== 0) return false;
    return true;
  }

  snapshot(): readonly number[] | null {
    if (this.#count === 0) return null;
    if (this.#snapshot === null) {
      const words: number[] = [];
      for (let i = 0; i < this.#words.length; i++) words.push(this.#words[i]!);
      this.#snapshot = words;
    }
    return this.#snapshot;
  }
}

type MemoEntry<State> = {
  readonly fullWords: number;
  readonly tail: readonly number[];
  readonly unknown: readonly number[] | null;
  readonly state: State;
  /** The next entry under the same hash. */
  next: MemoEntry<State> | undefined;
};

/**
 * Configurations already entered (Lowe's memoization, extended to optional operations): a
 * configuration is skipped when one with the same definite set and state and a subset of its
 * unknown operations was entered before, since anything that completes it completes that one.
 */
export class Memo<State, Input, Output> {
  readonly #model: Model<State, Input, Output>;
  readonly #maxEntries: number;
  readonly #table = new Map<number, MemoEntry<State>>();
  #size = 0;

  constructor(model: Model<State, Input, Output>, maxEntries: number) {
    this.#model = model;
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#size;
  }

  enter(defs: DefiniteSet, unknowns: UnknownSet, state: State): 'new' | 'seen' | 'full' {
    // Kept within 30 bits so V8 stores the key as a small integer.
    const key = (defs.hash ^ Math.imul(this.#model.hash(state), 0x9e3779b1)) & 0x3fffffff;
    let before: MemoEntry<State> | undefined;
    for (let entry = this.#table.get(key); entry !== undefined; entry = entry.next) {
      if (defs.equalsSnapshot(entry.fullWords, entry.tail) && this.#model.equal(entry.state, state)) {
        if (unknowns.includes(entry.unknown)) return 'seen';
        if (unknowns.within(entry.unknown)) {
          // The new configuration subsumes this entry: unlink it, keeping the chain an antichain.
          if (before === undefined) {
            if (entry.next === undefined) this.#table.delete(key);
            else this.#table.set(key, entry.next);
          } else {
            before.next = entry.next;
          }
          this.#size--;
          continue;
        }
      }
      before = entry;
    }
    if (this.#size >= this.#maxEntries) return 'full';
    const { fullWords, tail } = defs.snapshot();
    this.#table.set(key, {
      fullWords,
      tail,
      unknown: unknowns.snapshot(),
      state,
      next: this.#table.get(key),
    });
    this.#size++;
    return 'new';
  }
}

const noWords: readonly number[] = [];

/** MurmurHash3's finalizer: spreads a Weyl sequence into independent-looking 32-bit words. */
function fmix32(x: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
