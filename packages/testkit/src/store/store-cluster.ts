import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ActorSystem, type Logger, silentLogger } from '@flotilla/actor';
import type { NodeId } from '@flotilla/raft';
import { type MemberStatus, StoreClient, type StoreClientOptions } from '@flotilla/store';
import { type NatsCluster, startNats } from '../nats.ts';
import { ManagedProcess } from '../process.ts';
import { tempDir } from '../tmp.ts';

const memberMain = fileURLToPath(new URL('./store-member-main.ts', import.meta.url));

/** How the harness starts a store member process (JSON in FLOTILLA_STORE_CONFIG). */
export interface StoreMemberConfig {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly dir: string;
  readonly nats: readonly string[];
  readonly bootstrap?: readonly NodeId[];
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotCatchUpEntries: number;
  readonly autoCompactionRetainRevisions: number;
  readonly logLevel: string;
}

export interface StoreClusterOptions {
  readonly members?: readonly NodeId[];
  readonly nats?: NatsCluster;
  /**
   * Each member talks only to "its" NATS server (as on a real control-plane machine), so
   * pausing or killing that server cuts the member off. Default true.
   */
  readonly oneServerPerMember?: boolean;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEveryEntries?: number;
  readonly snapshotCatchUpEntries?: number;
  readonly autoCompactionRetainRevisions?: number;
  readonly logLevel?: string;
  readonly dir?: string;
  /** Use these member directories as they are (e.g. prepared by restoreMemberFromSnapshot). */
  readonly memberDirs?: Readonly<Record<NodeId, string>>;
  readonly clusterId?: string;
}

/**
 * A store of real member processes on a real NATS cluster, with the faults chaos tests
 * need. Cleaned up when the test file ends.
 */
export class StoreCluster {
  readonly clusterId: string;
  readonly nats: NatsCluster;
  readonly members = new Map<
    NodeId,
    { id: NodeId; dir: string; process: ManagedProcess; natsIndex: number }
  >();
  readonly dir: string;
  system!: ActorSystem;
  private readonly options: Required<
    Omit<StoreClusterOptions, 'nats' | 'members' | 'dir' | 'memberDirs' | 'clusterId'>
  >;
  private readonly memberDirs: Readonly<Record<NodeId, string>>;

  private constructor(nats: NatsCluster, options: StoreClusterOptions) {
    this.nats = nats;
    this.dir = options.dir ?? tempDir('store');
    this.clusterId = options.clusterId ?? `s${Math.floor(Math.random() * 1e9).toString(36)}`;
    this.memberDirs = options.memberDirs ?? {};
    this.options = {
      oneServerPerMember: options.oneServerPerMember ?? true,
      tickMs: options.tickMs ?? 100,
      electionTicks: options.electionTicks ?? 10,
      snapshotEveryEntries: options.snapshotEveryEntries ?? 10_000,
      snapshotCatchUpEntries: options.snapshotCatchUpEntries ?? 1_000,
      autoCompactionRetainRevisions: options.autoCompactionRetainRevisions ?? 0,
      logLevel: options.logLevel ?? process.env.FLOTILLA_MEMBER_LOG_LEVEL ?? 'info',
    };
  }

  static async start(options: StoreClusterOptions = {}, log: Logger = silentLogger()): Promise<StoreCluster> {
    const nats = options.nats ?? (await startNats({ size: 3 }));
    const cluster = new StoreCluster(nats, options);
    cluster.system = await ActorSystem.connect({
      servers: nats.urls,
      log,
      prefix: 'flotilla',
      name: 'store-harness',
    });
    const ids = options.members ?? ['m1', 'm2', 'm3'];
    for (const id of ids) cluster.spawn(id, options.memberDirs ? undefined : ids);
    return cluster;
  }

  spawn(id: NodeId, bootstrap?: readonly NodeId[]): void {
    const natsIndex = this.members.size % this.nats.urls.length;
    const dir = this.memberDirs[id] ?? join(this.dir, id);
    const urls = this.nats.urls;
    const nats = this.options.oneServerPerMember
      ? [urls[natsIndex]!]
      : [...urls.slice(natsIndex), ...urls.slice(0, natsIndex)];
    const { oneServerPerMember: _, ...timing } = this.options;
    const config: StoreMemberConfig = { id, clusterId: this.clusterId, dir, nats, bootstrap, ...timing };
    const proc = new ManagedProcess({
      name: `store-${id}`,
      command: process.execPath,
      args: [memberMain],
      env: { FLOTILLA_STORE_CONFIG: JSON.stringify(config) },
      logFile: join(this.dir, `${id}.log`),
    }).start();
    this.members.set(id, { id, dir, process: proc, natsIndex });
  }

  member(id: NodeId) {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  /** A client on its own connection to every NATS server. */
  async client(
    options: Partial<Omit<StoreClientOptions, 'system' | 'clusterId'>> = {},
  ): Promise<StoreClient> {
    const system = await ActorSystem.connect({
      servers: this.nats.urls,
      log: silentLogger(),
      prefix: 'flotilla',
      name: 'store-client',
      pingIntervalMs: 1_000,
    });
    this.clientSystems.push(system);
    return new StoreClient({ system, clusterId: this.clusterId, ...options });
  }
  private readonly clientSystems: ActorSystem[] = [];

  async status(id: NodeId, timeoutMs = 1_000): Promise<MemberStatus | undefined> {
    const client = new StoreClient({
      system: this.system,
      clusterId: this.clusterId,
      timeoutMs,
      attemptTimeoutMs: timeoutMs,
    });
    return client.status(id).catch(() => undefined);
  }

  async waitForLeader(timeoutMs = 15_000): Promise<NodeId> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const live = [...this.members.values()].filter((m) => m.process.running && !m.process.isPaused);
      const statuses = (await Promise.all(live.map((m) => this.status(m.id, 500)))).filter(
        (s) => s !== undefined,
      );
      const leader = statuses.find((s) => s.raft.role === 'leader');
      if (
        leader &&
        statuses.filter((s) => s.raft.leader === leader.raft.id).length * 2 > leader.raft.conf.voters.length
      ) {
        return leader.raft.id;
      }
      await delay(50);
    }
    throw new Error(`no store leader within ${timeoutMs} ms`);
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
  async terminate(id: NodeId): Promise<void> {
    await this.member(id).process.stop(10_000);
  }
  /** Cut `id` off from the others by pausing the NATS server it talks to (oneServerPerMember). */
  isolate(id: NodeId): void {
    this.nats.pause(this.member(id).natsIndex);
  }
  heal(id: NodeId): void {
    this.nats.resume(this.member(id).natsIndex);
  }

  async stop(): Promise<void> {
    await Promise.all(this.clientSystems.map((s) => s.shutdown({ timeoutMs: 500 })));
    await Promise.all([...this.members.values()].map((m) => m.process.dispose()));
    await this.system.shutdown({ timeoutMs: 500 });
  }
}
