import { assert } from '@flotilla/actor';
import type { Operation } from './history.ts';
import { DefiniteSet, Memo, UnknownSet } from './memo.ts';
import { type Model, type StepResult, UNKNOWN } from './model.ts';

/**
 * The search for one partition: Wing & Gong's depth-first search for a linearization
 * ("Testing and verifying concurrent objects", 1993), in the list-based form Lowe gives
 * ("Testing for linearizability", 2017), with his memoization of (linearized set, state).
 *
 * Operations of unknown outcome are optional: each may take effect at any point after its
 * call, or never, so the search succeeds once every definite operation is placed. The rules
 * below prune moves; each one only drops a move when another configuration the search does
 * enter can do at least as well (so a linearization, if one exists, is still found):
 * - memo: a configuration is covered by one entered with the same definite set and state and
 *   a subset of its unknown operations (anything completing the larger completes the smaller);
 * - unknown operations are tried only once every definite candidate has failed, and one that
 *   leaves the state unchanged is never placed;
 * - right after an unknown operation, a move that ends in the same state without it, or (after
 *   a blind write) one that leaves the state alone and was possible before the write, is left
 *   to the parent configuration, which tries it with one unknown operation fewer;
 * - a blind write is placed only if some candidate would see it (the same rule, checked first);
 * - a read-only operation possible in the current state is the only move tried there: it can
 *   be moved to the front of any linearization from here without changing what others see.
 * Without these, hundreds of pending unknown writes and 16-way concurrency blow the search up.
 */

export type SearchBudget = {
  readonly deadlineMs: number;
  readonly now: () => number;
  readonly maxCacheEntries: number;
};

export type SearchStats = {
  /** Calls of `model.step`. */
  readonly steps: number;
  /** Configurations in the memo at the end. */
  readonly cacheEntries: number;
  readonly elapsedMs: number;
};

/** Where the search got furthest before every way on failed; indices are into the partition. */
export type StuckPoint<State> = {
  readonly prefix: readonly number[];
  readonly state: State;
  /** Definite operations that could take effect next; none leads to a linearization. */
  readonly candidates: readonly number[];
  /** Operations of unknown outcome that could take effect there too; none helps either. */
  readonly pendingUnknown: readonly number[];
  /** The remaining definite operation that returns first: one candidate must precede its return. */
  readonly blocking: number;
};

export type SearchOutcome<State> =
  | { readonly kind: 'ok'; readonly linearization: readonly number[]; readonly stats: SearchStats }
  | { readonly kind: 'illegal'; readonly stuck: StuckPoint<State>; readonly stats: SearchStats }
  | { readonly kind: 'unknown'; readonly reason: 'timeout' | 'cache-full'; readonly stats: SearchStats };

/** How many loop turns pass between two looks at the clock. */
const clockCheckIntervalTurns = 1024;

/** `history` holds only operations that may have taken effect (no 'failed' ones). */
export function searchPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  budget: SearchBudget,
): SearchOutcome<State> {
  return new PartitionSearch(model, history, budget).run();
}

/** What trying one move did; 'dead' means the configuration has no way on at all. */
type Attempt = 'pushed' | 'skipped' | 'dead' | 'full' | 'done';

class PartitionSearch<State, Input, Output> {
  readonly #model: Model<State, Input, Output>;
  readonly #budget: SearchBudget;
  readonly #startMs: number;
  #steps = 0;

  // Definite operations d = 0..D-1 and unknown ones u = 0..U-1, each in call order.
  readonly #definite: number[] = [];
  readonly #unknown: number[] = [];
  readonly #defInput: Input[] = [];
  readonly #defOutput: Output[] = [];
  readonly #defReadOnly: Uint8Array;
  readonly #defBlind: Uint8Array;
  readonly #unkInput: Input[] = [];
  readonly #unkBlind: Uint8Array;

  // Dancing-links lists in event order: definite calls (entry 2d) and returns (2d+1) between
  // HEAD and TAIL; unknown calls between UHEAD and UTAIL. Lifting an operation unlinks it.
  readonly #next: Int32Array;
  readonly #prev: Int32Array;
  readonly #rank: Int32Array;
  readonly #unext: Int32Array;
  readonly #uprev: Int32Array;
  readonly #urank: Int32Array;
  readonly #HEAD: number;
  readonly #UHEAD: number;
  readonly #UTAIL: number;

