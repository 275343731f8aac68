import { describe, expect, it } from 'vitest';
import { decodeSize, encodeSize, keysPerPage } from './paging.ts';

describe('paging', () => {
  it('fits a page to the largest object a resource has held, within its bounds', () => {
    const limits = { pageBudgetBytes: 100_000, maxKeysPerPage: 500 };
    expect(keysPerPage(limits, 1_000)).toBe(100);
    expect(keysPerPage(limits, 200_000)).toBe(1);
    expect(keysPerPage(limits, 0)).toBe(500);
    expect(keysPerPage(limits, 10, 7)).toBe(7);
  });

  it('records sizes so that byte order is numeric order (the txn compares bytes)', () => {
    const order = (a: number, b: number) =>
      Buffer.compare(Buffer.from(encodeSize(a)), Buffer.from(encodeSize(b)));
    expect(order(999, 1_000)).toBe(-1);
    expect(order(2_000_000, 1_999_999)).toBe(1);
    expect(decodeSize(encodeSize(123_456))).toBe(123_456);
  });
});
