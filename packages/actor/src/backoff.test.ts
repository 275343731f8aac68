import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from './backoff.ts';

describe('backoffDelayMs', () => {
  const policy = { initialMs: 10, maxMs: 100, multiplier: 2, jitter: 0 };
  it('grows geometrically and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 50].map((a) => backoffDelayMs(a, policy))).toEqual([
      10, 20, 40, 80, 100, 100, 100,
    ]);
  });
  it('draws jitter below the nominal delay', () => {
    const jittered = { ...policy, jitter: 0.5 };
    expect(backoffDelayMs(2, jittered, () => 0)).toBe(40);
    expect(backoffDelayMs(2, jittered, () => 0.999)).toBe(20);
  });
});
