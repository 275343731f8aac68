import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '@flotilla/actor';
import type { NodeId } from '@flotilla/raft';
import { toBytes } from '@flotilla/store';
import {
  type ChaosCluster,
  type ChaosClusterOptions,
  PromotionStarvedError,
} from '../faults/chaos-cluster.ts';
import type { KvChaosWorkload } from './kv-chaos-workload.ts';
import type { ClusterMonitor } from './monitor.ts';
import { MemberProbe, type ProbeResult } from './probe.ts';

/** What a scenario works with while the workload runs. */
export type ScenarioContext = {
  readonly cluster: ChaosCluster;
  readonly workload: KvChaosWorkload;
  readonly monitor: ClusterMonitor;
  readonly log: Logger;
  /** performance.now() past which the scenario starts no new fault. */
  readonly deadlineMs: number;
  /** Seeded: a seed gives the same schedule of faults on every run. */
  random(): number;
  /** A scenario-specific check failed. */
  violation(text: string): void;
  /** Something worth reading in the report. */
  note(text: string): void;
};

export type Scenario = {
  readonly name: string;
  readonly summary: string;
  /** Cluster settings the scenario needs (a snapshot cadence, ...). */
  readonly cluster?: Partial<ChaosClusterOptions>;
  /** Before the workload starts. */
  prepare?(ctx: ScenarioContext): Promise<void>;
  /** Inject faults until the deadline; the runner undoes whatever is left. */
  run(ctx: ScenarioContext): Promise<void>;
};

/** No scenario loops more than this many rounds, whatever the duration. */
const maxRounds = 1_000;
/** How long a new member's promotion is tried under the full load before the load is held. */
const promoteUnderLoadMs = 20_000;
/** How long a member that should catch up may take before the scenario calls it a failure. */
const catchUpTimeoutMs = 30_000;

const left = (ctx: ScenarioContext) => ctx.deadlineMs - performance.now();
const pick = <T>(ctx: ScenarioContext, items: readonly T[]): T =>
  items[Math.floor(ctx.random() * items.length)]!;
const between = (ctx: ScenarioContext, lo: number, hi: number) => lo + ctx.random() * (hi - lo);
/** Sleep, but no later than the deadline (plus `graceMs`, for a fault that must be undone). */
const wait = (ctx: ScenarioContext, ms: number, graceMs = 0) =>
  delay(Math.max(0, Math.min(ms, left(ctx) + graceMs)));

async function others(cluster: ChaosCluster, member: NodeId): Promise<NodeId[]> {
  return cluster.members.filter((m) => m !== member);
}

/**
 * A member cut off from the majority must answer no linearizable read and acknowledge no
 * write: nothing it could answer is known to be current. Operations sent after the cut was
 * in place and answered before it was healed must all have failed.
 */
/**
 * After a heal, until the member that was cut off has caught up with the leader (a violation
 * if it does not in time). A NATS route across the cut is not always closed by its servers
 * (seen in their logs: neither closed the leader's route to an isolated follower during a
 * 5 s isolation, while the follower's route to the third member went stale), and then
 * carries nothing until TCP's retransmission back-off, seconds long after a cut of several
 * seconds, runs out. The next round's cut must
 * start from a cluster whose majority really can talk, or it measures that back-off instead
 * (seen on containers at 60 s: the majority served nothing for 8.7 s while a follower was cut,
 * its route to the leader still stuck from the round before).
 */
async function recovered(ctx: ScenarioContext, member: NodeId, after: string): Promise<void> {
  if (!(await ctx.cluster.waitCaughtUp(member, catchUpTimeoutMs)))
    ctx.violation(`${member} did not catch up within ${catchUpTimeoutMs} ms after ${after}`);
}

function checkSilentWhileCut(
  ctx: ScenarioContext,
  probe: MemberProbe,
  cutMs: number,
  healMs: number,
  why: string,
): void {
  const answered = probe.results.filter((r) => r.ok && r.callMs > cutMs && r.endMs < healMs);
  if (answered.length > 0) {
    const e = answered[0]!;
    ctx.violation(
      `${probe.member} answered ${answered.length} linearizable operation(s) while ${why}, e.g. a ${e.op} sent ${Math.round(e.callMs - cutMs)} ms after the cut (term ${e.term})`,
    );
  }
}

