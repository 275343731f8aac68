import { randomInt } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ActorHost,
  type ActorSystem,
  ask,
  failpointEnabled,
  failpointsArmed,
  type Logger,
  type Registry,
  type StreamSink,
  stream,
} from '@flotilla/actor';
import { type ConfChange, type NodeId, NotLeaderError, RaftNode, type RaftNodeOptions } from '@flotilla/raft';
import { Lessor } from '../lease/lessor.ts';
import { encodeCommand } from '../mvcc/commands.ts';
import { autoCompactionRevision } from '../mvcc/compaction.ts';
import { InvalidRequestError, resultOrThrow } from '../mvcc/errors.ts';
import { StateMachine } from '../mvcc/state-machine.ts';
import type { ApplyResult, Command, CommandResult } from '../mvcc/types.ts';
import type { WatchRequest, WatchResponse } from '../watch/types.ts';
import { WatchHub } from '../watch/watch-hub.ts';
import { type ResponseHeader, type StoreProtocol, storeActorName } from './protocol.ts';
import { RaftStoreMachine } from './raft-machine.ts';

export interface StoreMemberOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  /** Holds `state/` (the LMDB backend) and `raft/` (WAL and snapshots). */
  readonly dir: string;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly registry: Registry;
  /** Founding voters of a new cluster (see RaftNode). */
  readonly bootstrap?: readonly NodeId[];
  /** Passed to the Raft node (timers, snapshot cadence, bounds). */
  readonly raft?: Partial<
    Omit<
      RaftNodeOptions,
      'id' | 'clusterId' | 'dir' | 'system' | 'log' | 'registry' | 'stateMachine' | 'bootstrap'
    >
  >;
  /** Keep the last N revisions (the leader proposes compactions); 0 = no automatic compaction. */
  readonly autoCompactionRetainRevisions?: number;
  readonly autoCompactionIntervalMs?: number;
  /** How often the lessor's due expiries and checkpoints are proposed while leading. */
  readonly leaseTickMs?: number;
  /** Watchers that asked for progress notifications get one this often. */
  readonly progressNotifyIntervalMs?: number;
  /** Proposals and reads wait at most this long (the caller's deadline may be shorter). */
  readonly requestTimeoutMs?: number;
}

const snapshotChunkBytes = 256 * 1024;
/** How long the broken build `store.ackBeforeSync` holds an acknowledged put before proposing it. */
const ackBeforeSyncLagMs = 50;

/**
 * One member of the store: the MVCC state machine on LMDB, replicated by a RaftNode, with
 * its watch hub and (while leading) the lessor, served on NATS. A write becomes a Raft
 * proposal (a follower's is forwarded to the leader by Raft) and is answered with the
 * result this member's state machine produced when it applied the entry; every member
 * produces the same, since apply is deterministic.
 */
