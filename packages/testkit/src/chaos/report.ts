import type { NodeId } from '@flotilla/raft';
import type { BackendKind } from '../faults/backend.ts';
import type { FaultKind, FaultRecord } from '../faults/fault-api.ts';
import type { LeaderSample } from './monitor.ts';
import type { OperationOutcome } from './workload.ts';

/** A stretch with no successful operation at all, longer than the report's threshold. */
export type UnavailabilityWindow = {
  readonly startMs: number;
  readonly endMs: number;
  readonly lengthMs: number;
  /** The faults that began or ended within it (or just before it began). */
  readonly faults: readonly string[];
};

export type FaultSummary = {
  readonly kind: FaultKind;
  readonly members: readonly NodeId[];
  readonly detail: string;
  readonly startMs: number;
  readonly endMs?: number;
  /** The member was the leader when it was killed, paused or cut off. */
  readonly leader: boolean;
  /** How long no operation succeeded from the fault's start (0: none stopped). */
  readonly unavailableMs: number;
  /** Once undone, how long until operations succeeded again (0: at once). */
  readonly recoverMs?: number;
  /** For a fault to the leader: when the monitor first saw another leader (within its poll interval). */
  readonly newLeaderAfterMs?: number;
};

export type OperationCounts = { readonly ok: number; readonly failed: number; readonly unknown: number };

/** Everything a chaos run found, in milliseconds since the workload started. */
export type ChaosReport = {
  readonly scenario: string;
  readonly backend: BackendKind;
  readonly seed: number;
  readonly startedAt: string;
  readonly requestedMs: number;
  /** From the workload's start to its stop. */
  readonly elapsedMs: number;
  readonly passed: boolean;
  readonly violations: readonly string[];
  readonly notes: readonly string[];
  readonly members: readonly NodeId[];
  readonly timers: { readonly tickMs: number; readonly electionTicks: number };
  readonly operations: OperationCounts & { readonly byKind: Readonly<Record<string, OperationCounts>> };
  readonly unavailability: {
    readonly thresholdMs: number;
    readonly windows: readonly UnavailabilityWindow[];
    readonly totalMs: number;
    readonly longestMs: number;
  };
  readonly leaderChanges: number;
  readonly leaders: readonly LeaderSample[];
  readonly faults: readonly FaultSummary[];
  /** Leader kills only: the number the issue asks about (mean time without service). */
  readonly leaderKills: {
    readonly count: number;
    readonly meanUnavailableMs: number;
    readonly maxUnavailableMs: number;
    /** How much of that was the election: until the monitor saw the new leader (polled every 200 ms). */
    readonly meanNewLeaderMs: number;
  };
  /** When every fault was undone, and how long until operations succeeded again. */
  readonly healedAtMs: number;
  readonly recoveredAfterHealMs: number;
  readonly timeline: {
    readonly bucketMs: number;
    readonly ok: readonly number[];
    readonly failed: readonly number[];
    readonly unknown: readonly number[];
  };
  readonly checks: Readonly<Record<string, number | string | boolean>>;
};

export type ReportInput = {
  readonly scenario: string;
  readonly backend: BackendKind;
  readonly seed: number;
  readonly startedAt: Date;
  readonly requestedMs: number;
  readonly t0: number;
  readonly t1: number;
  readonly healedAt: number;
  readonly outcomes: readonly OperationOutcome[];
  readonly faults: readonly FaultRecord[];
  readonly leaders: readonly LeaderSample[];
  readonly violations: readonly string[];
  readonly notes: readonly string[];
  readonly members: readonly NodeId[];
  readonly timers: { readonly tickMs: number; readonly electionTicks: number };
  readonly checks: Readonly<Record<string, number | string | boolean>>;
  /** A gap without success longer than this is an unavailability window (default 500 ms: shorter gaps are a loaded machine's hiccups, not faults). */
  readonly thresholdMs?: number;
  readonly bucketMs?: number;
};

/** A fault that begins this soon after a window opened still counts as its cause. */
const causeSlackMs = 500;