/** After a new leader was elected at a higher term, the old one must not answer at its old term. */
function checkNoStaleTerm(
  ctx: ScenarioContext,
  results: readonly ProbeResult[],
  member: NodeId,
  oldTerm: number,
  electedMs: number,
): void {
  const stale = results.filter((r) => r.ok && r.callMs > electedMs && (r.term ?? 0) <= oldTerm);
  if (stale.length === 0) return;
  const reads = stale.filter((r) => r.op === 'get').length;
  ctx.violation(
    `${member} answered at its old term ${oldTerm} after a new leader was elected: ${reads} read(s) (stale) and ${stale.length - reads} write(s) (committed in a deposed term)`,
  );
}

const leaderKillLoop: Scenario = {
  name: 'leader-kill-loop',
  summary: 'SIGKILL the leader, keep it down through the election, restart it; repeat',
  async run(ctx) {
    const { cluster } = ctx;
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      const leader = await cluster.waitForLeader(30_000);
      await cluster.kill(leader);
      await wait(ctx, between(ctx, 2_500, 3_500), 3_500);
      await cluster.restart(leader);
      await wait(ctx, between(ctx, 1_000, 2_000));
    }
  },
};

const minorityPartition: Scenario = {
  name: 'minority-partition',
  summary: 'cut one follower off from the other two, heal; repeat (the cut-off one must answer nothing)',
  async run(ctx) {
    const { cluster, workload } = ctx;
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      const leader = await cluster.waitForLeader(30_000);
      const follower = pick(ctx, await others(cluster, leader));
      const probe = await MemberProbe.start(cluster, follower, workload);
      await cluster.isolate(follower);
      const cutMs = performance.now();
      await wait(ctx, between(ctx, 3_000, 6_000), 6_000);
      const healMs = performance.now();
      await cluster.heal();
      await probe.stop();
      checkSilentWhileCut(ctx, probe, cutMs, healMs, 'cut off from the majority');
      const progress = workload
        .outcomes()
        .filter((o) => o.result === 'ok' && o.endMs > cutMs && o.endMs < healMs);
      if (progress.length === 0)
        ctx.violation(
          `the majority served nothing while ${follower} alone was cut off (${Math.round(healMs - cutMs)} ms)`,
        );
      await recovered(ctx, follower, `the heal of round ${round}`);
      await wait(ctx, between(ctx, 1_000, 2_000));
    }
  },
};

const leaderIsolated: Scenario = {
  name: 'leader-isolated',
  summary:
    'cut the leader off from the other members (clients still reach it): it must step down and answer nothing',
  async run(ctx) {
    const { cluster, workload, monitor } = ctx;
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      const leader = await cluster.waitForLeader(30_000);
      const term = (await cluster.status(leader))?.raft.term ?? 0;
      const probe = await MemberProbe.start(cluster, leader, workload);
      await cluster.isolate(leader);
      const cutMs = performance.now();
      const elected = await monitor.waitNewLeader(term, leader, 20_000);
      if (!elected) ctx.violation(`no new leader within 20 s of isolating ${leader}`);
      // Long enough for CheckQuorum to depose it (within two election timeouts), with margin.
      const isolatedMs = 4 * cluster.electionTimeoutMs + 1_000;
      await delay(Math.max(0, cutMs + isolatedMs - performance.now()));
      const last = monitor.status(leader);
      const healMs = performance.now();
      await cluster.heal();
      await probe.stop();
      checkSilentWhileCut(ctx, probe, cutMs, healMs, 'isolated from the other members');
      if (last?.raft.role === 'leader' && last.raft.term === term)
        ctx.violation(
          `${leader} still claimed to lead term ${term} ${Math.round(healMs - cutMs)} ms after losing its quorum`,
        );
      await recovered(ctx, leader, `the heal of round ${round}`);
      await wait(ctx, between(ctx, 1_500, 2_500));
    }
  },
};

const flappingPartitions: Scenario = {
  name: 'flapping-partitions',
  summary: 'a new partition every 0.3-1.5 s: pairs cut, one-way cuts, isolations, heals',
  async run(ctx) {
    const { cluster } = ctx;
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      const members = cluster.members;
      const a = pick(ctx, members);
      const b = pick(
        ctx,
        members.filter((m) => m !== a),
      );
      const r = ctx.random();
      if (r < 0.25) await cluster.heal();
      else if (r < 0.5) await cluster.partition([a], [b]);
      else if (r < 0.7) await cluster.partition([a], [b], { oneWay: true });
      else if (r < 0.9) {
        await cluster.heal();
        await cluster.isolate(a);
      } else
        await cluster.partition(
          [a],
          members.filter((m) => m !== a),
          { oneWay: true },
        );
      await wait(ctx, between(ctx, 300, 1_500));
    }
    await cluster.heal();
  },
};

