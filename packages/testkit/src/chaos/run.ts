import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type Logger, silentLogger } from '@flotilla/actor';
import type { BackendKind } from '../faults/backend.ts';
import { ChaosCluster, type ChaosClusterOptions } from '../faults/chaos-cluster.ts';
import { DeploymentsWorkload, type DeploymentsWorkloadOptions } from './deployments-workload.ts';
import { KvChaosWorkload, type KvChaosWorkloadOptions } from './kv-chaos-workload.ts';
import { ClusterMonitor } from './monitor.ts';
import { buildReport, type ChaosReport } from './report.ts';
import { type Scenario, type ScenarioContext, scenarioNamed } from './scenarios.ts';
import { timelineSvg } from './svg.ts';
import type { ChaosWorkload } from './workload.ts';

export type ChaosRunOptions = {
  readonly scenario: Scenario | string;
  readonly backend?: BackendKind;
  /** How long the scenario injects faults (the run takes longer: setup, recovery, checks). */
  readonly durationMs: number;
  /** The fault schedule's seed (random when absent; the report gives it). */
  readonly seed?: number;
  /** Cluster settings over the scenario's (timers, failpoints active from every start, ...). */
  readonly cluster?: Partial<ChaosClusterOptions>;
  readonly workload?: KvChaosWorkloadOptions;
  /**
   * Also drive the Kubernetes-level workload (Deployments through the API servers, pods on
   * fake nodes): the cluster then runs a control plane on every host.
   */
  readonly deployments?: boolean | DeploymentsWorkloadOptions;
  /** Load kept running once every fault is undone, to see the cluster serve again. */
  readonly settleMs?: number;
  readonly log?: Logger;
};

/**
 * The NATS payload limit a control-plane run uses: room for the API's larger replies (lists
 * of Kubernetes objects). Raft's own publishes stay under any limit (the transport splits
 * a peer's batch to fit).
 */
export const controlPlaneNatsMaxPayloadBytes = 8 * 1024 * 1024;

/** A small, fast, seeded generator (mulberry32): the fault schedule of a seed replays. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Run one scenario: start a cluster, drive the workload through the scenario's faults for
 * `durationMs`, undo every fault, let the load run a little longer, stop it, and check
 * everything (the workload's checks and the scenario's own). Violations are in the
 * report, not thrown; an error of the harness itself (a cluster that will not start) is thrown.
 */
