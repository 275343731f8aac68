import { describe, expect, it } from 'vitest';
import { Inflights } from '../../src/core/inflights.ts';
import { Progress } from '../../src/core/progress.ts';

describe('Inflights', () => {
  it('is full at its message bound or its byte bound, and frees by acknowledged index', () => {
    const f = new Inflights(3, 100);
    f.add(5, 10);
    f.add(7, 10);
    expect(f.full()).toBe(false);
    f.add(9, 10);
    expect(f.full()).toBe(true);
    f.freeLE(7);
    expect([f.count, f.bytes]).toEqual([1, 10]);
    f.add(12, 95);
    expect(f.full()).toBe(true); // 105 bytes ≥ 100
    f.freeFirst();
    expect([f.count, f.bytes]).toEqual([1, 95]);
  });

  it('wraps around its ring and refuses out-of-order adds', () => {
    const f = new Inflights(2, 0);
    for (let i = 1; i <= 10; i++) {
      f.add(i, 1);
      f.freeLE(i - 1);
    }
    expect(f.count).toBe(1);
    expect(() => f.add(3, 1)).toThrow(/does not follow/);
  });
});

describe('Progress', () => {
  it('probe sends one append and waits; an acknowledgement moves it to replicate', () => {
    const p = new Progress(5, false, 4, 0);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(6, 2, 20);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(6)).toBe(true);
    p.becomeReplicate();
    expect([p.state, p.match, p.next]).toEqual(['replicate', 6, 7]);
  });

  it('replicate advances next optimistically and pauses on a full window', () => {
    const p = new Progress(1, false, 2, 0);
    p.becomeReplicate();
    p.sentEntries(3, 3, 30);
    p.sentEntries(5, 2, 20);
    expect([p.next, p.isPaused()]).toEqual([6, true]);
  });

  it('a rejection is acted on only if it answers the append in question', () => {
    const p = new Progress(10, false, 4, 0);
    expect(p.maybeDecrTo(5, 3)).toBe(false); // we probed at 9, not 5
    expect(p.maybeDecrTo(9, 3)).toBe(true);
    expect(p.next).toBe(4);
    p.match = 6;
    p.becomeReplicate();
    expect(p.maybeDecrTo(6, 0)).toBe(false); // at or below match: stale
    expect(p.maybeDecrTo(8, 0)).toBe(true);
    expect(p.next).toBe(7);
  });

  it('snapshot pauses everything until the transport reports, then probes after the snapshot', () => {
    const p = new Progress(3, false, 4, 0);
    p.becomeSnapshot(50);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeDecrTo(2, 0)).toBe(false);
    p.becomeProbe();
    expect([p.state, p.next]).toEqual(['probe', 51]);
  });
});
