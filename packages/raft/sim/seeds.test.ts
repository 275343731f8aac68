// CI's simulator run: the production core under 2,000 seeds with every fault on, checked
// after every event (safety) and once the faults stop (liveness). A failure names the seed;
// `pnpm sim --seed N` replays it exactly with a readable trace.
import { describe, expect, it } from 'vitest';
import { defaultSteps, livenessBoundTicks, runSimulation } from './simulation.ts';

const seeds = 2000;
const perTest = 100;

describe(`the simulator: ${seeds} seeds × ${defaultSteps} events with faults, then liveness within ${livenessBoundTicks} ticks`, () => {
  for (let from = 1; from <= seeds; from += perTest) {
    const to = from + perTest - 1;
    it(`seeds ${from}..${to}: no violation`, () => {
      const failures: string[] = [];
      for (let seed = from; seed <= to; seed++) {
        const r = runSimulation({ seed, steps: defaultSteps });
        if (r.violations.length > 0) {
          const v = r.violations[0]!;
          failures.push(`seed ${seed}: ${v.property}: ${v.detail} (replay: pnpm sim --seed ${seed})`);
        }
      }
      expect(failures).toEqual([]);
    });
  }
});
