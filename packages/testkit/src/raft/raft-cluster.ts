import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ActorSystem, type Logger, silentLogger } from '@flotilla/actor';
import {
  type ConfChange,
  type ConfState,
  type NodeId,
  type NodeStatus,
  NotLeaderError,
} from '@flotilla/raft';
import { type NatsCluster, startNats } from '../nats.ts';
import { ManagedProcess } from '../process.ts';
import { tempDir } from '../tmp.ts';
import {
  type MemberConfig,
  type MemberProtocol,
  type MemberSummary,
  memberActorName,
} from './member-protocol.ts';

const memberMain = fileURLToPath(new URL('./member-main.ts', import.meta.url));

export interface RaftClusterOptions {
  /** Member ids of the initial cluster (default m1, m2, m3). */
  readonly members?: readonly NodeId[];
  /** Reuse NATS servers; by default a 3-server NATS cluster is started. */
  readonly nats?: NatsCluster;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEveryEntries?: number;
  readonly snapshotCatchUpEntries?: number;
  readonly logLevel?: string;
  readonly dir?: string;
}

export interface RaftMember {
  readonly id: NodeId;
  readonly dir: string;
  readonly process: ManagedProcess;
}

/**
 * Real member processes (each a RaftNode on disk with a LogMachine) and real nats-servers,
 * with the faults tests need: SIGKILL, SIGSTOP/SIGCONT, SIGTERM, restart, membership
 * changes. Members are spread over the NATS servers. Cleaned up when the test file ends.
 */
export class RaftCluster {
  readonly clusterId: string;
  readonly nats: NatsCluster;
  readonly members = new Map<NodeId, RaftMember>();
  private readonly options: Required<Omit<RaftClusterOptions, 'nats' | 'members' | 'dir'>>;
  private readonly dir: string;
  private system!: ActorSystem;
  /** Where proposals went last time it worked; cleared when that member says it is not the leader. */
  private leaderHint: NodeId | undefined;

  private constructor(nats: NatsCluster, options: RaftClusterOptions) {
    this.nats = nats;
    this.dir = options.dir ?? tempDir('raft');
    this.clusterId = `c${Math.floor(Math.random() * 1e9).toString(36)}`;
    this.options = {
      tickMs: options.tickMs ?? 100,
      electionTicks: options.electionTicks ?? 10,
      snapshotEveryEntries: options.snapshotEveryEntries ?? 10_000,
      snapshotCatchUpEntries: options.snapshotCatchUpEntries ?? 1_000,
      logLevel: options.logLevel ?? process.env.FLOTILLA_MEMBER_LOG_LEVEL ?? 'info',
    };
  }

  static async start(options: RaftClusterOptions = {}, log: Logger = silentLogger()): Promise<RaftCluster> {
    const nats = options.nats ?? (await startNats({ size: 3 }));
    const cluster = new RaftCluster(nats, options);
    cluster.system = await ActorSystem.connect({
      servers: nats.urls,
      log,
      prefix: 'flotilla',
      name: 'raft-harness',
    });
    const ids = options.members ?? ['m1', 'm2', 'm3'];
    for (const id of ids) cluster.spawn(id, ids);
    return cluster;
  }

  get electionTimeoutMs(): number {
    return this.options.tickMs * this.options.electionTicks;
  }

  /** Start a member process. `bootstrap` for members of the initial cluster; none to join later. */
  spawn(id: NodeId, bootstrap?: readonly NodeId[]): RaftMember {
    const index = this.members.size;
    const dir = join(this.dir, id);
    const servers = this.nats.urls;
    // Each member talks to one NATS server first (spread), but knows them all for failover.
    const nats = [...servers.slice(index % servers.length), ...servers.slice(0, index % servers.length)];
    const config: MemberConfig = {
      id,
      clusterId: this.clusterId,
      dir,
      nats,
      bootstrap,
      ...this.options,
    };
    const proc = new ManagedProcess({
      name: `member-${id}`,
      command: process.execPath,
      args: [memberMain],
      env: { FLOTILLA_MEMBER_CONFIG: JSON.stringify(config) },
      logFile: join(this.dir, `${id}.log`),
    }).start();
    const member = { id, dir, process: proc };
    this.members.set(id, member);
    return member;
  }

