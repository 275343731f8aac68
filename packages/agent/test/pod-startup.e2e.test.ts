import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { container, isRoot, reportRootSkip, startTestNode, type TestNode } from './harness.ts';

reportRootSkip('agent pod start latency e2e');

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second here).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The nearest-rank percentile of `sorted` (ascending). */
function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

const sequentialPods = 10;
const steadyPods = 20;
const steadyIntervalMs = 500;
const burstPods = 20;

// Pod start latency on real containerd: from the moment the agent is given a pod to the
// first status that says Running (image already present, as Kubernetes' SLO excludes
// pulls). Printed for the report; the assertions only bound it generously.
describe.skipIf(!isRoot)('pod start latency', () => {
  let t: TestNode;

  beforeAll(async () => {
    t = await startTestNode('latency');
    t.api.source.synced();
  });

  afterAll(async () => {
    await t?.node.destroy();
  });

  /** `intervalMs` < 0: each pod is created once the one before it is Running. */
  async function measure(prefix: string, count: number, intervalMs: number): Promise<number[]> {
    const createdAt = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const name = `${prefix}-${i}`;
      createdAt.set(name, Date.now());
      t.api.create(name, {
        terminationGracePeriodSeconds: 1,
        containers: [container('c', 'exec sleep 3600')],
      });
      if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
      if (intervalMs < 0) await t.api.waitFor(name, 'Running', (s) => s.phase === 'Running', 120_000);
    }
    const latencies: number[] = [];
    for (const [name, created] of createdAt) {
      await t.api.waitFor(name, 'Running', (s) => s.phase === 'Running', 120_000);
      const first = t.api.reports.find((r) => r.name === name && r.status.phase === 'Running')!;
      latencies.push(first.atMs - created);
    }
    return latencies.sort((a, b) => a - b);
  }

  test(`${sequentialPods} pods one after another, ${steadyPods} at ${1000 / steadyIntervalMs}/s, ${burstPods} at once: every pod reaches Running`, async () => {
    const sequential = await measure('seq', sequentialPods, -1);
    const containerd = t.node.containerd!.pid!;
    const cpu0 = process.cpuUsage();
    const containerd0 = processCpuMs(containerd);
    const steady = await measure('steady', steadyPods, steadyIntervalMs);
    const cpu1 = process.cpuUsage(cpu0);
    const agentCpuPerPodMs = Math.round((cpu1.user + cpu1.system) / 1000 / steadyPods);
    const containerdCpuPerPodMs = Math.round((processCpuMs(containerd) - containerd0) / steadyPods);
    const burst = await measure('burst', burstPods, 0);
    const line = (name: string, l: number[]) =>
      `${name}: n=${l.length} p50=${percentile(l, 50)}ms p90=${percentile(l, 90)}ms p99=${percentile(l, 99)}ms max=${l.at(-1)}ms`;
    process.stdout.write(
      `pod start latency (desired → Running), ${line('one at a time', sequential)}; ${line('steady', steady)}; ` +
        `${line('burst', burst)}; ` +
        `CPU per pod: agent ${agentCpuPerPodMs}ms, containerd ${containerdCpuPerPodMs}ms; ` +
        `load average ${loadavg()[0]?.toFixed(1)}\n`,
    );
    expect(sequential.length).toBe(sequentialPods);
    expect(steady.length).toBe(steadyPods);
    expect(burst.length).toBe(burstPods);
    // Generous bounds: Kubernetes' SLO is p99 ≤ 5 s; this only catches a pod left behind.
    expect(percentile(steady, 99)).toBeLessThan(30_000);
    expect(percentile(burst, 99)).toBeLessThan(60_000);
  });
});