  // The configuration: what is placed, the state it leads to, and how it got there.
  readonly #defs: DefiniteSet;
  readonly #unks: UnknownSet;
  readonly #memo: Memo<State, Input, Output>;
  #state: State;
  #placedDef = 0;
  #depth = 0;
  /** d >= 0 for a definite placement, ~u < 0 for an unknown one. */
  readonly #frameOp: Int32Array;
  readonly #frameState: (State | undefined)[];
  /** Where the parent's iteration resumes after this placement is undone. */
  readonly #framePosition: Int32Array;
  /** 1 when this placement was the parent's only move (a read-only operation possible there). */
  readonly #frameForced: Uint8Array;

  // Definite candidates of the configuration: calls before the first return, in return order.
  readonly #candidates: Int32Array;
  #candidateCount = 0;
  #firstReturnRank = 0;
  /** step(state, candidate i), computed once per configuration when a blind write needs it. */
  readonly #baseline: (StepResult<State> | undefined)[];
  #baselineValid = false;

  // Iteration over unknown candidates: the whole list, or the followers of a blind write.
  #uentry = 0;
  #followerList: Int32Array | null = null;
  #followerPosition = 0;
  /** For a blind write u: the unknown operations that change the state it leaves. */
  readonly #followers: (Int32Array | undefined)[];

  // The furthest configuration, by definite operations placed, kept for the report; the
  // prefix is copied incrementally (frames below `#bestUnchangedBelow` are still the same).
  #bestDef = 0;
  #bestDirty = true;
  readonly #bestPrefix: Int32Array;
  #bestLength = 0;
  #bestUnchangedBelow = 0;
  #bestState: State;
  #bestCandidates: number[] = [];
  #bestPendingUnknown: number[] = [];
  #bestBlocking = -1;