  member(id: NodeId): RaftMember {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  private ref(id: NodeId) {
    return this.system.ref<MemberProtocol>(memberActorName(this.clusterId, id));
  }

  async status(id: NodeId, timeoutMs = 1_000): Promise<NodeStatus> {
    return this.ref(id).ask('status', null, { timeoutMs });
  }

  async summary(id: NodeId, timeoutMs = 2_000): Promise<MemberSummary> {
    return this.ref(id).ask('summary', null, { timeoutMs });
  }

  /** Every applied payload of `id`, in order. */
  async applied(id: NodeId): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const part = await this.ref(id).ask('slice', { from: out.length, count: 5_000 }, { timeoutMs: 5_000 });
      out.push(...part);
      if (part.length < 5_000) return out;
    }
  }

  /** Statuses of the running, unpaused members that answer (others are left out). */
  async statuses(): Promise<NodeStatus[]> {
    const live = [...this.members.values()].filter((m) => m.process.running && !m.process.isPaused);
    const all = await Promise.all(live.map((m) => this.status(m.id, 500).catch(() => undefined)));
    return all.filter((s): s is NodeStatus => s !== undefined);
  }

  /** The member that leads, as the members that answer agree, waiting up to `timeoutMs`. */
  async waitForLeader(timeoutMs = 10_000): Promise<NodeId> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const statuses = await this.statuses();
      const leaders = statuses.filter((s) => s.role === 'leader');
      const top = leaders.sort((a, b) => b.term - a.term)[0];
      if (
        top &&
        statuses.filter((s) => s.leader === top.id && s.term === top.term).length * 2 > this.voterCount(top)
      ) {
        return top.id;
      }
      await delay(50);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  private voterCount(s: NodeStatus): number {
    return s.conf.voters.length;
  }

  /**
   * Propose through the member believed to lead, following NotLeader hints and retrying on
   * unreachable members until `timeoutMs`. Throws if the outcome is unknown at the end (the
   * proposal may still have been applied).
   */
  async propose(payload: string, timeoutMs = 10_000): Promise<{ index: number; term: number }> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      const to =
        this.leaderHint ??
        (await this.waitForLeader(deadline - Date.now()).catch(() => this.randomLiveMember()));
      try {
        const out = await this.ref(to).ask(
          'propose',
          { payload, timeoutMs: Math.min(3_000, deadline - Date.now()) },
          { timeoutMs: Math.min(4_000, deadline - Date.now()), retry: false },
        );
        this.leaderHint = to;
        return out;
      } catch (err) {
        lastErr = err;
        this.leaderHint = err instanceof NotLeaderError && err.leaderHint ? err.leaderHint : undefined;
        if (!this.leaderHint) await delay(50);
      }
    }
    throw lastErr ?? new Error('propose timed out');
  }

  /** One proposal through member `id`, as it answers (no retry, no leader lookup). */
  async proposeVia(id: NodeId, payload: string, timeoutMs: number): Promise<{ index: number; term: number }> {
    return this.ref(id).ask(
      'propose',
      { payload, timeoutMs },
      { timeoutMs: timeoutMs + 1_000, retry: false },
    );
  }

  /** A linearizable read through `id` (ReadIndex), with the state it saw. */
  async read(id: NodeId, timeoutMs = 3_000): Promise<{ index: number; summary: MemberSummary }> {
    return this.ref(id).ask('read', { timeoutMs }, { timeoutMs: timeoutMs + 500, retry: false });
  }

  async transferLeadership(from: NodeId, to?: NodeId): Promise<NodeId> {
    return this.ref(from).ask('transfer', { to: to ?? null }, { timeoutMs: 5_000, retry: false });
  }

  /** Propose a membership change through the leader. */
  async changeMembership(change: ConfChange, timeoutMs = 15_000): Promise<ConfState> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      const leader = await this.waitForLeader(deadline - Date.now());
      try {
        return await this.ref(leader).ask(
          'membership',
          { change, timeoutMs: Math.max(500, deadline - Date.now() - 500) },
          { timeoutMs: Math.max(1_000, deadline - Date.now()), retry: false },
        );
      } catch (err) {
        lastErr = err;
        if (!(err instanceof NotLeaderError)) throw err;
      }
    }
    throw lastErr ?? new Error('membership change timed out');
  }

  randomLiveMember(): NodeId {
    const live = [...this.members.values()].filter((m) => m.process.running && !m.process.isPaused);
    const pick = live[Math.floor(Math.random() * live.length)];
    if (!pick) throw new Error('no live member');
    return pick.id;
  }

  async kill(id: NodeId): Promise<void> {
    await this.member(id).process.kill();
  }

  async restart(id: NodeId): Promise<void> {
    const m = this.member(id);
    if (m.process.running) await m.process.kill();
    m.process.start();
  }

  pause(id: NodeId): void {
    this.member(id).process.pause();
  }

  resume(id: NodeId): void {
    this.member(id).process.resume();
  }

  /** SIGTERM, wait for the exit. */
  async terminate(id: NodeId, graceMs = 10_000): Promise<void> {
    await this.member(id).process.stop(graceMs);
  }

  /** Wait until every running member answers and has applied at least `index`. */
  async waitForApplied(index: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = [...this.members.values()].filter((m) => m.process.running && !m.process.isPaused);
      const sums = await Promise.all(live.map((m) => this.summary(m.id, 1_000).catch(() => undefined)));
      if (sums.every((s) => s !== undefined && s.applied >= index)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `members did not apply ${index} in time: ${JSON.stringify(sums.map((s) => s?.applied))}`,
        );
      }
      await delay(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.process.dispose()));
    await this.system.shutdown({ timeoutMs: 500 });
  }
}