export class StoreMember {
  readonly id: NodeId;
  readonly node: RaftNode;
  readonly mvcc: StateMachine;
  readonly hub: WatchHub;
  private readonly lessor: Lessor;
  private readonly options: StoreMemberOptions;
  private readonly log: Logger;
  private readonly hosts: ActorHost<StoreProtocol>[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly requestTimeoutMs: number;
  private stopping = false;

  private constructor(options: StoreMemberOptions, node: RaftNode, mvcc: StateMachine) {
    this.options = options;
    this.id = options.id;
    this.log = options.log.child({ component: 'store', member: options.id });
    this.node = node;
    this.mvcc = mvcc;
    this.hub = new WatchHub(mvcc);
    this.lessor = new Lessor(mvcc, { clock: () => performance.now(), log: this.log });
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
  }

  static async open(options: StoreMemberOptions): Promise<StoreMember> {
    const mvcc = StateMachine.open({
      dir: join(options.dir, 'state'),
      log: options.log,
      registry: options.registry,
      member: options.id,
    });
    const node = await RaftNode.open({
      ...options.raft,
      id: options.id,
      clusterId: options.clusterId,
      dir: join(options.dir, 'raft'),
      system: options.system,
      log: options.log,
      registry: options.registry,
      stateMachine: new RaftStoreMachine(mvcc),
      bootstrap: options.bootstrap,
    });
    const member = new StoreMember(options, node, mvcc);
    member.start();
    return member;
  }

  private start(): void {
    // The lessor keeps deadlines only while this member leads (etcd's primary lessor).
    this.node.onLeaderChange((_leader, isLeader) => {
      if (isLeader && !this.lessor.primary)
        this.lessor.promote(this.node.status().conf.voters.length > 1 ? 1_000 : 0);
      else if (!isLeader && this.lessor.primary) this.lessor.demote();
    });
    if (this.node.isLeader) this.lessor.promote();
    this.every(this.options.leaseTickMs ?? 500, () => this.proposeLeaseWork());
    const retain = this.options.autoCompactionRetainRevisions ?? 0;
    if (retain > 0)
      this.every(this.options.autoCompactionIntervalMs ?? 60_000, () => this.autoCompact(retain));
    this.every(this.options.progressNotifyIntervalMs ?? 5_000, () => this.hub.notifyProgress());
    const { system, clusterId } = this.options;
    for (const [name, queue] of [
      [storeActorName(clusterId), 'store'],
      [storeActorName(clusterId, this.id), undefined],
    ] as const) {
      this.hosts.push(
        system.spawn<StoreProtocol>({
          name,
          queue,
          logBindings: { component: 'store-server', member: this.id },
          handlers: this.handlers(),
        }),
      );
    }
  }

  /** Resolves once both actor names serve. */
  async ready(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.ready));
  }

  private every(ms: number, fn: () => void | Promise<void>): void {
    const t = setInterval(() => {
      if (!this.stopping)
        void Promise.resolve(fn()).catch((err: unknown) =>
          this.log.warn({ err }, 'periodic store work failed'),
        );
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  private header(): ResponseHeader {
    const st = this.node.status();
    return { member: this.id, leader: st.leader, raftTerm: st.term, revision: this.mvcc.revision };
  }

  /** Propose a command and return what applying it produced (a typed error for a refusal). */
  async propose(command: Command, timeoutMs = this.requestTimeoutMs): Promise<CommandResult> {
    const started = performance.now();
    // During an election, wait for its outcome rather than refuse at once: a refused client
    // backs off and would arrive some time after the new leader is ready.
    await this.node.settleElection(timeoutMs);
    const left = Math.max(1, timeoutMs - (performance.now() - started));
    const outcome = await this.node.propose(encodeCommand(command), { timeoutMs: left });
    const result = resultOrThrow(outcome.result as ApplyResult);
    if (result.kind === 'noop' || result.kind === 'alreadyApplied') {
      throw InvalidRequestError.of('command', `was applied as ${result.kind}`);
    }
    return result;
  }

  private async proposeLeaseWork(): Promise<void> {
    if (!this.node.isLeader) return;
    for (const command of this.lessor.due()) {
      await this.propose(command).catch((err: unknown) =>
        this.log.debug({ err, kind: command.kind }, 'lease command not applied'),
      );
    }
  }

  private async autoCompact(retain: number): Promise<void> {
    if (!this.node.isLeader) return;
    const revision = autoCompactionRevision(this.mvcc.status(), retain);
    if (revision !== undefined) await this.propose({ kind: 'compact', revision });
  }

  private requireLeader(): void {
    if (!this.node.isLeader) throw NotLeaderError.of(this.id, this.node.leaderId);
  }

  private handlers() {
    return {
      range: ask(
        async (req: { request: Parameters<StateMachine['range']>[0]; serializable?: boolean }, ctx) => {
          // The failpoint is a deliberately broken build for chaos tests to catch (stale reads).
          const skipReadIndex = failpointsArmed && failpointEnabled('store.readWithoutReadIndex');
          if (!req.serializable && !skipReadIndex) {
            await this.node.settleElection(Math.min(this.requestTimeoutMs, ctx.remainingMs()));
            await this.node.read({ timeoutMs: Math.min(this.requestTimeoutMs, ctx.remainingMs()) });
          }
          return { header: this.header(), result: this.mvcc.range(req.request) };
        },
      ),
      write: ask(async (req: { command: Command }, ctx) => {
        const kind = req.command.kind;
        if (kind === 'leaseGrant' || kind === 'leaseExpire' || kind === 'leaseCheckpoint') {
          throw InvalidRequestError.of('command.kind', `${kind} is not a client write`);
        }
        const timeoutMs = Math.min(this.requestTimeoutMs, ctx.remainingMs());
        if (
          failpointsArmed &&
          kind === 'put' &&
          this.node.isLeader &&
          failpointEnabled('store.ackBeforeSync')
        ) {
          // A deliberately broken build for chaos tests to catch (lost acknowledged writes): the
          // put is answered at once and proposed a moment later, so a crash loses what was
          // acknowledged in between, as a WAL that answers before it syncs loses its tail.
          setTimeout(
            () => void this.propose(req.command, timeoutMs).catch(() => undefined),
            ackBeforeSyncLagMs,
          );
          return {
            header: this.header(),
            result: { kind: 'put' as const, revision: this.mvcc.revision + 1 },
          };
        }
        const result = await this.propose(req.command, timeoutMs);
        return { header: this.header(), result };
      }),
      leaseGrant: ask(async (req: { ttlSeconds: number; id?: number; requestId: string }, ctx) => {
        // The id is chosen here, once, and travels in the command: every member applies the same.
        const id = req.id && req.id > 0 ? req.id : randomInt(1, 2 ** 47);
        const ttlSeconds = this.lessor.grantTtlSeconds(req.ttlSeconds);
        const result = await this.propose(
          { kind: 'leaseGrant', id, ttlSeconds, requestId: req.requestId },
          Math.min(this.requestTimeoutMs, ctx.remainingMs()),
        );
        if (result.kind !== 'leaseGrant')
          throw InvalidRequestError.of('result', `${result.kind} is not a lease grant`);
        return { header: this.header(), id: result.id, ttlSeconds: result.ttlSeconds };
      }),
      leaseKeepAlive: ask((req: { id: number }) => {
        this.requireLeader();
        return { header: this.header(), ttlSeconds: this.lessor.renew(req.id).ttlSeconds };
      }),
      leaseTimeToLive: ask((req: { id: number; keys?: boolean }) => {
        this.requireLeader();
        const record = this.mvcc.lease(req.id);
        if (!record) return { header: this.header(), id: req.id, ttlSeconds: -1, grantedTtlSeconds: 0 };
        const ttl = this.lessor.timeToLive(req.id);
        return {
          header: this.header(),
          id: req.id,
          ttlSeconds: ttl.remainingSeconds,
          grantedTtlSeconds: ttl.grantedTtlSeconds,
          ...(req.keys && { keys: record.keys }),
        };
      }),
      leases: ask(() => ({ header: this.header(), leases: this.mvcc.leases() })),
      watch: stream((req: WatchRequest, sink: StreamSink<WatchResponse>) => this.serveWatch(req, sink)),
      status: ask(() => ({ header: this.header(), raft: this.node.status(), store: this.mvcc.status() })),
      hash: ask((req: { revision: number }) => ({ header: this.header(), ...this.mvcc.hash(req.revision) })),
      members: ask(() => ({ header: this.header(), conf: this.node.status().conf })),
      changeMembership: ask(async (req: { change: ConfChange; timeoutMs?: number }) => {
        const conf = await this.node.changeMembership(req.change, { timeoutMs: req.timeoutMs ?? 30_000 });
        return { header: this.header(), conf };
      }),
      transferLeadership: ask(async (req: { to?: NodeId }) => ({
        leader: await this.node.transferLeadership(req.to),
      })),
      snapshot: stream(
        (_req: null, sink: StreamSink<{ chunk: Uint8Array; appliedIndex: number; totalBytes: number }>) =>
          this.serveSnapshot(sink),
      ),
    };
  }

  private async serveWatch(req: WatchRequest, sink: StreamSink<WatchResponse>): Promise<void> {
    const watcher = this.hub.watch(req);
    const onAbort = () => watcher.close();
    sink.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const response of watcher) await sink.send(response);
      // The hub ended the watch (closing): let the client resume elsewhere.
      sink.end();
    } catch (err) {
      // A cancelled watcher (slow, compacted) or a closed stream.
      if (!sink.closed) sink.fail(err);
    } finally {
      sink.signal.removeEventListener('abort', onAbort);
      watcher.close();
    }
  }

  private async serveSnapshot(
    sink: StreamSink<{ chunk: Uint8Array; appliedIndex: number; totalBytes: number }>,
  ): Promise<void> {
    const dir = await mkdtemp(join(this.options.dir, 'snapshot-save-'));
    try {
      const file = join(dir, 'snapshot');
      const info = await this.mvcc.snapshot(file);
      const fh = await open(file, 'r');
      try {
        const totalBytes = (await fh.stat()).size;
        for (let offset = 0; offset < totalBytes && !sink.closed; offset += snapshotChunkBytes) {
          const buf = Buffer.allocUnsafe(Math.min(snapshotChunkBytes, totalBytes - offset));
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          await sink.send({ chunk: buf.subarray(0, bytesRead), appliedIndex: info.appliedIndex, totalBytes });
        }
      } finally {
        await fh.close();
      }
      sink.end();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Stop serving, hand over leadership if leading, close the backend. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.hosts.map((h) => h.stop(5_000)));
    this.hub.close();
    await this.node.stop({ transfer: true });
    this.lessor.close();
    await this.mvcc.close();
  }
}