  constructor(
    model: Model<State, Input, Output>,
    history: readonly Operation<Input, Output>[],
    budget: SearchBudget,
  ) {
    this.#model = model;
    this.#budget = budget;
    this.#startMs = budget.now();
    for (let i = 0; i < history.length; i++) {
      const op = history[i]!;
      assert(op.kind !== 'failed', 'failed operations never reach the search');
      if (op.kind === 'ok') this.#definite.push(i);
      // An unknown operation that never changes the state cannot matter.
      else if (model.readOnly?.(op.input, UNKNOWN) !== true) this.#unknown.push(i);
    }
    const byCall = (a: number, b: number) => history[a]!.callMs - history[b]!.callMs || a - b;
    this.#definite.sort(byCall);
    this.#unknown.sort(byCall);
    for (const i of this.#definite) {
      const op = history[i]!;
      assert(op.kind === 'ok', 'a definite operation has an output');
      this.#defInput.push(op.input);
      this.#defOutput.push(op.output);
    }
    this.#defReadOnly = Uint8Array.from(this.#definite, (i) => {
      const op = history[i]!;
      return op.kind === 'ok' && model.readOnly?.(op.input, op.output) === true ? 1 : 0;
    });
    for (const i of this.#unknown) this.#unkInput.push(history[i]!.input);
    this.#defBlind = Uint8Array.from(this.#defInput, (input, d) =>
      model.blindWrite?.(input, this.#defOutput[d]!) ? 1 : 0,
    );
    this.#unkBlind = Uint8Array.from(this.#unkInput, (input) => (model.blindWrite?.(input, UNKNOWN) ? 1 : 0));
    const D = this.#definite.length;
    const U = this.#unknown.length;

    // Rank every event; at equal times calls come before returns, so operations that touch
    // at an instant count as concurrent. Event e: definite call 2d, return 2d+1; unknown 2D+u.
    const times = new Float64Array(2 * D + U);
    for (let d = 0; d < D; d++) {
      const op = history[this.#definite[d]!]!;
      assert(op.kind === 'ok', 'a definite operation has a return');
      times[2 * d] = op.callMs;
      times[2 * d + 1] = op.returnMs;
    }
    for (let u = 0; u < U; u++) times[2 * D + u] = history[this.#unknown[u]!]!.callMs;
    const isReturn = (e: number) => (e < 2 * D ? e & 1 : 0);
    const events = Int32Array.from({ length: 2 * D + U }, (_, e) => e);
    events.sort((a, b) => times[a]! - times[b]! || isReturn(a) - isReturn(b) || a - b);

    this.#HEAD = 2 * D;
    const TAIL = 2 * D + 1;
    this.#next = new Int32Array(2 * D + 2);
    this.#prev = new Int32Array(2 * D + 2);
    this.#rank = new Int32Array(2 * D);
    this.#UHEAD = U;
    this.#UTAIL = U + 1;
    this.#unext = new Int32Array(U + 2);
    this.#uprev = new Int32Array(U + 2);
    this.#urank = new Int32Array(U);
    let lastDef = this.#HEAD;
    let lastUnk = this.#UHEAD;
    for (let r = 0; r < events.length; r++) {
      const e = events[r]!;
      if (e < 2 * D) {
        this.#rank[e] = r;
        this.#next[lastDef] = e;
        this.#prev[e] = lastDef;
        lastDef = e;
      } else {
        const u = e - 2 * D;
        this.#urank[u] = r;
        this.#unext[lastUnk] = u;
        this.#uprev[u] = lastUnk;
        lastUnk = u;
      }
    }
    this.#next[lastDef] = TAIL;
    this.#prev[TAIL] = lastDef;
    this.#unext[lastUnk] = this.#UTAIL;
    this.#uprev[this.#UTAIL] = lastUnk;

    this.#defs = new DefiniteSet(D);
    this.#unks = new UnknownSet(U);
    this.#memo = new Memo(model, budget.maxCacheEntries);
    this.#state = model.init();
    this.#bestState = this.#state;
    const capacity = D + U + 1;
    this.#frameOp = new Int32Array(capacity);
    this.#frameState = new Array(capacity);
    this.#framePosition = new Int32Array(capacity);
    this.#frameForced = new Uint8Array(capacity);
    this.#bestPrefix = new Int32Array(capacity);
    this.#candidates = new Int32Array(D);
    this.#baseline = new Array(D);
    this.#followers = new Array(U);
  }

  run(): SearchOutcome<State> {
    if (this.#definite.length === 0) return { kind: 'ok', linearization: [], stats: this.#stats() };
    this.#memo.enter(this.#defs, this.#unks, this.#state);
    this.#loadCandidates();
    let phase: 'definite' | 'unknown' = 'definite';
    let position = 0;
    let turns = 0;
    for (;;) {
      if (++turns % clockCheckIntervalTurns === 0 && this.#budget.now() > this.#budget.deadlineMs) {
        return { kind: 'unknown', reason: 'timeout', stats: this.#stats() };
      }
      let attempt: Attempt;
      if (phase === 'definite') {
        if (position === this.#candidateCount) {
          // Every definite candidate failed here: an unknown operation may be what is missing.
          if (this.#bestDirty) this.#recordBest();
          this.#startUnknownPhase();
          phase = 'unknown';
          continue;
        }
        attempt = this.#tryDefinite(position);
        if (attempt === 'skipped') position++;
      } else {
        const u = this.#nextUnknown();
        attempt = u < 0 ? 'dead' : this.#tryUnknown(u);
      }
      switch (attempt) {
        case 'pushed':
          phase = 'definite';
          position = 0;
          break;
        case 'skipped':
          break;
        case 'dead': {
          const backtracked = this.#backtrack();
          if (backtracked === 'exhausted') return this.#illegal();
          phase = backtracked.phase;
          position = backtracked.position;
          break;
        }
        case 'full':
          return { kind: 'unknown', reason: 'cache-full', stats: this.#stats() };
        case 'done':
          return { kind: 'ok', linearization: this.#linearization(), stats: this.#stats() };
      }
    }
  }

  #tryDefinite(position: number): Attempt {
    const d = this.#candidates[position]!;
    // A blind write does the same with or without the unknown operation on top (see below).
    if (this.#defBlind[d] === 1 && this.#afterUnknown()) return 'skipped';
    const input = this.#defInput[d]!;
    const output = this.#defOutput[d]!;
    const result = this.#step(this.#state, input, output);
    if (!result.ok) return 'skipped';
    if (this.#afterUnknown()) {
      const without = this.#step(this.#frameState[this.#depth - 1] as State, input, output);
      if (without.ok && this.#model.equal(without.next, result.next)) return 'skipped';
      if (without.ok && this.#commutesWithTop() && this.#model.equal(result.next, this.#state))
        return 'skipped';
    }
    // A read-only operation possible here can go first in any linearization that exists, so
    // it is the only move worth making (candidates are ordered to try these first).
    const forced = this.#defReadOnly[d] === 1;
    this.#defs.add(d);
    const entered = this.#memo.enter(this.#defs, this.#unks, result.next);
    if (entered !== 'new') {
      this.#defs.remove(d);
      return entered === 'full' ? 'full' : forced ? 'dead' : 'skipped';
    }
    this.#push(d, result.next, position, forced);
    this.#liftDefinite(d);
    this.#placedDef++;
    if (this.#placedDef === this.#definite.length) return 'done';
    if (this.#placedDef > this.#bestDef) {
      this.#bestDef = this.#placedDef;
      this.#bestDirty = true;
    }
    this.#loadCandidates();
    return 'pushed';
  }

  #tryUnknown(u: number): Attempt {
    const input = this.#unkInput[u]!;
    const result = this.#step(this.#state, input, UNKNOWN);
    // An optional operation that changes nothing here is as good as left out.
    if (!result.ok || this.#model.equal(result.next, this.#state)) return 'skipped';
    if (this.#afterUnknown()) {
      const without = this.#step(this.#frameState[this.#depth - 1] as State, input, UNKNOWN);
      if (without.ok && this.#model.equal(without.next, result.next)) return 'skipped';
    } else if (this.#unkBlind[u] === 1 && !this.#blindWriteMatters(u, result.next)) {
      return 'skipped';
    }
    this.#unks.add(u);
    const entered = this.#memo.enter(this.#defs, this.#unks, result.next);
    if (entered !== 'new') {
      this.#unks.remove(u);
      return entered === 'full' ? 'full' : 'skipped';
    }
    this.#push(~u, result.next, this.#followerList === null ? -1 : this.#followerPosition, false);
    this.#unext[this.#uprev[u]!] = this.#unext[u]!;
    this.#uprev[this.#unext[u]!] = this.#uprev[u]!;
    this.#loadCandidates();
    return 'pushed';
  }

  /**
   * Whether placing blind write u (leaving state `after`) here could lead anywhere: some
   * candidate must see it, or it would be a dead end one level down. Checked before entering
   * it, because at most configurations almost no unknown write matters.
   */
  #blindWriteMatters(u: number, after: State): boolean {
    if (!this.#baselineValid) {
      for (let i = 0; i < this.#candidateCount; i++) {
        const d = this.#candidates[i]!;
        if (this.#defBlind[d] === 0)
          this.#baseline[i] = this.#step(this.#state, this.#defInput[d]!, this.#defOutput[d]!);
      }
      this.#baselineValid = true;
    }
    for (let i = 0; i < this.#candidateCount; i++) {
      const d = this.#candidates[i]!;
      // A blind write ends the same wherever it starts: it cannot see u.
      if (this.#defBlind[d] === 1) continue;
      const result = this.#step(after, this.#defInput[d]!, this.#defOutput[d]!);
      if (!result.ok) continue;
      const baseline = this.#baseline[i]!;
      if (!baseline.ok) return true;
      // Seen only if it ends elsewhere than without u, and elsewhere than u placed after it.
      if (!this.#model.equal(baseline.next, result.next) && !this.#model.equal(result.next, after))
        return true;
    }
    for (const y of this.#followersOf(u, after)) {
      if (this.#urank[y]! >= this.#firstReturnRank) break;
      if (!this.#unks.has(y)) return true;
    }
    return false;
  }

  /** The unknown operations that change the state blind write u leaves, whatever came before. */
  #followersOf(u: number, after: State): Int32Array {
    const cached = this.#followers[u];
    if (cached !== undefined) return cached;
    const followers: number[] = [];
    for (let y = 0; y < this.#unknown.length; y++) {
      // A blind write never depends on what came before it.
      if (y === u || this.#unkBlind[y] === 1) continue;
      const result = this.#step(after, this.#unkInput[y]!, UNKNOWN);
      if (result.ok && !this.#model.equal(result.next, after)) followers.push(y);
    }
    const list = Int32Array.from(followers);
    this.#followers[u] = list;
    return list;
  }

  #startUnknownPhase(): void {
    const top = this.#depth > 0 ? this.#frameOp[this.#depth - 1]! : 0;
    if (top < 0 && this.#unkBlind[~top] === 1) {
      this.#followerList = this.#followersOf(~top, this.#state);
      this.#followerPosition = 0;
    } else {
      this.#followerList = null;
      this.#uentry = this.#unext[this.#UHEAD]!;
    }
  }

  /** The next unknown candidate of this configuration, or -1 when there is none. */
  #nextUnknown(): number {
    const list = this.#followerList;
    if (list !== null) {
      while (this.#followerPosition < list.length) {
        const y = list[this.#followerPosition++]!;
        if (this.#urank[y]! >= this.#firstReturnRank) return -1;
        if (!this.#unks.has(y)) return y;
      }
      return -1;
    }
    const afterUnknown = this.#afterUnknown();
    while (this.#uentry !== this.#UTAIL) {
      const u = this.#uentry;
      if (this.#urank[u]! >= this.#firstReturnRank) return -1;
      this.#uentry = this.#unext[u]!;
      // A blind write cannot see the unknown operation just placed.
      if (afterUnknown && this.#unkBlind[u] === 1) continue;
      return u;
    }
    return -1;
  }

  /** Undo placements up to a configuration with moves left; says where its iteration resumes. */
  #backtrack(): 'exhausted' | { readonly phase: 'definite' | 'unknown'; readonly position: number } {
    if (this.#bestDirty) this.#recordBest();
    do {
      if (this.#depth === 0) return 'exhausted';
      this.#pop();
    } while (this.#frameForced[this.#depth] === 1);
    const op = this.#frameOp[this.#depth]!;
    const position = this.#framePosition[this.#depth]!;
    this.#loadCandidates();
    if (op >= 0) return { phase: 'definite', position: position + 1 };
    this.#startUnknownPhase();
    if (this.#followerList === null) this.#uentry = this.#unext[~op]!;
    else this.#followerPosition = position;
    return { phase: 'unknown', position: 0 };
  }

  #pop(): void {
    this.#depth--;
    if (this.#depth < this.#bestUnchangedBelow) this.#bestUnchangedBelow = this.#depth;
    const op = this.#frameOp[this.#depth]!;
    this.#state = this.#frameState[this.#depth] as State;
    this.#frameState[this.#depth] = undefined;
    if (op >= 0) {
      const c = 2 * op;
      const r = c + 1;
      this.#next[this.#prev[r]!] = r;
      this.#prev[this.#next[r]!] = r;
      this.#next[this.#prev[c]!] = c;
      this.#prev[this.#next[c]!] = c;
      this.#defs.remove(op);
      this.#placedDef--;
    } else {
      const u = ~op;
      this.#unext[this.#uprev[u]!] = u;
      this.#uprev[this.#unext[u]!] = u;
      this.#unks.remove(u);
    }
  }

  #push(op: number, next: State, position: number, forced: boolean): void {
    this.#frameOp[this.#depth] = op;
    this.#frameForced[this.#depth] = forced ? 1 : 0;
    this.#frameState[this.#depth] = this.#state;
    this.#framePosition[this.#depth] = position;
    this.#depth++;
    this.#state = next;
  }

  #liftDefinite(d: number): void {
    const c = 2 * d;
    const r = c + 1;
    const next = this.#next;
    const prev = this.#prev;
    next[prev[c]!] = next[c]!;
    prev[next[c]!] = prev[c]!;
    next[prev[r]!] = next[r]!;
    prev[next[r]!] = prev[r]!;
  }

  /**
   * The definite candidates: calls before the first return, tried in order of return, since
   * the operation that must finish first most often took effect first. The order only changes
   * how soon a linearization is found.
   */
  #loadCandidates(): void {
    const candidates = this.#candidates;
    const rank = this.#rank;
    let count = 0;
    let e = this.#next[this.#HEAD]!;
    // Read-only operations first, then by return.
    const key = (d: number) => rank[2 * d + 1]! + (this.#defReadOnly[d] === 1 ? 0 : 0x40000000);
    for (; (e & 1) === 0; e = this.#next[e]!) {
      const d = e >> 1;
      let i = count++;
      while (i > 0 && key(candidates[i - 1]!) > key(d)) {
        candidates[i] = candidates[i - 1]!;
        i--;
      }
      candidates[i] = d;
    }
    // The tail sentinel is odd too; it is reached only when every definite operation is placed.
    this.#candidateCount = count;
    this.#firstReturnRank = e < 2 * this.#definite.length ? rank[e]! : Number.MAX_SAFE_INTEGER;
    this.#baselineValid = false;
  }

  /**
   * Whether a definite move here may be skipped when it leaves the state unchanged and was
   * possible without the blind write on top: placing it first and the write after reaches this
   * same configuration, and the parent (which tried every move) had that order to offer.
   */
  #commutesWithTop(): boolean {
    const depth = this.#depth;
    const top = this.#frameOp[depth - 1]!;
    return top < 0 && this.#unkBlind[~top] === 1 && (depth === 1 || this.#frameOp[depth - 2]! >= 0);
  }

  #afterUnknown(): boolean {
    return this.#depth > 0 && this.#frameOp[this.#depth - 1]! < 0;
  }

  #step(state: State, input: Input, output: Output | typeof UNKNOWN): StepResult<State> {
    this.#steps++;
    return this.#model.step(state, input, output);
  }

  #recordBest(): void {
    for (let i = this.#bestUnchangedBelow; i < this.#depth; i++) this.#bestPrefix[i] = this.#frameOp[i]!;
    this.#bestLength = this.#depth;
    this.#bestUnchangedBelow = this.#depth;
    this.#bestState = this.#state;
    const candidates: number[] = [];
    for (let i = 0; i < this.#candidateCount; i++) candidates.push(this.#localOf(this.#candidates[i]!));
    const pending: number[] = [];
    for (let u = this.#unext[this.#UHEAD]!; u !== this.#UTAIL; u = this.#unext[u]!) {
      if (this.#urank[u]! >= this.#firstReturnRank) break;
      pending.push(this.#localOf(~u));
    }
    this.#bestCandidates = candidates;
    this.#bestPendingUnknown = pending;
    let e = this.#next[this.#HEAD]!;
    while ((e & 1) === 0) e = this.#next[e]!;
    this.#bestBlocking = this.#localOf(e >> 1);
    this.#bestDirty = false;
  }

  #illegal(): SearchOutcome<State> {
    const prefix: number[] = [];
    for (let i = 0; i < this.#bestLength; i++) prefix.push(this.#localOf(this.#bestPrefix[i]!));
    return {
      kind: 'illegal',
      stuck: {
        prefix,
        state: this.#bestState,
        candidates: this.#bestCandidates,
        pendingUnknown: this.#bestPendingUnknown,
        blocking: this.#bestBlocking,
      },
      stats: this.#stats(),
    };
  }

  #linearization(): number[] {
    const linearization: number[] = [];
    for (let i = 0; i < this.#depth; i++) linearization.push(this.#localOf(this.#frameOp[i]!));
    return linearization;
  }

  #localOf(op: number): number {
    return op >= 0 ? this.#definite[op]! : this.#unknown[~op]!;
  }

  #stats(): SearchStats {
    return {
      steps: this.#steps,
      cacheEntries: this.#memo.size,
      elapsedMs: this.#budget.now() - this.#startMs,
    };
  }
}
