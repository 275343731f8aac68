import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One project per package for its unit tests (beside the code, run in parallel), and one
// per package for its multi-process suites (`test/*.e2e.test.ts`), which run one file at a
// time after every unit project: they start real processes and the machine has two cores
// (maxWorkers 2: at most two e2e files, of different projects, at once).
const packages = readdirSync(new URL('./packages', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

const setupFile = new URL('./packages/testkit/src/vitest-setup.ts', import.meta.url).pathname;

// Suites on the Docker backend form a lane of their own: they wait on the Docker daemon
// rather than on this machine's namespaces, and as one lane with the other suites of their
// package they made the longest chain of the run (about 18 of its 25 minutes).
const containersSuites = 'test/**/*containers*.e2e.test.ts';

function hasContainersSuites(pkg: string): boolean {
  const dir = new URL(`./packages/${pkg}/test/`, import.meta.url);
  return (
    existsSync(dir) && readdirSync(dir).some((f) => f.includes('containers') && f.endsWith('.e2e.test.ts'))
  );
}

function e2eProject(pkg: string, name: string, include: string[], exclude: string[]) {
  return {
    test: {
      name,
      root: `packages/${pkg}`,
      include,
      exclude: [...exclude, '**/node_modules/**'],
      fileParallelism: false,
      testTimeout: 180_000,
      hookTimeout: 60_000,
      sequence: { groupOrder: 1 },
      setupFiles: [setupFile],
    },
  };
}

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
            exclude: ['**/*.e2e.test.ts', '**/node_modules/**'],
            testTimeout: 30_000,
            hookTimeout: 30_000,
            sequence: { groupOrder: 0 },
            setupFiles: [setupFile],
          },
        },
        e2eProject(name, `${name}:e2e`, ['test/**/*.e2e.test.ts'], [containersSuites]),
        ...(hasContainersSuites(name)
          ? [e2eProject(name, `${name}:e2e-containers`, [containersSuites], [])]
          : []),
      ]),
    ],
  },
});
