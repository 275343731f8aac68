// Every chaos scenario against the store, the same on every backend: the run must find no
// violation (linearizable, gap-free ordered watches, equal hashes, no acknowledged write lost,
// the scenario's own checks) and must have done what it claims (faults really happened).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@flotilla/actor';
import { expect, it } from 'vitest';
import type { ChaosReport } from '../src/chaos/report.ts';
import { formatSummary } from '../src/chaos/report.ts';
import { runChaos, writeReport } from '../src/chaos/run.ts';
import { scenarios } from '../src/chaos/scenarios.ts';
import type { BackendKind } from '../src/faults/backend.ts';

/**
 * Seconds of faults per scenario: a minute, in CI too (FLOTILLA_CHAOS_SECONDS=8 for a quick
 * pass). Several scenarios go through their variants round by round, and only a minute
 * reaches the later rounds (docs/testing.md, "In CI").
 */
export const chaosSeconds = positiveNumber('FLOTILLA_CHAOS_SECONDS', 60);
/**
 * The register/CAS load in operations per second. CI runs these scenarios beside the rest
 * of the suite on two cores, so it keeps the load light (a cluster under it costs about 0.4
 * of a core, against 1.5 unpaced); FLOTILLA_CHAOS_RATE=max runs it as fast as it goes, as
 * `pnpm chaos` does. The broken-build runs (chaos-teeth) are never paced.
 */
export const chaosRate =
  process.env.FLOTILLA_CHAOS_RATE === 'max' ? undefined : positiveNumber('FLOTILLA_CHAOS_RATE', 50);

function positiveNumber(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!(n > 0)) throw new RangeError(`${name} must be a positive number, not "${text}"`);
  return n;
}
/** Reports land where scripts/test keeps its output, for a look after a failure. */
export const reportDir = fileURLToPath(new URL('../../../.test-output/chaos', import.meta.url));

/** What each scenario must have done for its pass to mean anything. */
const didWhatItClaims: Record<string, (r: ChaosReport) => void> = {
  'leader-kill-loop': (r) => expect(r.leaderKills.count).toBeGreaterThanOrEqual(1),
  'minority-partition': (r) =>
    expect(r.faults.filter((f) => f.kind === 'isolate').length).toBeGreaterThanOrEqual(1),
  'leader-isolated': (r) =>
    expect(r.faults.filter((f) => f.kind === 'isolate' && f.leader).length).toBeGreaterThanOrEqual(1),
  'flapping-partitions': (r) =>
    expect(
      r.faults.filter((f) => f.kind === 'partition' || f.kind === 'isolate').length,
    ).toBeGreaterThanOrEqual(3),
  'leader-pause': (r) => {
    expect(r.faults.filter((f) => f.kind === 'pause' && f.leader).length).toBeGreaterThanOrEqual(1);
    expect(r.leaderChanges).toBeGreaterThanOrEqual(1);
  },
  'snapshot-transfer-kill': (r) => {
    expect(r.faults.filter((f) => f.kind === 'failpoint').length).toBeGreaterThanOrEqual(1);
    expect(r.faults.filter((f) => f.kind === 'kill').length).toBeGreaterThanOrEqual(2);
  },
  'rolling-restart': (r) =>
    expect(r.faults.filter((f) => f.kind === 'restart').length).toBeGreaterThanOrEqual(r.members.length),
  'replace-member': (r) =>
    expect(r.faults.filter((f) => f.kind === 'membership').length).toBeGreaterThanOrEqual(1),
  'lose-quorum': (r) => expect(r.faults.filter((f) => f.kind === 'restore').length).toBeGreaterThanOrEqual(1),
};

export function chaosScenarioTests(backend: BackendKind): void {
  for (const scenario of scenarios) {
    const pace = chaosRate === undefined ? 'unpaced' : `${chaosRate} ops/s`;
    it(`${scenario.name}: no violation in ${chaosSeconds} s (${pace})`, {
      timeout: chaosSeconds * 1_000 + 240_000,
    }, async () => {
      // The harness's own log, for a run that fails or hangs before it can write its report.
      mkdirSync(reportDir, { recursive: true });
      const log = createLogger({
        level: 'info',
        destination: join(reportDir, `${scenario.name}-${backend}.log`),
      });
      const report = await runChaos({
        scenario,
        backend,
        durationMs: chaosSeconds * 1_000,
        log,
        ...(chaosRate !== undefined && { workload: { rate: chaosRate } }),
      });
      const files = writeReport(report, reportDir);
      const summary = `${formatSummary(report)}\nreport: ${files.json}`;
      expect(report.violations, summary).toEqual([]);
      // Real work was done: at the paced 50 ops/s an 8 s lose-quorum run, which spends most
      // of it without a quorum, serves about 145.
      expect(report.operations.ok, summary).toBeGreaterThan(50);
      didWhatItClaims[scenario.name]?.(report);
    });
  }
}