export async function runChaos(options: ChaosRunOptions): Promise<ChaosReport> {
  const scenario = typeof options.scenario === 'string' ? scenarioNamed(options.scenario) : options.scenario;
  const backend = options.backend ?? 'netns';
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const log = (options.log ?? silentLogger()).child({ component: 'chaos', scenario: scenario.name, seed });
  const clusterOptions: ChaosClusterOptions = {
    ...scenario.cluster,
    ...options.cluster,
    backend,
    log,
    ...(options.deployments && {
      controlPlane: true,
      natsMaxPayloadBytes: options.cluster?.natsMaxPayloadBytes ?? controlPlaneNatsMaxPayloadBytes,
    }),
  };
  log.info({ backend, durationMs: options.durationMs }, 'chaos run starting');
  const cluster = await ChaosCluster.start(clusterOptions);
  log.info({ clusterId: cluster.clusterId, members: cluster.members }, 'cluster up');
  const violations: string[] = [];
  const notes: string[] = [];
  if (clusterOptions.natsMaxPayloadBytes === controlPlaneNatsMaxPayloadBytes)
    notes.push(
      `NATS max_payload raised to ${controlPlaneNatsMaxPayloadBytes} bytes for the API's larger replies`,
    );
  const workload = new KvChaosWorkload(cluster, options.workload);
  const workloads: ChaosWorkload[] = [workload];
  if (options.deployments)
    workloads.push(
      new DeploymentsWorkload(cluster, typeof options.deployments === 'object' ? options.deployments : {}),
    );
  const monitor = new ClusterMonitor(cluster);
  try {
    monitor.start();
    const random = seededRandom(seed);
    const ctx: ScenarioContext = {
      cluster,
      workload,
      monitor,
      log,
      deadlineMs: Number.POSITIVE_INFINITY,
      random,
      violation: (text) => {
        log.warn({ violation: text }, 'violation');
        violations.push(text);
      },
      note: (text) => notes.push(text),
    };
    await scenario.prepare?.(ctx);
    const startedAt = new Date();
    const t0 = performance.now();
    for (const w of workloads) await w.start();
    // The faults get their whole duration however long the workloads took to start (the
    // Deployments workload waits for its nodes and first rollout: seconds on a loaded host).
    const deadlineMs = performance.now() + options.durationMs;
    try {
      await scenario.run({ ...ctx, deadlineMs });
    } catch (err) {
      violations.push(`the scenario failed: ${err instanceof Error ? err.message : String(err)}`);
      log.error({ err }, 'scenario failed');
    }
    log.info('scenario done; undoing every fault');
    const healedAt = await windDownStep(log, 'undo every fault', 120_000, undoEverything(cluster, log));
    await delay(options.settleMs ?? 2_000);
    await windDownStep(log, 'stop the load', 60_000, Promise.all(workloads.map((w) => w.stop())));
    const t1 = performance.now();
    await windDownStep(log, 'stop the monitor', 30_000, monitor.stop());
    await cluster.waitForLeader(30_000).catch(() => undefined);
    log.info(workload.history.counts(), 'load stopped; checking');
    const details: Record<string, number | string | boolean> = {};
    for (const w of workloads) {
      const checked = await w.check();
      log.info({ workload: w.name, violations: checked.violations.length, ...checked.details }, 'checked');
      violations.push(...checked.violations);
      Object.assign(details, checked.details);
    }
    return buildReport({
      scenario: scenario.name,
      backend,
      seed,
      startedAt,
      requestedMs: options.durationMs,
      t0,
      t1,
      healedAt,
      outcomes: workloads.flatMap((w) => w.outcomes()),
      faults: cluster.faults,
      leaders: monitor.leaders,
      violations,
      notes,
      members: cluster.members,
      timers: {
        tickMs: clusterOptions.tickMs ?? 100,
        electionTicks: clusterOptions.electionTicks ?? 10,
      },
      checks: details,
    });
  } finally {
    await monitor.stop();
    await Promise.all(workloads.map((w) => w.stop().catch(() => undefined)));
    await cluster.stop();
  }
}

/**
 * One step of a run's wind-down, bounded: a step that hangs ends the run with an error
 * naming it (and the log says which step was last entered), never a silent test timeout.
 */
async function windDownStep<T>(log: Logger, name: string, timeoutMs: number, work: Promise<T>): Promise<T> {
  log.info({ step: name }, 'wind-down step');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`chaos run: "${name}" did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Heal the network, thaw and restart whatever is down; returns when that was done. */
async function undoEverything(cluster: ChaosCluster, log: Logger): Promise<number> {
  await cluster.heal();
  for (const m of cluster.members) {
    log.info({ member: m }, 'resuming and clearing failpoints');
    await cluster.resume(m);
    await cluster.clearFailpoint(m).catch(() => undefined);
  }
  const healedAt = performance.now();
  for (const m of cluster.members) {
    if (!(await cluster.isRunning(m))) {
      log.info({ member: m }, 'restarting a member found down');
      await cluster.restart(m);
    }
  }
  return healedAt;
}

/** Write `<dir>/<scenario>-<backend>-<time>.json` and `.svg`; returns their paths. */
export function writeReport(report: ChaosReport, dir: string): { json: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${report.scenario}-${report.backend}-${report.startedAt.replace(/[:.]/g, '-')}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.svg`, timelineSvg(report));
  return { json: `${base}.json`, svg: `${base}.svg` };
}
