// Reads vitest's JSON reports and prints the suite's closing line, "N passed, N failed".
// Usage: node scripts/test-summary.ts REPORT=EXITCODE... [-- FAILED_CHECK...]
// (scripts/test runs two vitest processes: the chaos lane beside the rest.) Typecheck and
// lint failures, and a vitest run that crashed without a report, count as failures too, so
// the line can never claim a green run that was not.
import { existsSync, readFileSync } from 'node:fs';

type Assertion = { fullName: string; status: string; failureMessages?: string[] };
type Report = {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: Array<{ name: string; status: string; message?: string; assertionResults: Assertion[] }>;
};

export type Tally = { passed: number; failed: number; lines: string[] };

/** One vitest run's share of the tally: its report (if it wrote one) and its exit code. */
export function tallyRun(report: Report | undefined, exitCode: string, label: string): Tally {
  const lines: string[] = [];
  if (!report)
    return { passed: 0, failed: 1, lines: [`FAILED: ${label} wrote no report (exit ${exitCode})`] };
  let failed = report.numFailedTests;
  // A file that failed to load has no assertions but is a failure.
  for (const file of report.testResults) {
    if (file.status === 'failed' && file.assertionResults.every((a) => a.status !== 'failed')) {
      failed += 1;
      lines.push(`FAILED file: ${file.name}: ${file.message?.split('\n')[0] ?? 'did not run'}`);
    }
    for (const a of file.assertionResults) {
      if (a.status === 'failed') lines.push(`FAILED: ${a.fullName}`);
      if (a.status === 'skipped' || a.status === 'pending' || a.status === 'todo')
        lines.push(`skipped: ${a.fullName}`);
    }
  }
  const skipped = report.numPendingTests + report.numTodoTests;
  if (skipped > 0) lines.push(`${skipped} skipped in ${label} (each prints its reason in the log above)`);
  if (exitCode !== '0' && failed === 0) {
    failed += 1;
    lines.push(`FAILED: ${label} exited with ${exitCode} without a failing test (an error outside tests)`);
  }
  return { passed: report.numPassedTests, failed, lines };
}

function main(args: readonly string[]): number {
  const split = args.indexOf('--');
  const runs = split < 0 ? args : args.slice(0, split);
  const failedChecks = split < 0 ? [] : args.slice(split + 1).filter((c) => c !== '');
  let passed = 0;
  let failed = failedChecks.length;
  for (const check of failedChecks) console.log(`FAILED check: ${check}`);
  if (runs.length === 0) {
    console.log('FAILED: no vitest report given');
    failed += 1;
  }
  for (const run of runs) {
    const at = run.lastIndexOf('=');
    const path = at < 0 ? run : run.slice(0, at);
    const exitCode = at < 0 ? '1' : run.slice(at + 1);
    const report = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Report) : undefined;
    const t = tallyRun(report, exitCode, `vitest (${path})`);
    for (const line of t.lines) console.log(line);
    passed += t.passed;
    failed += t.failed;
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));