/** Windows with no successful operation longer than `thresholdMs`, between t0 and t1. */
export function unavailabilityWindows(
  outcomes: readonly OperationOutcome[],
  t0: number,
  t1: number,
  thresholdMs: number,
): { startMs: number; endMs: number }[] {
  const oks = outcomes
    .filter((o) => o.result === 'ok')
    .map((o) => o.endMs)
    .filter((t) => t >= t0 && t <= t1)
    .sort((a, b) => a - b);
  const windows: { startMs: number; endMs: number }[] = [];
  let prev = t0;
  for (const t of [...oks, t1]) {
    if (t - prev > thresholdMs) windows.push({ startMs: prev, endMs: t });
    prev = t;
  }
  return windows;
}

/** How long from `at` until operations succeeded again: the window around `at`, if any. */
function unavailableFrom(windows: readonly { startMs: number; endMs: number }[], at: number): number {
  const w = windows.find((x) => x.endMs > at && x.startMs <= at + causeSlackMs);
  return w ? Math.max(0, w.endMs - at) : 0;
}

function leaderAt(leaders: readonly LeaderSample[], at: number): NodeId | undefined {
  let found: LeaderSample | undefined;
  for (const l of leaders) if (l.atMs <= at) found = l;
  return found?.leader;
}

export function buildReport(input: ReportInput): ChaosReport {
  const thresholdMs = input.thresholdMs ?? 500;
  const bucketMs = input.bucketMs ?? 500;
  const { t0, t1 } = input;
  const rel = (t: number) => Math.round(t - t0);
  const windows = unavailabilityWindows(input.outcomes, t0, t1, thresholdMs);

  const faults: FaultSummary[] = input.faults
    .filter((f) => f.startMs >= t0 - 1)
    .map((f) => {
      const leader =
        (f.kind === 'kill' || f.kind === 'pause' || f.kind === 'isolate' || f.kind === 'disconnect') &&
        leaderAt(input.leaders, f.startMs) === f.members[0];
      const next = leader
        ? input.leaders.find((l) => l.atMs > f.startMs && l.leader !== f.members[0])
        : undefined;
      return {
        kind: f.kind,
        members: f.members,
        detail: f.detail,
        startMs: rel(f.startMs),
        ...(f.endMs !== undefined && { endMs: rel(f.endMs) }),
        leader,
        unavailableMs: Math.round(unavailableFrom(windows, f.startMs)),
        ...(f.endMs !== undefined &&
          f.endMs > f.startMs && { recoverMs: Math.round(unavailableFrom(windows, f.endMs)) }),
        ...(next && { newLeaderAfterMs: Math.round(next.atMs - f.startMs) }),
      };
    });

  const describe = (f: FaultRecord) => `${f.kind} ${f.members.join(',')}`;
  const windowSummaries: UnavailabilityWindow[] = windows.map((w) => ({
    startMs: rel(w.startMs),
    endMs: rel(w.endMs),
    lengthMs: Math.round(w.endMs - w.startMs),
    faults: input.faults
      .filter(
        (f) =>
          (f.startMs >= w.startMs - causeSlackMs && f.startMs <= w.endMs) ||
          (f.endMs !== undefined && f.endMs >= w.startMs - causeSlackMs && f.endMs <= w.endMs),
      )
      .map(describe),
  }));

  const kills = faults.filter((f) => f.kind === 'kill' && f.leader);
  const killMs = kills.map((k) => k.unavailableMs);
  const electMs = kills.flatMap((k) => (k.newLeaderAfterMs === undefined ? [] : [k.newLeaderAfterMs]));
  const mean = (xs: readonly number[]) =>
    xs.length === 0 ? 0 : Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);

  const byKind: Record<string, { ok: number; failed: number; unknown: number }> = {};
  const total = { ok: 0, failed: 0, unknown: 0 };
  const buckets = Math.max(1, Math.ceil((t1 - t0) / bucketMs));
  const series = {
    ok: new Array<number>(buckets).fill(0),
    failed: new Array<number>(buckets).fill(0),
    unknown: new Array<number>(buckets).fill(0),
  };
  for (const o of input.outcomes) {
    const k = byKind[o.kind] ?? { ok: 0, failed: 0, unknown: 0 };
    byKind[o.kind] = k;
    k[o.result] += 1;
    total[o.result] += 1;
    const b = Math.floor((o.endMs - t0) / bucketMs);
    if (b >= 0 && b < buckets) series[o.result][b]! += 1;
  }

  return {
    scenario: input.scenario,
    backend: input.backend,
    seed: input.seed,
    startedAt: input.startedAt.toISOString(),
    requestedMs: input.requestedMs,
    elapsedMs: rel(t1),
    passed: input.violations.length === 0,
    violations: input.violations,
    notes: input.notes,
    members: input.members,
    timers: input.timers,
    operations: { ...total, byKind },
    unavailability: {
      thresholdMs,
      windows: windowSummaries,
      totalMs: windowSummaries.reduce((n, w) => n + w.lengthMs, 0),
      longestMs: windowSummaries.reduce((n, w) => Math.max(n, w.lengthMs), 0),
    },
    leaderChanges: Math.max(0, input.leaders.length - 1),
    leaders: input.leaders.map((l) => ({ ...l, atMs: rel(l.atMs) })),
    faults,
    leaderKills: {
      count: kills.length,
      meanUnavailableMs: mean(killMs),
      maxUnavailableMs: killMs.reduce((a, b) => Math.max(a, b), 0),
      meanNewLeaderMs: mean(electMs),
    },
    healedAtMs: rel(input.healedAt),
    recoveredAfterHealMs: Math.round(unavailableFrom(windows, input.healedAt)),
    timeline: { bucketMs, ...series },
    checks: input.checks,
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const count = (n: number) => n.toLocaleString('en-US');

/** Per kind of fault (the leader's apart): mean unavailability from its start and after its end. */
function recoveryByKind(faults: readonly FaultSummary[]): string {
  const groups = new Map<string, FaultSummary[]>();
  for (const f of faults) {
    if (f.endMs === undefined || f.endMs === f.startMs) continue; // instantaneous: restarts, …
    const key = f.leader ? `${f.kind} of the leader` : f.kind;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return [...groups]
    .map(
      ([kind, fs]) =>
        `${kind} ×${fs.length} ${seconds(mean(fs.map((f) => f.unavailableMs)))} / ${seconds(mean(fs.map((f) => f.recoverMs ?? 0)))}`,
    )
    .join(', ');
}

/** The report as the few lines a person reads first. */
export function formatSummary(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(
    `chaos ${r.scenario} on ${r.backend}: ${r.passed ? 'PASS' : 'FAIL'} (seed ${r.seed}, ${seconds(r.elapsedMs)} of load, timers ${r.timers.tickMs} ms × ${r.timers.electionTicks})`,
  );
  const kinds = Object.entries(r.operations.byKind)
    .map(([k, c]) => `${k} ${count(c.ok)}/${count(c.failed)}/${count(c.unknown)}`)
    .join(', ');
  lines.push(
    `operations: ${count(r.operations.ok)} ok, ${count(r.operations.failed)} failed, ${count(r.operations.unknown)} unknown (ok/failed/unknown: ${kinds})`,
  );
  if (r.violations.length === 0) lines.push('violations: none');
  else {
    lines.push(`violations: ${r.violations.length}`);
    for (const v of r.violations) lines.push(`  - ${v.split('\n').slice(0, 12).join('\n    ')}`);
  }
  lines.push(`faults: ${r.faults.length}; leader changes: ${r.leaderChanges}`);
  const recovery = recoveryByKind(r.faults);
  if (recovery.length > 0)
    lines.push(`time to recover (mean, from the fault / after it was undone): ${recovery}`);
  const u = r.unavailability;
  lines.push(
    `unavailability (no successful operation for over ${u.thresholdMs} ms): ${u.windows.length} window(s), ${seconds(u.totalMs)} in all, longest ${seconds(u.longestMs)}`,
  );
  for (const w of u.windows.slice(0, 40))
    lines.push(
      `  at ${seconds(w.startMs).padStart(9)}  ${seconds(w.lengthMs).padStart(8)}  ${w.faults.join('; ')}`,
    );
  if (u.windows.length > 40) lines.push(`  … ${u.windows.length - 40} more in the JSON report`);
  if (r.leaderKills.count > 0)
    lines.push(
      `leader kills: ${r.leaderKills.count}, unavailable after each for ${seconds(r.leaderKills.meanUnavailableMs)} on average (longest ${seconds(r.leaderKills.maxUnavailableMs)}); a new leader was seen after ${seconds(r.leaderKills.meanNewLeaderMs)} on average`,
    );
  lines.push(
    `all faults undone at ${seconds(r.healedAtMs)}; operations succeeded again after ${seconds(r.recoveredAfterHealMs)}`,
  );
  const checks = Object.entries(r.checks)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? count(v) : String(v)}`)
    .join(', ');
  lines.push(`checks: ${checks}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