const leaderPause: Scenario = {
  name: 'leader-pause',
  summary:
    'freeze the leader for three election timeouts; on waking it must neither commit nor serve a stale read',
  async run(ctx) {
    const { cluster, workload, monitor } = ctx;
    let effective = 0;
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      const leader = await cluster.waitForLeader(30_000);
      const term = (await cluster.status(leader))?.raft.term ?? 0;
      // Reads and writes aimed at the frozen leader queue up in its socket and are handled
      // the moment it wakes, before it hears it was deposed.
      const probe = await MemberProbe.start(cluster, leader, workload, {
        intervalMs: 25,
        attemptTimeoutMs: 15_000,
      });
      const pauseMs = 3 * cluster.electionTimeoutMs;
      const paused = cluster.pause(leader, pauseMs);
      const elected = await monitor.waitNewLeader(term, leader, pauseMs);
      await paused;
      await delay(2_000);
      await probe.stop();
      if (!elected) {
        ctx.note(`round ${round}: no new leader seen while ${leader} was paused`);
      } else {
        effective += 1;
        checkNoStaleTerm(ctx, probe.results, leader, term, elected.atMs);
      }
      await wait(ctx, between(ctx, 1_000, 2_000));
    }
    ctx.note(`${effective} pause(s) during which a new leader was elected`);
  },
};

const snapshotTransferKill: Scenario = {
  name: 'snapshot-transfer-kill',
  summary:
    'a follower so far behind it needs a snapshot; kill the receiver, the sender, or crash it while installing',
  cluster: { snapshotEveryEntries: 500, snapshotCatchUpEntries: 100 },
  async prepare(ctx) {
    // Ballast, so that a snapshot is many chunks (256 KiB each) and takes a while to send.
    const client = await ctx.cluster.client({ timeoutMs: 30_000 });
    const value = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 48; i++) await client.put(toBytes(`/ballast/${i}`), value);
  },
  async run(ctx) {
    const { cluster, monitor } = ctx;
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      const leader = await cluster.waitForLeader(30_000);
      const follower = pick(ctx, await others(cluster, leader));
      const behind = (await cluster.status(follower))?.raft.applied ?? 0;
      await cluster.kill(follower);
      // Until the leader's log no longer holds what the follower needs.
      const needSnapshotAfter = performance.now() + 30_000;
      while (performance.now() < needSnapshotAfter) {
        const st = monitor.status(leader);
        if (st && st.raft.firstIndex > behind + 1) break;
        await delay(100);
      }
      const variant = round % 3;
      const sender = await cluster.waitForLeader(30_000);
      await cluster.setFailpoint(sender, 'raft.snapshotSend', { action: { kind: 'delay', ms: 150 } });
      const hitsBefore = (await cluster.failpointStatus(sender))['raft.snapshotSend']?.hits ?? 0;
      if (variant === 2) {
        await cluster.restart(follower, {
          wait: false,
          failpoints: { 'raft.snapshotInstall': { action: { kind: 'crash' }, maxActions: 1 } },
        });
        const until = performance.now() + 30_000;
        while ((await cluster.isRunning(follower)) && performance.now() < until) await delay(100);
        if (await cluster.isRunning(follower))
          ctx.note(`round ${round}: ${follower} never reached the install crash`);
        await cluster.clearFailpoint(sender);
        await cluster.restart(follower);
      } else {
        await cluster.restart(follower, { wait: false });
        const until = performance.now() + 30_000;
        let hits = hitsBefore;
        while (hits < hitsBefore + 2 && performance.now() < until) {
          await delay(50);
          hits =
            (await cluster.failpointStatus(sender).catch(() => undefined))?.['raft.snapshotSend']?.hits ??
            hits;
        }
        if (hits < hitsBefore + 2) ctx.note(`round ${round}: no snapshot transfer to ${follower} seen`);
        if (variant === 0) {
          await cluster.kill(follower);
          await cluster.clearFailpoint(sender);
          await delay(500);
          await cluster.restart(follower);
        } else {
          await cluster.kill(sender);
          await cluster.waitForLeader(30_000);
          await cluster.restart(sender);
        }
      }
      if (!(await cluster.waitCaughtUp(follower, catchUpTimeoutMs)))
        ctx.violation(
          `${follower} did not catch up within ${catchUpTimeoutMs} ms after the snapshot round ${round}`,
        );
      await wait(ctx, between(ctx, 500, 1_500));
    }
  },
};

