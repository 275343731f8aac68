import { createWriteStream, existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  type ActorRef,
  ActorSystem,
  assertNever,
  type FailpointName,
  type FailpointProtocol,
  type FailpointSpec,
  type FailpointStatus,
  FlotillaError,
  failpointsActorName,
  type Logger,
  silentLogger,
} from '@flotilla/actor';
import type { NodeId } from '@flotilla/raft';
import {
  type MemberStatus,
  restoreMemberFromSnapshot,
  StoreClient,
  type StoreClientOptions,
} from '@flotilla/store';
import { registerCleanup } from '../cleanup.ts';
import { tempDir } from '../tmp.ts';
import type { BackendKind, HostBackend, MemberLaunch } from './backend.ts';
import type { FaultApi, FaultKind, FaultRecord, PartitionOptions, RestartOptions } from './fault-api.ts';
import { natsPorts } from './nats-config.ts';
import { PartitionTable } from './partition-table.ts';

export type ChaosClusterOptions = {
  /** Where members run (default 'netns'), or a backend built by hand. */
  readonly backend?: BackendKind | HostBackend;
  /** Founding voters (default m1, m2, m3). */
  readonly members?: readonly NodeId[];
  readonly clusterId?: string;
  /** Raft timers: the defaults are the store's (100 ms ticks, election timeout 10 ticks). */
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEveryEntries?: number;
  readonly snapshotCatchUpEntries?: number;
  readonly autoCompactionRetainRevisions?: number;
  /** Members' log level (default FLOTILLA_MEMBER_LOG_LEVEL or 'info'). */
  readonly logLevel?: string;
  /**
   * Start members with failpoints armed (default true; false: they cost nothing and cannot
   * be set), or armed with these active from every start (a deliberately broken build).
   */
  readonly failpoints?: boolean | Partial<Record<FailpointName, FailpointSpec>>;
  readonly dir?: string;
  readonly log?: Logger;
  /** For the containers backend: the Docker daemon (default DOCKER_HOST). */
  readonly dockerHost?: string;
  /** The NATS servers' max_payload (default NATS's own, 1 MiB, as production has it). */
  readonly natsMaxPayloadBytes?: number;
  /**
   * Also run a Kubernetes control plane on every founding host, as on a control-plane
   * machine: an API server replica, a controller manager and a scheduler (the last two
   * elected through their Leases), all on the host's own NATS server.
   */
  readonly controlPlane?: boolean;
};

// Started by path, as the control-plane harness does: testkit does not import them.
const apiServerMain = fileURLToPath(new URL('../../../apiserver/src/main.ts', import.meta.url));
const controllerManagerMain = fileURLToPath(
  new URL('../../../controllers/test/fixtures/controller-manager-main.ts', import.meta.url),
);
const schedulerMain = fileURLToPath(
  new URL('../../../controllers/test/fixtures/scheduler-main.ts', import.meta.url),
);
/** The port every host's API server listens on (each host has its own address). */
export const apiServerPort = 6443;
/** How long a control plane gets to answer /readyz on every host. */
const controlPlaneReadyTimeoutMs = 90_000;

/** How long a started member gets to answer before `restart` gives up on it. */
const memberServeTimeoutMs = 30_000;
/** Membership changes are retried (leader changes, a learner catching up) for this long. */
const membershipTimeoutMs = 60_000;

/**
 * A store cluster to break on purpose: real member processes (network namespaces or
 * containers), each with its own NATS server, and the fault API. Every fault is noted in
 * `faults` with when it began and ended, for reports. Torn down when the test file ends.
 */
export class ChaosCluster implements FaultApi {
  readonly clusterId: string;
  readonly backend: HostBackend;
  readonly dir: string;
  /** Every fault so far, in the order they began. */
  readonly faults: FaultRecord[] = [];
  private readonly log: Logger;
  private readonly timing: Omit<MemberLaunch, 'id' | 'clusterId' | 'bootstrap' | 'failpoints'>;
  private readonly armed: boolean;
  /** Failpoints every member process starts with. */
  private readonly startFailpoints: Partial<Record<FailpointName, FailpointSpec>>;
  private readonly hosts: NodeId[] = [];
  private readonly partitions = new PartitionTable();
  private readonly disconnected = new Set<NodeId>();
  private readonly paused = new Map<NodeId, { timer?: NodeJS.Timeout; done: () => void }>();
  private readonly memberSystems = new Map<NodeId, ActorSystem>();
  private readonly clientSystems: ActorSystem[] = [];
  private adminSystem: ActorSystem | undefined;
  private stopped = false;
  private readonly unregister: () => void;

