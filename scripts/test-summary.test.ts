import { describe, expect, it } from 'vitest';
import { tallyRun } from './test-summary.ts';

const file = (status: string, assertions: string[]) => ({
  name: '/x.test.ts',
  status,
  assertionResults: assertions.map((s, i) => ({ fullName: `t${i}`, status: s })),
});

describe('tallyRun', () => {
  it('counts a run that wrote no report as a failure', () => {
    expect(tallyRun(undefined, '1', 'chaos lane')).toMatchObject({ passed: 0, failed: 1 });
  });

  it('counts passes, failures and a file that failed to load', () => {
    const t = tallyRun(
      {
        numPassedTests: 2,
        numFailedTests: 1,
        numPendingTests: 1,
        numTodoTests: 0,
        testResults: [
          file('failed', ['passed', 'failed']),
          file('failed', []),
          file('passed', ['passed', 'skipped']),
        ],
      },
      '1',
      'main',
    );
    expect(t).toMatchObject({ passed: 2, failed: 2 });
    expect(t.lines).toContain('skipped: t1');
  });

  it('counts a non-zero exit with no failing test as one failure', () => {
    const t = tallyRun(
      { numPassedTests: 3, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, testResults: [] },
      '1',
      'main',
    );
    expect(t).toMatchObject({ passed: 3, failed: 1 });
  });
});
