import { describe, expect, it } from 'vitest';
import type { FaultRecord } from '../faults/fault-api.ts';
import { parseDuration } from './duration.ts';
import { buildReport, formatSummary, unavailabilityWindows } from './report.ts';
import { timelineSvg } from './svg.ts';
import type { OperationOutcome } from './workload.ts';

/** ok operations ending every 10 ms over [from, to). */
function steady(from: number, to: number, kind = 'put'): OperationOutcome[] {
  const out: OperationOutcome[] = [];
  for (let t = from; t < to; t += 10) out.push({ kind, result: 'ok', callMs: t - 5, endMs: t });
  return out;
}

describe('unavailability windows', () => {
  it('are the gaps without a successful operation longer than the threshold', () => {
    const outcomes = [
      ...steady(1_000, 2_000),
      { kind: 'put', result: 'unknown', callMs: 1_995, endMs: 4_000 } as const,
      ...steady(3_500, 5_000),
    ];
    expect(unavailabilityWindows(outcomes, 1_000, 5_000, 250)).toEqual([{ startMs: 1_990, endMs: 3_500 }]);
    // A gap at the start and one at the end count as well.
    expect(unavailabilityWindows(steady(2_000, 3_000), 1_000, 4_000, 250)).toEqual([
      { startMs: 1_000, endMs: 2_000 },
      { startMs: 2_990, endMs: 4_000 },
    ]);
  });
});

describe('the chaos report', () => {
  const t0 = 10_000;
  const faults: FaultRecord[] = [
    { kind: 'kill', members: ['m1'], detail: 'SIGKILL', startMs: t0 + 1_000, endMs: t0 + 4_000 },
    { kind: 'restart', members: ['m1'], detail: 'after SIGKILL', startMs: t0 + 4_000, endMs: t0 + 4_000 },
    { kind: 'kill', members: ['m3'], detail: 'SIGKILL', startMs: t0 + 6_000, endMs: t0 + 7_000 },
    { kind: 'isolate', members: ['m2', 'm1', 'm3'], detail: '[m2] <-/-> [m1,m3]', startMs: t0 + 8_000 },
  ];
  // Service stops 20 ms after the first kill (answers in flight) for 1.5 s; the second
  // kill (of a follower) stops nothing.
  const outcomes = [...steady(t0, t0 + 1_020), ...steady(t0 + 2_500, t0 + 10_000, 'get')];
  const report = buildReport({
    scenario: 'test',
    backend: 'netns',
    seed: 7,
    startedAt: new Date(0),
    requestedMs: 9_000,
    t0,
    t1: t0 + 10_000,
    healedAt: t0 + 9_000,
    outcomes,
    faults,
    leaders: [
      { atMs: t0 + 10, leader: 'm1', term: 2 },
      { atMs: t0 + 2_300, leader: 'm2', term: 3 },
    ],
    violations: [],
    notes: ['a note'],
    members: ['m1', 'm2', 'm3'],
    timers: { tickMs: 100, electionTicks: 10 },
    checks: { linearizability: 'ok' },
  });

  it('times each leader kill from the kill to the first success after it', () => {
    expect(report.leaderKills).toEqual({
      count: 1,
      meanUnavailableMs: 1_500,
      maxUnavailableMs: 1_500,
      meanNewLeaderMs: 1_300,
    });
    const [kill1, , kill3, isolate] = report.faults;
    expect(kill1).toMatchObject({
      kind: 'kill',
      leader: true,
      startMs: 1_000,
      endMs: 4_000,
      unavailableMs: 1_500,
    });
    expect(kill3).toMatchObject({ kind: 'kill', leader: false, unavailableMs: 0, recoverMs: 0 });
    expect(isolate).toMatchObject({ kind: 'isolate', leader: true, startMs: 8_000 });
    expect(isolate!.endMs).toBeUndefined();
  });

  it('counts operations, leader changes and windows, and buckets the timeline', () => {
    expect(report.passed).toBe(true);
    expect(report.operations.ok).toBe(outcomes.length);
    expect(report.operations.byKind.get!.ok).toBe(750);
    expect(report.leaderChanges).toBe(1);
    expect(report.unavailability.windows).toEqual([
      { startMs: 1_010, endMs: 2_500, lengthMs: 1_490, faults: ['kill m1'] },
    ]);
    expect(report.timeline.ok.length).toBe(20);
    expect(report.timeline.ok[0]).toBe(50);
    expect(report.timeline.ok[3]).toBe(0);
    expect(report.healedAtMs).toBe(9_000);
  });

  it('reads as a summary and draws as an SVG', () => {
    const text = formatSummary(report);
    expect(text).toContain('chaos test on netns: PASS (seed 7');
    expect(text).toContain('leader kills: 1, unavailable after each for 1.50 s on average');
    expect(text).toContain('a new leader was seen after 1.30 s on average');
    // The isolation is not undone yet: only the two kills have a time to recover.
    expect(text).toContain(
      'time to recover (mean, from the fault / after it was undone): kill of the leader ×1 1.50 s / 0.00 s, kill ×1 0.00 s / 0.00 s',
    );
    expect(text).toContain('note: a note');
    const svg = timelineSvg({ ...report, passed: false, violations: ['<broken> & "quoted"'] });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('FAIL (1 violation(s))');
    // One shaded period per fault, one bar per window, one marker per leader.
    expect(svg.match(/fill-opacity="0.16"/g)?.length).toBe(4);
    expect(svg.match(/height="8" fill="#d62728"/g)?.length).toBe(1);
    expect(svg.match(/<path d="M/g)?.length).toBe(2);
    expect(svg).not.toMatch(/<broken>/);
  });
});

describe('durations on the command line', () => {
  it('take seconds, minutes and milliseconds', () => {
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('12')).toBe(12_000);
    expect(() => parseDuration('soon')).toThrow(/bad duration/);
  });
});
