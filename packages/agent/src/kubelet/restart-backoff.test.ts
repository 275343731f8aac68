import { describe, expect, test } from 'vitest';
import { defaultRestartBackoff, RestartBackoff } from './restart-backoff.ts';

describe('RestartBackoff (kubelet CrashLoopBackOff)', () => {
  test('first retry at once, then 10 s doubling to 5 min', () => {
    let now = 0;
    const b = new RestartBackoff(defaultRestartBackoff, () => now);
    const waits: number[] = [];
    // A container that crashes right after every start.
    for (let i = 0; i < 8; i++) {
      const finishedAt = now;
      if (b.isInBackOffSince('k', finishedAt)) {
        const retryAt = b.retryAtMs('k', finishedAt);
        expect(b.isInBackOffSince('k', finishedAt)).toBe(true);
        now = retryAt;
        expect(b.isInBackOffSince('k', finishedAt)).toBe(false);
      }
      waits.push(now - finishedAt);
      b.next('k', finishedAt);
      now += 1; // runs for a millisecond
    }
    expect(waits).toEqual([0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  });

  test('a container that ran 10 minutes starts over at the first delay', () => {
    let now = 0;
    const b = new RestartBackoff(defaultRestartBackoff, () => now);
    b.next('k', 0);
    now = 1_000;
    b.next('k', 1_000);
    expect(b.delayMs('k')).toBe(20_000);
    // Restarted at 1 s, crashes 10 min and a bit later.
    now = 1_000 + 600_001;
    expect(b.isInBackOffSince('k', now)).toBe(false);
    b.next('k', now);
    expect(b.delayMs('k')).toBe(10_000);
  });

  test('keys are independent; forget and gc drop entries', () => {
    let now = 0;
    const b = new RestartBackoff({ initialMs: 100, maxMs: 1_000, resetAfterMs: 2_000 }, () => now);
    b.next('pod-a/c1', 0);
    b.next('pod-a/c1', 0);
    b.next('pod-b/c1', 0);
    expect(b.delayMs('pod-a/c1')).toBe(200);
    expect(b.delayMs('pod-b/c1')).toBe(100);
    b.forget('pod-a/');
    expect(b.size).toBe(1);
    now = 5_000;
    b.gc();
    expect(b.size).toBe(0);
  });
});