const rollingRestart: Scenario = {
  name: 'rolling-restart',
  summary:
    'restart every member in turn (SIGTERM: a leader hands over first), each catching up before the next',
  async run(ctx) {
    const { cluster } = ctx;
    // A round, once begun, restarts every member: a rolling restart cut off halfway is not
    // one (and on a loaded host a short run would otherwise restart only one or two).
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      for (const member of cluster.members) {
        await cluster.restart(member, { graceful: true });
        if (!(await cluster.waitCaughtUp(member, catchUpTimeoutMs)))
          ctx.violation(`${member} did not catch up within ${catchUpTimeoutMs} ms of its restart`);
        await wait(ctx, between(ctx, 500, 1_500));
      }
    }
  },
};

const replaceMember: Scenario = {
  name: 'replace-member',
  summary: 'kill a member for good, remove it, add a fresh empty one on a new host (learner, then voter)',
  async run(ctx) {
    const { cluster, workload } = ctx;
    let next = cluster.members.length + 1;
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      const dead = pick(ctx, cluster.members);
      await cluster.kill(dead);
      await wait(ctx, between(ctx, 500, 1_500), 1_500);
      const fresh = `m${next++}`;
      try {
        await cluster.replaceMember(dead, fresh, { promoteTimeoutMs: promoteUnderLoadMs });
      } catch (err) {
        if (!(err instanceof PromotionStarvedError)) throw err;
        // The Raft core promotes a learner only once its log reaches the commit index, which a
        // steady stream of writes can keep it from doing: hold the load and promote.
        ctx.note(
          `round ${round}: ${fresh} was not promoted under load in ${promoteUnderLoadMs} ms; promoted with the load held`,
        );
        workload.hold();
        try {
          await cluster.promote(fresh);
        } finally {
          workload.release();
        }
      }
      if (!(await cluster.waitCaughtUp(fresh, catchUpTimeoutMs)))
        ctx.violation(`${fresh} did not catch up within ${catchUpTimeoutMs} ms of joining`);
      await wait(ctx, between(ctx, 1_000, 2_000));
    }
  },
};

const loseQuorum: Scenario = {
  name: 'lose-quorum',
  summary:
    'kill both followers (no quorum: nothing may be answered), then recover by restoring a snapshot of the survivor',
  async run(ctx) {
    const { cluster, workload } = ctx;
    for (let round = 0; left(ctx) > 0 && round < maxRounds; round++) {
      const survivor = await cluster.waitForLeader(30_000);
      const term = (await cluster.status(survivor))?.raft.term ?? 0;
      const probe = await MemberProbe.start(cluster, survivor, workload);
      const followers = await others(cluster, survivor);
      await Promise.all(followers.map((m) => cluster.kill(m)));
      const lostMs = performance.now();
      const after = await cluster.status(survivor);
      if (after?.raft.term !== term || after.raft.role !== 'leader') {
        // Leadership moved just before the kills: the survivor may lack the last writes, which
        // only the dead members' disks hold. Bring those back instead of restoring.
        ctx.note(`round ${round}: ${survivor} was no longer the leader when its peers died; restarted them`);
        await probe.stop();
        for (const m of followers) await cluster.restart(m);
        continue;
      }
      await delay(3 * cluster.electionTimeoutMs);
      await probe.stop();
      const recoverMs = performance.now();
      checkSilentWhileCut(ctx, probe, lostMs, recoverMs, 'without a quorum');
      const answered = workload
        .outcomes()
        .filter((o) => o.result === 'ok' && o.callMs > lostMs && o.endMs < recoverMs);
      if (answered.length > 0)
        ctx.violation(
          `${answered.length} operation(s) sent after quorum was lost were answered before recovery`,
        );
      const restored = await cluster.recoverFromSnapshot(survivor);
      ctx.note(`round ${round}: restored from ${survivor} at revision ${restored.revision}`);
      for (const m of cluster.members) {
        if (!(await cluster.waitCaughtUp(m, catchUpTimeoutMs)))
          ctx.violation(`${m} did not catch up within ${catchUpTimeoutMs} ms of the restore`);
      }
      await wait(ctx, between(ctx, 2_000, 4_000));
    }
  },
};

/** Every scenario, by name, in the order the suites run them. */
export const scenarios: readonly Scenario[] = [
  leaderKillLoop,
  minorityPartition,
  leaderIsolated,
  flappingPartitions,
  leaderPause,
  snapshotTransferKill,
  rollingRestart,
  replaceMember,
  loseQuorum,
];

export function scenarioNamed(name: string): Scenario {
  const s = scenarios.find((x) => x.name === name);
  if (!s)
    throw new RangeError(
      `no scenario ${JSON.stringify(name)} (known: ${scenarios.map((x) => x.name).join(', ')})`,
    );
  return s;
}
