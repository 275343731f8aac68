import { readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One project per package for its unit tests (beside the code, run in parallel), and one
// per package for its multi-process suites (`test/*.e2e.test.ts`), which run after every
// unit project, one file at a time across all of them (vitest runs projects limited to one
// worker one after another): they start real processes and the machine has two cores.
// A third, `<package>:chaos` (`test/*.chaos.test.ts`), holds the long fault scenarios:
// scripts/test runs it in a second vitest process beside all the rest (see docs/testing.md);
// a plain `vitest run` runs it last.
const packages = readdirSync(new URL('./packages', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

const setupFile = new URL('./packages/testkit/src/vitest-setup.ts', import.meta.url).pathname;

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        test: { name: 'repo', root: '.', include: ['scripts/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      ...packages.flatMap((name) => [
        {
          test: {
            name: `${name}:unit`,
            root: `packages/${name}`,
            include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'sim/**/*.test.ts'],
            exclude: ['**/*.e2e.test.ts', '**/*.chaos.test.ts', '**/node_modules/**'],
            testTimeout: 30_000,
            hookTimeout: 30_000,
            sequence: { groupOrder: 0 },
            setupFiles: [setupFile],
          },
        },
        {
          test: {
            name: `${name}:e2e`,
            root: `packages/${name}`,
            include: ['test/**/*.e2e.test.ts'],
            fileParallelism: false,
            testTimeout: 180_000,
            hookTimeout: 60_000,
            sequence: { groupOrder: 1 },
            setupFiles: [setupFile],
          },
        },
        {
          test: {
            name: `${name}:chaos`,
            root: `packages/${name}`,
            include: ['test/**/*.chaos.test.ts'],
            // The two backends' files side by side: each scenario is mostly waiting on its
            // faults, about 0.4 of a core under the paced load.
            fileParallelism: true,
            testTimeout: 600_000,
            hookTimeout: 60_000,
            sequence: { groupOrder: 2 },
            setupFiles: [setupFile],
          },
        },
      ]),
    ],
  },
});
