import { StatusError } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { deleteOptionsOf, dryRunOf, includeObjectOf, isWatch, listOptionsOf, logOptionsOf } from './query.ts';

const code = (run: () => unknown): number => {
  try {
    run();
    return 200;
  } catch (err) {
    return err instanceof StatusError ? err.status.code : -1;
  }
};

describe('query parameters', () => {
  it('read the options of each verb', () => {
    expect(listOptionsOf({ limit: '10', labelSelector: 'a=b', continue: 'x' })).toMatchObject({
      limit: 10,
      labelSelector: 'a=b',
      continue: 'x',
    });
    expect(isWatch({ watch: 'true' })).toBe(true);
    expect(isWatch({ watch: '1' })).toBe(true);
    expect(isWatch({})).toBe(false);
    expect(dryRunOf({ dryRun: 'All' })).toBe(true);
    expect(logOptionsOf({ follow: 'true', tailLines: '5', container: 'c' })).toMatchObject({
      follow: true,
      tailLines: 5,
      container: 'c',
    });
    // The query overrides the body, as kubectl may use either.
    expect(
      deleteOptionsOf(
        { gracePeriodSeconds: '0', propagationPolicy: 'Foreground' },
        { gracePeriodSeconds: 30 },
      ),
    ).toEqual({ gracePeriodSeconds: 0, propagationPolicy: 'Foreground' });
    expect(listOptionsOf({ limit: ['3', '9'] }).limit).toBe(3);
  });

  it('refuse malformed values with 400', () => {
    expect(code(() => listOptionsOf({ limit: 'ten' }))).toBe(400);
    expect(code(() => listOptionsOf({ limit: '-1' }))).toBe(400);
    expect(code(() => isWatch({ watch: 'maybe' }))).toBe(400);
    expect(code(() => dryRunOf({ dryRun: 'Some' }))).toBe(400);
    expect(code(() => includeObjectOf({ includeObject: 'Everything' }))).toBe(400);
  });
});