  private constructor(backend: HostBackend, options: ChaosClusterOptions, dir: string) {
    this.backend = backend;
    this.dir = dir;
    this.clusterId = options.clusterId ?? `c${Math.floor(Math.random() * 1e9).toString(36)}`;
    this.log = (options.log ?? silentLogger()).child({ component: 'chaos-cluster' });
    this.armed = options.failpoints !== false;
    this.startFailpoints = typeof options.failpoints === 'object' ? options.failpoints : {};
    this.timing = {
      tickMs: options.tickMs ?? 100,
      electionTicks: options.electionTicks ?? 10,
      snapshotEveryEntries: options.snapshotEveryEntries ?? 10_000,
      snapshotCatchUpEntries: options.snapshotCatchUpEntries ?? 1_000,
      autoCompactionRetainRevisions: options.autoCompactionRetainRevisions ?? 0,
      logLevel: options.logLevel ?? process.env.FLOTILLA_MEMBER_LOG_LEVEL ?? 'info',
    };
    this.unregister = registerCleanup({ name: `chaos cluster ${this.clusterId}`, run: () => this.stop() });
  }

  /** Start the hosts and the founding members; resolves once a leader is elected. */
  static async start(options: ChaosClusterOptions = {}): Promise<ChaosCluster> {
    const dir = options.dir ?? tempDir('chaos');
    const backend = await createBackend(options, dir);
    const cluster = new ChaosCluster(backend, options, dir);
    try {
      const members = options.members ?? ['m1', 'm2', 'm3'];
      await cluster.addHosts(members);
      await Promise.all(members.map((id) => cluster.startMember(id, { bootstrap: members })));
      await cluster.waitForLeader(30_000);
      if (options.controlPlane) await cluster.startControlPlane(options.logLevel ?? 'warn');
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** An API server replica, a controller manager and a scheduler on every host. */
  private async startControlPlane(logLevel: string): Promise<void> {
    for (const host of this.hosts) {
      const natsUrl = this.backend.natsUrl(host);
      const common = {
        FLOTILLA_NATS_URLS: natsUrl,
        FLOTILLA_CLUSTER_ID: this.clusterId,
        FLOTILLA_LOG_LEVEL: logLevel,
      };
      await this.backend.startProcess(host, {
        name: 'apiserver',
        script: apiServerMain,
        env: {
          FLOTILLA_APISERVER_CONFIG: JSON.stringify({
            clusterId: this.clusterId,
            nats: [natsUrl],
            host: this.backend.address(host),
            port: apiServerPort,
            logLevel,
            natsPingIntervalMs: 1_000,
          }),
        },
      });
      await this.backend.startProcess(host, {
        name: 'controller-manager',
        script: controllerManagerMain,
        env: {
          ...common,
          FLOTILLA_CONTROLLER_MANAGER: JSON.stringify({
            election: { identity: `cm-${host}` },
            informer: { resyncPeriodMs: 0 },
          }),
        },
      });
      await this.backend.startProcess(host, {
        name: 'scheduler',
        script: schedulerMain,
        env: { ...common, FLOTILLA_SCHEDULER: JSON.stringify({ election: { identity: `sched-${host}` } }) },
      });
    }
    await Promise.all(this.hosts.map((h) => this.waitApiServer(h)));
    this.controlPlaneHosts = [...this.hosts];
  }

  /** Hosts running a control plane (empty unless started with `controlPlane`). */
  controlPlaneHosts: readonly NodeId[] = [];

  /** The URL of the API server on `host`. */
  apiServerUrl(host: NodeId): string {
    return `http://${this.backend.address(host)}:${apiServerPort}`;
  }

  private async waitApiServer(host: NodeId): Promise<void> {
    const deadline = performance.now() + controlPlaneReadyTimeoutMs;
    let last = '';
    while (performance.now() < deadline) {
      try {
        const res = await fetch(`${this.apiServerUrl(host)}/readyz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
        last = `${res.status}`;
      } catch (err) {
        last = String(err);
      }
      await delay(200);
    }
    throw new Error(
      `the API server on ${host} was not ready in ${controlPlaneReadyTimeoutMs} ms (${last}); see ${this.backend.processLog(host, 'apiserver')}`,
    );
  }

  /** Members with a host, voters or not, running or not. */
  get members(): readonly NodeId[] {
    return [...this.hosts];
  }

  /** The election timeout's lower bound (the actual one is drawn in [T, 2T)). */
  get electionTimeoutMs(): number {
    return this.timing.tickMs * this.timing.electionTicks;
  }

  /**
   * A client of its own, on its own connection: to the NATS server of one of `via` (as a
   * client on those members' side of a partition would be), or of any member. A client whose
   * server is cut off from the majority is cut off with it.
   */
  async client(
    options: Partial<Omit<StoreClientOptions, 'system' | 'clusterId'>> = {},
    via: readonly NodeId[] = this.hosts,
  ): Promise<StoreClient> {
    const system = await this.connect(
      via.map((m) => this.backend.natsUrl(m)),
      this.log.child({ component: 'chaos-client', via: via.join(',') }),
    );
    return new StoreClient({ system, clusterId: this.clusterId, ...options });
  }

  /** An actor system on a connection to `servers` (closed when the cluster stops). */
  async connect(servers: readonly string[], log: Logger = silentLogger()): Promise<ActorSystem> {
    const system = await ActorSystem.connect({
      servers,
      log,
      prefix: 'flotilla',
      name: 'chaos-client',
      pingIntervalMs: 1_000,
    });
    this.clientSystems.push(system);
    return system;
  }

  /**
   * Until `member` has applied everything the leader had committed when this was called
   * (bounded); false if it did not in time.
   */
  async waitCaughtUp(member: NodeId, timeoutMs = 30_000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    let target: number | undefined;
    while (performance.now() < deadline) {
      if (target === undefined) {
        const leader = await this.currentLeader();
        if (leader !== undefined) target = (await this.status(leader, 1_000))?.raft.commit;
      }
      const s = await this.status(member, 1_000);
      if (target !== undefined && s !== undefined && s.raft.applied >= target) return true;
      await delay(100);
    }
    return false;
  }

  /** The member's status, asked through its own NATS server; undefined if it does not answer. */
  async status(member: NodeId, timeoutMs = 1_000): Promise<MemberStatus | undefined> {
    const system = await this.memberSystem(member).catch(() => undefined);
    if (!system) return undefined;
    const client = new StoreClient({
      system,
      clusterId: this.clusterId,
      timeoutMs,
      attemptTimeoutMs: timeoutMs,
    });
    return client.status(member).catch(() => undefined);
  }

  /** Statuses of every member that answers. */
  async statuses(timeoutMs = 1_000): Promise<MemberStatus[]> {
    const all = await Promise.all(this.hosts.map((m) => this.status(m, timeoutMs)));
    return all.filter((s) => s !== undefined);
  }

  /** The leader a majority of its voters follow, once there is one. */
  async waitForLeader(timeoutMs = 15_000): Promise<NodeId> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const leader = await this.currentLeader();
      if (leader !== undefined) return leader;
      await delay(50);
    }
    throw new Error(`no store leader within ${timeoutMs} ms`);
  }

  /** One look: the member a majority of the voters it knows follow, if any. */
  async currentLeader(): Promise<NodeId | undefined> {
    const statuses = await this.statuses(500);
    const leaders = statuses
      .filter((s) => s.raft.role === 'leader')
      .sort((a, b) => b.raft.term - a.raft.term);
    const leader = leaders[0];
    if (!leader) return undefined;
    const followers = statuses.filter(
      (s) => s.raft.leader === leader.raft.id && s.raft.term === leader.raft.term,
    );
    return followers.length * 2 > leader.raft.conf.voters.length ? leader.raft.id : undefined;
  }

  /**
   * Until every member answers with the same applied index and revision (after the faults
   * are undone and the load stopped); returns that revision.
   */
  async waitConverged(timeoutMs = 30_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    let last = '';
    for (;;) {
      const all = await Promise.all(this.hosts.map((m) => this.status(m, 1_000)));
      const revisions = new Set(all.map((s) => s?.store.revision));
      const applied = new Set(all.map((s) => s?.store.appliedIndex));
      if (all.every((s) => s !== undefined) && revisions.size === 1 && applied.size === 1)
        return all[0]!.store.revision;
      last = JSON.stringify(all.map((s, i) => [this.hosts[i], s?.store.appliedIndex, s?.store.revision]));
      if (performance.now() > deadline)
        throw new Error(
          `members did not converge in ${timeoutMs} ms: ${last}; ${raftPicture(all)}; ${await this.routesPicture()}`,
        );
      await delay(100);
    }
  }

  /** Each host's NATS server: the servers its routes reach (from its monitoring port). */
  private async routesPicture(): Promise<string> {
    const rows = await Promise.all(
      this.hosts.map(async (m) => {
        const url = `http://${this.backend.address(m)}:${natsPorts.monitor}/routez`;
        const body = await fetch(url, { signal: AbortSignal.timeout(1_000) })
          .then((r) => r.json() as Promise<{ routes?: { remote_name?: string; ip?: string }[] }>)
          .catch((err: unknown) => ({ error: String(err) }));
        if ('error' in body) return `${m} routes: ${body.error}`;
        return `${m} routes to ${(body.routes ?? []).map((r) => r.remote_name ?? r.ip).join(',') || 'none'}`;
      }),
    );
    return rows.join('; ');
  }

  /** Each member's hash of the key space at `revision`. */
  async hashes(revision: number): Promise<Map<NodeId, string>> {
    const client = await this.admin();
    const out = new Map<NodeId, string>();
    for (const m of this.hosts) out.set(m, (await client.hash(m, revision)).hash);
    return out;
  }

  async isRunning(member: NodeId): Promise<boolean> {
    return this.backend.memberRunning(member);
  }

  isPaused(member: NodeId): boolean {
    return this.paused.has(member);
  }

  /** The member's log file (stdout and stderr of every incarnation). */
  memberLog(member: NodeId): string {
    return this.backend.memberLog(member);
  }

  // ---- the fault API ---------------------------------------------------------------------

  async kill(member: NodeId): Promise<void> {
    this.check(member);
    this.closeFaults('pause', member);
    this.paused.get(member)?.done();
    await this.backend.killMember(member);
    this.openFault('kill', [member], 'SIGKILL');
  }

  async pause(member: NodeId, ms?: number): Promise<void> {
    this.check(member);
    if (this.paused.has(member)) throw new Error(`${member} is already paused`);
    await this.backend.pauseMember(member);
    this.openFault('pause', [member], ms === undefined ? 'until resumed' : `${ms} ms`);
    const resumed = new Promise<void>((resolve) => {
      const entry: { timer?: NodeJS.Timeout; done: () => void } = { done: resolve };
      if (ms !== undefined)
        entry.timer = setTimeout(() => void this.resume(member).catch(() => undefined), ms);
      this.paused.set(member, entry);
    });
    if (ms !== undefined) await resumed;
  }

  async resume(member: NodeId): Promise<void> {
    const entry = this.paused.get(member);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.paused.delete(member);
    await this.backend.resumeMember(member);
    this.closeFaults('pause', member);
    entry.done();
  }

  async partition(a: readonly NodeId[], b: readonly NodeId[], options: PartitionOptions = {}): Promise<void> {
    for (const m of [...a, ...b]) this.check(m);
    const touched = this.partitions.cut(a, b, options.oneWay ?? false);
    await Promise.all(touched.map((m) => this.backend.dropFrom(m, this.partitions.dropsOf(m))));
    const kind: FaultKind = a.length === 1 && b.length === this.hosts.length - 1 ? 'isolate' : 'partition';
    this.openFault(
      kind,
      [...a, ...b],
      `[${a.join(',')}] ${options.oneWay ? '-/->' : '<-/->'} [${b.join(',')}]`,
    );
  }

  async isolate(member: NodeId): Promise<void> {
    await this.partition(
      [member],
      this.hosts.filter((m) => m !== member),
    );
  }

  async disconnect(member: NodeId): Promise<void> {
    this.check(member);
    if (this.disconnected.has(member)) return;
    await this.backend.disconnect(member);
    this.disconnected.add(member);
    this.openFault('disconnect', [member], 'network unplugged');
  }

  async heal(): Promise<void> {
    const dropping = this.partitions.healAll();
    await Promise.all(dropping.map((m) => this.backend.dropFrom(m, [])));
    for (const m of [...this.disconnected]) {
      await this.backend.reconnect(m);
      this.disconnected.delete(m);
    }
    const now = performance.now();
    for (const f of this.faults) {
      if (
        f.endMs === undefined &&
        (f.kind === 'partition' || f.kind === 'isolate' || f.kind === 'disconnect')
      )
        f.endMs = now;
    }
  }

  async restart(member: NodeId, options: RestartOptions = {}): Promise<void> {
    this.check(member);
    await this.resume(member);
    if (await this.backend.memberRunning(member)) {
      if (options.graceful) await this.backend.stopMember(member, 10_000);
      else await this.backend.killMember(member);
    }
    this.closeFaults('kill', member);
    const started = performance.now();
    await this.startMember(member, { failpoints: options.failpoints });
    this.faults.push({
      kind: 'restart',
      members: [member],
      detail: options.graceful ? 'graceful' : 'after SIGKILL',
      startMs: started,
      endMs: started,
    });
    if (options.wait ?? true) await this.waitServing(member);
  }

  async setFailpoint(member: NodeId, name: FailpointName, spec: FailpointSpec): Promise<FailpointStatus> {
    const status = await this.failpoints(member, (ref) => ref.ask('set', { name, spec }));
    this.openFault('failpoint', [member], `${name}: ${spec.action.kind}`);
    return status;
  }

  async clearFailpoint(member: NodeId, name?: FailpointName): Promise<FailpointStatus> {
    const status = await this.failpoints(member, (ref) => ref.ask('clear', { name }));
    const now = performance.now();
    for (const f of this.faults) {
      if (
        f.kind === 'failpoint' &&
        f.endMs === undefined &&
        f.members[0] === member &&
        (name === undefined || f.detail.startsWith(`${name}:`))
      )
        f.endMs = now;
    }
    return status;
  }

  async failpointStatus(member: NodeId): Promise<FailpointStatus> {
    return this.failpoints(member, (ref) => ref.ask('status', null));
  }

  // ---- membership and disaster recovery ------------------------------------------------

  /**
   * Replace a dead member by a fresh one on a new host: remove it from the configuration,
   * delete its host, start `fresh` empty, add it as a learner and promote it once it caught
   * up (the order `StoreClient.changeMembership` needs: one change at a time).
   */
  async replaceMember(
    dead: NodeId,
    fresh: NodeId,
    options: { promoteTimeoutMs?: number } = {},
  ): Promise<void> {
    this.check(dead);
    if (this.hosts.includes(fresh)) throw new RangeError(`${fresh} already exists`);
    const started = performance.now();
    const client = await this.admin();
    if (await this.backend.memberRunning(dead)) await this.backend.killMember(dead);
    this.closeFaults('kill', dead);
    await retryMembership(() => client.changeMembership({ type: 'remove', node: dead }));
    this.log.info({ dead }, 'removed from the configuration');
    await this.removeHost(dead);
    await this.addHosts([fresh]);
    await this.startMember(fresh, {});
    await retryMembership(() => client.changeMembership({ type: 'addLearner', node: fresh }));
    this.log.info({ fresh }, 'added as a learner');
    try {
      await this.promote(fresh, options.promoteTimeoutMs);
    } finally {
      this.faults.push({
        kind: 'membership',
        members: [dead, fresh],
        detail: `replaced ${dead} by ${fresh}`,
        startMs: started,
        endMs: performance.now(),
      });
    }
  }

  /**
   * Make a learner a voter, retrying while the leader judges it not caught up (bounded).
   * Throws PromotionStarvedError if it is still a learner when the time is up.
   */
  async promote(learner: NodeId, timeoutMs = membershipTimeoutMs): Promise<void> {
    const client = await this.admin();
    const deadline = performance.now() + timeoutMs;
    for (let attempt = 0; performance.now() < deadline; attempt++) {
      const promoted = await client.changeMembership({ type: 'promote', node: learner }).then(
        () => true,
        () => false,
      );
      if (promoted || (await client.members()).voters.includes(learner)) {
        this.log.info({ learner }, 'promoted');
        return;
      }
      await delay(Math.min(1_000, 100 * 2 ** attempt));
    }
    throw new PromotionStarvedError(learner, timeoutMs);
  }

  /**
   * Recover a cluster that lost quorum for good, by the documented procedure (docs/testing.md,
   * the same steps as `flo snapshot save` / `flo snapshot restore`): save a snapshot from
   * `survivor` (the member with the highest applied index), stop every member, set each
   * old data directory aside, prepare every member's directory from the snapshot with
   * `restoreMemberFromSnapshot`, and start them as a new cluster with the same members and
   * cluster id (so clients carry on). Resolves once the new cluster has a leader.
   */
  async recoverFromSnapshot(
    survivor: NodeId,
  ): Promise<{ appliedIndex: number; revision: number; file: string }> {
    this.check(survivor);
    const started = performance.now();
    const file = join(this.dir, `recovery-${Date.now()}.snap`);
    const out = createWriteStream(file);
    const system = await this.memberSystem(survivor);
    const client = new StoreClient({ system, clusterId: this.clusterId, timeoutMs: 30_000 });
    const info = await client.snapshot(
      (chunk) => new Promise((resolve, reject) => out.write(chunk, (e) => (e ? reject(e) : resolve()))),
      survivor,
    );
    await new Promise<void>((resolve) => out.end(resolve));
    await this.heal();
    for (const m of this.hosts) {
      await this.resume(m);
      if (await this.backend.memberRunning(m)) await this.backend.killMember(m);
      this.closeFaults('kill', m);
    }
    let restored = { appliedIndex: 0, revision: 0 };
    for (const m of this.hosts) {
      const dir = this.backend.memberDir(m);
      if (existsSync(dir)) renameSync(dir, `${dir}.lost-${Date.now()}`);
      restored = await restoreMemberFromSnapshot({ dir, snapshotFile: file, members: this.hosts });
    }
    for (const m of this.hosts) await this.startMember(m, {});
    await this.waitForLeader(30_000);
    this.faults.push({
      kind: 'restore',
      members: [...this.hosts],
      detail: `restored from ${survivor}'s snapshot at index ${info.appliedIndex}`,
      startMs: started,
      endMs: performance.now(),
    });
    return { ...restored, file };
  }

  /** Stop everything: clients, members, NATS servers, the hosts and their network. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of this.paused.values()) clearTimeout(p.timer);
    const systems = [...this.clientSystems, ...this.memberSystems.values()];
    if (this.adminSystem) systems.push(this.adminSystem);
    await Promise.all(systems.map((s) => s.shutdown({ timeoutMs: 500 }).catch(() => undefined)));
    await this.backend.destroy();
    this.unregister();
  }

  // ---- internals -------------------------------------------------------------------------

  private check(member: NodeId): void {
    if (!this.hosts.includes(member)) throw new RangeError(`no member ${member} (members: ${this.hosts})`);
  }

  private openFault(kind: FaultKind, members: readonly NodeId[], detail: string): void {
    this.faults.push({ kind, members, detail, startMs: performance.now() });
    this.log.info({ kind, members, detail }, 'fault');
  }

  private closeFaults(kind: FaultKind, member: NodeId): void {
    const now = performance.now();
    for (const f of this.faults)
      if (f.kind === kind && f.endMs === undefined && f.members.includes(member)) f.endMs = now;
  }

  private async addHosts(ids: readonly NodeId[]): Promise<void> {
    await this.backend.addHosts(ids, [...this.hosts]);
    this.hosts.push(...ids);
  }

  private async removeHost(id: NodeId): Promise<void> {
    // Out of the host list first, so no new connection to it is made from here on.
    this.hosts.splice(this.hosts.indexOf(id), 1);
    const system = this.memberSystems.get(id);
    this.memberSystems.delete(id);
    await system?.shutdown({ timeoutMs: 500 }).catch(() => undefined);
    await this.backend.removeHost(id);
    this.partitions.forget(id);
    this.disconnected.delete(id);
  }

  private async startMember(
    id: NodeId,
    options: { bootstrap?: readonly NodeId[]; failpoints?: RestartOptions['failpoints'] },
  ): Promise<void> {
    const active = { ...this.startFailpoints, ...options.failpoints };
    const failpoints = !this.armed ? '' : Object.keys(active).length > 0 ? JSON.stringify(active) : '1';
    await this.backend.startMember(id, {
      ...this.timing,
      id,
      clusterId: this.clusterId,
      bootstrap: options.bootstrap,
      failpoints,
    });
  }

  /** Until the member answers a status request (bounded). */
  async waitServing(member: NodeId, timeoutMs = memberServeTimeoutMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if ((await this.status(member, 500)) !== undefined) return;
      if (!(await this.backend.memberRunning(member)))
        throw new Error(`${member} exited while starting; see ${this.memberLog(member)}`);
      await delay(50);
    }
    throw new Error(`${member} did not serve within ${timeoutMs} ms; see ${this.memberLog(member)}`);
  }

  /**
   * A connection to the member's own NATS server, kept while the host exists. The first
   * connect fails fast instead of waiting: a poll that read the host list just before a
   * host was removed must not wait forever on a server that is gone.
   */
  private async memberSystem(member: NodeId): Promise<ActorSystem> {
    const cached = this.memberSystems.get(member);
    if (cached) return cached;
    this.check(member);
    const system = await ActorSystem.connect({
      servers: [this.backend.natsUrl(member)],
      log: silentLogger(),
      prefix: 'flotilla',
      name: `chaos-harness-${member}`,
      pingIntervalMs: 1_000,
      waitOnFirstConnect: false,
    });
    const raced = this.memberSystems.get(member);
    if (raced || !this.hosts.includes(member)) {
      // Another caller connected meanwhile, or the host was removed while we connected.
      await system.shutdown({ timeoutMs: 500 }).catch(() => undefined);
      if (raced) return raced;
      throw new RangeError(`${member} was removed`);
    }
    this.memberSystems.set(member, system);
    return system;
  }

  private async admin(): Promise<StoreClient> {
    if (!this.adminSystem) {
      this.adminSystem = await ActorSystem.connect({
        servers: this.backend.natsUrls(),
        log: silentLogger(),
        prefix: 'flotilla',
        name: 'chaos-admin',
        pingIntervalMs: 1_000,
      });
    }
    return new StoreClient({ system: this.adminSystem, clusterId: this.clusterId, timeoutMs: 20_000 });
  }

  private async failpoints<T>(
    member: NodeId,
    call: (ref: ActorRef<FailpointProtocol>) => Promise<T>,
  ): Promise<T> {
    this.check(member);
    if (!this.armed) throw new Error('this cluster was started with failpoints: false');
    const system = await this.memberSystem(member);
    return call(system.ref<FailpointProtocol>(failpointsActorName(`${this.clusterId}.${member}`)));
  }
}

async function createBackend(options: ChaosClusterOptions, dir: string): Promise<HostBackend> {
  const backend = options.backend ?? 'netns';
  if (typeof backend !== 'string') return backend;
  switch (backend) {
    case 'netns': {
      const { NetnsBackend } = await import('./netns/netns-backend.ts');
      return NetnsBackend.create({ dir, log: options.log, natsMaxPayloadBytes: options.natsMaxPayloadBytes });
    }
    case 'containers': {
      // Loaded only when asked for: testcontainers is a heavy import.
      const { ContainerBackend } = await import('./containers/container-backend.ts');
      return ContainerBackend.create({
        dir,
        log: options.log,
        dockerHost: options.dockerHost,
        natsMaxPayloadBytes: options.natsMaxPayloadBytes,
      });
    }
    default:
      return assertNever(backend, 'backend');
  }
}

/** The leader never judged a learner caught up in time (under load, its log trails the commit index). */
export class PromotionStarvedError extends FlotillaError {
  readonly learner: NodeId;
  constructor(learner: NodeId, timeoutMs: number) {
    super('PromotionStarved', `${learner} was not promoted within ${timeoutMs} ms: still a learner`, {
      learner,
    });
    this.learner = learner;
  }
}

/** Membership changes fail while a leader changes or a learner catches up: retry (bounded). */
/**
 * What each member's Raft says, and the leader's view of every peer: what a failure to
 * converge needs for its post-mortem (who leads, who is cut off, who is stuck in probing).
 */
function raftPicture(all: readonly (MemberStatus | undefined)[]): string {
  return all
    .map((s) => {
      if (!s) return 'no answer';
      const r = s.raft;
      const peers = Object.entries(r.progress)
        .map(
          ([id, p]) =>
            `${id} match ${p.match} next ${p.next} ${p.state}${p.recentActive ? '' : ' inactive'} inflight ${p.inflightMessages}`,
        )
        .join(', ');
      return `${r.id}: ${r.role} term ${r.term} leader ${r.leader ?? '-'} commit ${r.commit} applied ${r.applied} last ${r.lastIndex}${peers ? ` [${peers}]` : ''}`;
    })
    .join('; ');
}

async function retryMembership<T>(call: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + membershipTimeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (performance.now() > deadline) throw err;
      await delay(Math.min(1_000, 100 * 2 ** attempt));
    }
  }
}
