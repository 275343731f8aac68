import { RaftInvariantError } from './errors.ts';

/** Stop loudly when an invariant does not hold, instead of corrupting the log quietly. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}

export function assertNever(x: never, what = 'value'): never {
  throw new RaftInvariantError(`unexpected ${what}: ${JSON.stringify(x)}`);
}
