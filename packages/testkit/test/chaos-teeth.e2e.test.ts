// The checks have teeth: a deliberately broken build (a failpoint switched on in every
// member from its start) must be caught by the scenarios meant to catch it. The same
// scenarios pass on a correct build (scenarios-netns.chaos.test.ts). Network namespaces only: the
// checkers are what is under test here, not the backend.
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../src/chaos/report.ts';
import { runChaos, writeReport } from '../src/chaos/run.ts';
import { reportRootSkip } from '../src/netns/index.ts';
import { reportDir } from './chaos-scenarios.ts';

/** Long enough for a few rounds of each scenario. */
const teethMs = 15_000;

describe.skipIf(!reportRootSkip('chaos teeth'))('deliberately broken builds are caught', () => {
  it('a leader that acknowledges puts before any WAL holds them loses acknowledged writes when it is killed', {
    timeout: 300_000,
  }, async () => {
    const report = await runChaos({
      scenario: 'leader-kill-loop',
      backend: 'netns',
      durationMs: teethMs,
      cluster: { failpoints: { 'store.ackBeforeSync': { action: { kind: 'enable' } } } },
    });
    writeReport(report, reportDir);
    const all = report.violations.join('\n');
    expect(report.passed, formatSummary(report)).toBe(false);
    expect(all).toMatch(/acknowledged write\(s\) missing from the store's history/);
  });

  it('a leader that serves reads without ReadIndex is caught serving stale reads when it wakes from a pause', {
    timeout: 300_000,
  }, async () => {
    const report = await runChaos({
      scenario: 'leader-pause',
      backend: 'netns',
      durationMs: teethMs,
      cluster: { failpoints: { 'store.readWithoutReadIndex': { action: { kind: 'enable' } } } },
    });
    writeReport(report, reportDir);
    expect(report.passed, formatSummary(report)).toBe(false);
    expect(report.violations.join('\n')).toMatch(/not linearizable|at its old term/);
  });

  it('a leader that serves reads without ReadIndex answers while it is cut off from the majority', {
    timeout: 300_000,
  }, async () => {
    const report = await runChaos({
      scenario: 'leader-isolated',
      backend: 'netns',
      durationMs: teethMs,
      cluster: { failpoints: { 'store.readWithoutReadIndex': { action: { kind: 'enable' } } } },
    });
    writeReport(report, reportDir);
    expect(report.passed, formatSummary(report)).toBe(false);
    expect(report.violations.join('\n')).toMatch(/answered \d+ linearizable operation\(s\) while isolated/);
  });
});
