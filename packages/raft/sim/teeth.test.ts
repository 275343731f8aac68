// The simulator has teeth: with each deliberately broken variant of the core switched on,
// it must report a safety violation within the stated number of seeds. Seeds run in order
// and the search stops at the first violation, so a passing run is usually short.
import { describe, expect, it } from 'vitest';
import type { BrokenVariant } from '../src/core/index.ts';
import { defaultSteps, runSimulation } from './simulation.ts';

/**
 * Within how many seeds each variant must be caught. Measured over seeds 1..1000 at the
 * default 5000 events: the commit rule is first caught at seed 46 and in 6 seeds (Figure 8
 * needs about five well-timed failures among three voters); the vote without the log check
 * at seed 2 and in 563; the vote before persisting at seed 13 and in 46; the old snapshot at
 * seed 25 and in 18. The bounds leave room for the seeds to shift as the code changes.
 */
const bounds: Record<BrokenVariant, number> = {
  commitOldTermByCounting: 4000,
  voteWithoutLogCheck: 100,
  voteBeforePersist: 600,
  applyOlderSnapshot: 1000,
};

describe('the simulator catches every deliberately broken variant', () => {
  for (const [variant, bound] of Object.entries(bounds) as [BrokenVariant, number][]) {
    it(`${variant}: a safety violation within ${bound} seeds`, { timeout: 170_000 }, () => {
      let caught: { seed: number; property: string } | null = null;
      for (let seed = 1; seed <= bound && caught === null; seed++) {
        const r = runSimulation({ seed, steps: defaultSteps, brokenVariant: variant });
        const v = r.violations.find((x) => x.property !== 'liveness');
        if (v !== undefined) caught = { seed, property: v.property };
      }
      expect(caught, `${variant} went unnoticed for ${bound} seeds`).not.toBeNull();
    });
  }
});
