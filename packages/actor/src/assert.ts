/** Thrown when an invariant does not hold: a bug, never an expected condition. */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(x: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(x)}`);
}
