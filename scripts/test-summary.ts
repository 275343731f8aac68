// Reads vitest's JSON report and prints the suite's closing line, "N passed, N failed".
// Typecheck and lint failures, and a vitest run that crashed without a report, count as
// failures too, so the line can never claim a green run that was not.
import { existsSync, readFileSync } from 'node:fs';

type Assertion = { fullName: string; status: string; failureMessages?: string[] };
type Report = {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: Array<{ name: string; status: string; message?: string; assertionResults: Assertion[] }>;
};

const [reportPath = '', vitestRc = '1', ...failedChecks] = process.argv.slice(2);
let passed = 0;
let failed = failedChecks.length;
for (const check of failedChecks) console.log(`FAILED check: ${check}`);

if (existsSync(reportPath)) {
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  // A file that failed to load has no assertions but is a failure.
  for (const file of report.testResults) {
    if (file.status === 'failed' && file.assertionResults.every((a) => a.status !== 'failed')) {
      failed += 1;
      console.log(`FAILED file: ${file.name}: ${file.message?.split('\n')[0] ?? 'did not run'}`);
    }
    for (const a of file.assertionResults) {
      if (a.status === 'failed') console.log(`FAILED: ${a.fullName}`);
      if (a.status === 'skipped' || a.status === 'pending' || a.status === 'todo')
        console.log(`skipped: ${a.fullName}`);
    }
  }
  if (report.numPendingTests + report.numTodoTests > 0) {
    console.log(
      `${report.numPendingTests + report.numTodoTests} skipped (each prints its reason in the log above)`,
    );
  }
  if (vitestRc !== '0' && report.numFailedTests === 0 && failed === failedChecks.length) {
    failed += 1;
    console.log(`FAILED: vitest exited with ${vitestRc} without a failing test (an error outside tests)`);
  }
} else {
  failed += 1;
  console.log(`FAILED: vitest wrote no report (exit ${vitestRc})`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
