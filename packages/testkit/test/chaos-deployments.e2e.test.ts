// The Kubernetes-level workload under faults: every host also runs an API server, a
// controller manager and a scheduler; Deployments are created, scaled, rolled and deleted
// through the API while fake nodes run their pods. No acknowledged write may be lost,
// resourceVersions only grow on every watch, watches have no gap, and once healed every
// Deployment converges with no pod beyond its replicas.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@flotilla/actor';
import { describe, expect, it } from 'vitest';
import { formatSummary } from '../src/chaos/report.ts';
import { runChaos, writeReport } from '../src/chaos/run.ts';
import type { BackendKind } from '../src/faults/backend.ts';
import { dockerAvailability } from '../src/faults/containers/docker.ts';
import { reportRootSkip } from '../src/netns/index.ts';
import { reportDir } from './chaos-scenarios.ts';

/**
 * Seconds of faults per run. Each run starts a control plane on every host and takes about
 * 40 s at 8 s of faults; CI keeps them short (see docs/testing.md, "In CI").
 * FLOTILLA_CHAOS_DEPLOYMENTS_SECONDS=60 runs longer.
 */
const chaosSeconds = Number(process.env.FLOTILLA_CHAOS_DEPLOYMENTS_SECONDS || 8);
if (!(chaosSeconds > 0))
  throw new RangeError(`FLOTILLA_CHAOS_DEPLOYMENTS_SECONDS must be a positive number of seconds`);

const root = reportRootSkip('chaos with Deployments');
const docker = root ? await dockerAvailability() : { ok: false as const, reason: 'not root' };
if (root && !docker.ok)
  process.stdout.write(`chaos with Deployments on containers: skipped, ${docker.reason}\n`);

const runs: readonly { backend: BackendKind; scenario: string }[] = [
  { backend: 'netns', scenario: 'leader-kill-loop' },
  { backend: 'netns', scenario: 'flapping-partitions' },
  { backend: 'containers', scenario: 'leader-kill-loop' },
];

describe.skipIf(!root)('Deployments through the API under faults', () => {
  for (const { backend, scenario } of runs) {
    it.skipIf(backend === 'containers' && !docker.ok)(
      `${scenario} on ${backend}: nothing lost, watches whole, every Deployment converges`,
      { timeout: chaosSeconds * 1_000 + 300_000 },
      async () => {
        mkdirSync(reportDir, { recursive: true });
        const log = createLogger({
          level: 'info',
          destination: join(reportDir, `${scenario}-${backend}-deployments.log`),
        });
        const report = await runChaos({
          scenario,
          backend,
          durationMs: chaosSeconds * 1_000,
          deployments: true,
          log,
        });
        const files = writeReport(report, reportDir);
        const summary = `${formatSummary(report)}\nreport: ${files.json}`;
        expect(report.violations, summary).toEqual([]);
        expect(report.checks.deploymentsConverged, summary).toBe(true);
        expect(report.checks.deploymentWritesOk, summary).toBeGreaterThan(5);
        expect(report.checks.deploymentWatchEvents, summary).toBeGreaterThan(0);
        expect(report.checks.podWatchEvents, summary).toBeGreaterThan(0);
        expect(report.faults.length, summary).toBeGreaterThan(0);
      },
    );
  }
});
