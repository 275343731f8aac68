import { assertNever } from '@flotilla/actor';
import { InvalidCheckOptionsError, InvalidHistoryError, InvalidModelError } from './errors.ts';
import { explainResult } from './explain.ts';
import { History, type Operation, validateHistory } from './history.ts';
import { type Model, type Partition, UNKNOWN } from './model.ts';
import { type SearchStats, searchPartition } from './search.ts';

export type CheckOptions = {
  /** Wall-clock budget for the whole history; partitions not finished by then are 'unknown'. */
  readonly timeoutMs?: number;
  /** Memo entries one partition may hold (~0.4–0.6 KiB each with the KV model); past it, 'unknown'. */
  readonly maxCacheEntries?: number;
  /** Milliseconds on a monotonic clock, for the budget; `performance.now` by default. */
  readonly now?: () => number;
};

export const defaultCheckTimeoutMs = 60_000;
/** At most ~300 MiB of memo; a correct 100,000-operation history needs a few tens of thousands. */
export const defaultMaxCacheEntries = 500_000;

export type Verdict = 'ok' | 'illegal' | 'unknown';

/** Why a partition was not decided: its time or its memory budget ran out. */
export type UndecidedReason = 'timeout' | 'cache-full';

/** How a history failed, with indices into the checked history. */
export type Violation<State> = {
  /** The longest linearizable prefix found, in linearization order. */
  readonly prefix: readonly number[];
  /** The model's state after that prefix. */
  readonly state: State;
  /** The definite operations that could come next there; each is impossible or a dead end. */
  readonly candidates: readonly number[];
  /** Operations of unknown outcome that could have taken effect there; none helps either. */
  readonly pendingUnknown: readonly number[];
  /** The first remaining operation to return: one of the candidates had to precede it. */
  readonly blocking: number;
};

type PartitionCommon = {
  readonly label: string;
  /** Operations in this partition (failed ones included). */
  readonly operations: number;
  readonly stats: SearchStats;
};

export type PartitionResult<State> =
  | (PartitionCommon & {
      readonly verdict: 'ok';
      /** A witness: the operations that took effect, in order (unknown ones left out never did). */
      readonly linearization: readonly number[];
    })
  | (PartitionCommon & { readonly verdict: 'illegal'; readonly violation: Violation<State> })
  | (PartitionCommon & { readonly verdict: 'unknown'; readonly reason: UndecidedReason });

export type CheckResult<State> = {
  /** 'illegal' if any partition is, else 'unknown' if any ran out of budget, else 'ok'. */
  readonly result: Verdict;
  readonly partitions: readonly PartitionResult<State>[];
  readonly elapsedMs: number;
  /** A readable account: for an illegal history, where and why it fails. */
  readonly explanation: string;
};

/**
 * Decide whether a concurrent history is linearizable with respect to `model`
 * (Herlihy & Wing, "Linearizability", 1990). Bad input throws and checks nothing.
 */
export function check<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: History<Input, Output> | readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<State> {
  const now = options.now ?? (() => performance.now());
  const timeoutMs = options.timeoutMs ?? defaultCheckTimeoutMs;
  const maxCacheEntries = options.maxCacheEntries ?? defaultMaxCacheEntries;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
    throw new InvalidCheckOptionsError(`timeoutMs must be a positive number, got ${String(timeoutMs)}`);
  }
  if (!Number.isSafeInteger(maxCacheEntries) || maxCacheEntries < 1) {
    throw new InvalidCheckOptionsError(
      `maxCacheEntries must be a positive integer, got ${String(maxCacheEntries)}`,
    );
  }
  const ops = history instanceof History ? history.operations() : history;
  validateHistory(ops);
  if (model.validate !== undefined) {
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const problem = model.validate(op.input, op.kind === 'ok' ? op.output : UNKNOWN);
      if (problem !== undefined) throw new InvalidHistoryError(problem, i);
    }
  }

  const startMs = now();
  const deadlineMs = startMs + timeoutMs;
  const partitions = partitionsOf(model, ops);
  const results: PartitionResult<State>[] = [];
  for (const partition of partitions) {
    const indices = partition.operations.filter((i) => ops[i]!.kind !== 'failed');
    const common = { label: partition.label, operations: partition.operations.length };
    if (now() > deadlineMs) {
      results.push({ ...common, verdict: 'unknown', reason: 'timeout', stats: noStats });
      continue;
    }
    const outcome = searchPartition(
      model,
      indices.map((i) => ops[i]!),
      { deadlineMs, now, maxCacheEntries },
    );
    const global = (local: number) => indices[local]!;
    switch (outcome.kind) {
      case 'ok':
        results.push({
          ...common,
          verdict: 'ok',
          linearization: outcome.linearization.map(global),
          stats: outcome.stats,
        });
        break;
      case 'illegal': {
        const { prefix, state, candidates, pendingUnknown, blocking } = outcome.stuck;
        results.push({
          ...common,
          verdict: 'illegal',
          violation: {
            prefix: prefix.map(global),
            state,
            candidates: candidates.map(global),
            pendingUnknown: pendingUnknown.map(global),
            blocking: global(blocking),
          },
          stats: outcome.stats,
        });
        break;
      }
      case 'unknown':
        results.push({ ...common, verdict: 'unknown', reason: outcome.reason, stats: outcome.stats });
        break;
      default:
        assertNever(outcome, 'search outcome');
    }
  }

  const result: Verdict = results.some((r) => r.verdict === 'illegal')
    ? 'illegal'
    : results.some((r) => r.verdict === 'unknown')
      ? 'unknown'
      : 'ok';
  const elapsedMs = now() - startMs;
  return { result, partitions: results, elapsedMs, explanation: explainResult(model, ops, result, results) };
}

const noStats: SearchStats = { steps: 0, cacheEntries: 0, elapsedMs: 0 };

function partitionsOf<State, Input, Output>(
  model: Model<State, Input, Output>,
  ops: readonly Operation<Input, Output>[],
): readonly Partition[] {
  if (model.partition === undefined) return [{ label: 'all', operations: ops.map((_, i) => i) }];
  const partitions = model.partition(ops);
  const seen = new Uint8Array(ops.length);
  for (const p of partitions) {
    for (const i of p.operations) {
      if (!Number.isInteger(i) || i < 0 || i >= ops.length) {
        throw new InvalidModelError(
          model.name,
          `partition ${p.label} names operation ${i}, not in the history`,
        );
      }
      if (seen[i] === 1) throw new InvalidModelError(model.name, `operation #${i} is in two partitions`);
      seen[i] = 1;
    }
  }
  const missing = seen.indexOf(0);
  if (missing >= 0) throw new InvalidModelError(model.name, `operation #${missing} is in no partition`);
  return partitions;
}
