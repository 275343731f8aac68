import { mkdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type ActorSystem,
  assert,
  failpoint,
  failpointsArmed,
  type Logger,
  type Registry,
} from '@flotilla/actor';
import {
  type ConfChange,
  type DropReason,
  type Message,
  Raft,
  type RaftConfig,
  type Ready,
  type RestoreState,
  type Status,
} from '../core/index.ts';
import type { ConfState, Entry, HardState, NodeId, SnapshotMeta } from '../core/types.ts';
import { openSnapshotStore, openWal, type SnapshotStore, type Wal } from '../storage/index.ts';
import { unwrapProposal, wrapProposal } from './envelope.ts';
import { NotLeaderError, ProposalDroppedError, ProposalTimeoutError, RaftStoppedError } from './errors.ts';
import { type RaftMetrics, raftMetrics } from './metrics.ts';
import { seededRandom } from './random.ts';
import type { Command, StateMachine } from './state-machine.ts';
import { Transport } from './transport.ts';

export interface RaftNodeOptions {
  readonly id: NodeId;
  /** Names the cluster on NATS: members of different clusters never hear each other. */
  readonly clusterId: string;
  /** Holds `wal/` and `snap/`. */
  readonly dir: string;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly registry: Registry;
  readonly stateMachine: StateMachine;
  /**
   * Start a new cluster with these voters (this member among them). Ignored when `dir`
   * already holds state. Without it, an empty member waits to be added by a leader.
   */
  readonly bootstrap?: readonly NodeId[];
  /** One tick; etcd's default heartbeat interval. */
  readonly tickMs?: number;
  /** Election timeout in ticks (T; the actual timeout is drawn in [T, 2T)). */
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Take a snapshot (and compact the log) after this many applied entries. */
  readonly snapshotEveryEntries?: number;
  /** Entries kept in the log behind a snapshot, so that a briefly lagging follower needs no snapshot. */
  readonly snapshotCatchUpEntries?: number;
  readonly proposalTimeoutMs?: number;
  readonly maxPendingProposals?: number;
  readonly walSegmentBytes?: number;
  /** Anything else for the core (bounds, preVote, checkQuorum, ...). */
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'random'>>;
}

export interface ProposalOutcome {
  readonly index: number;
  readonly term: number;
  /** What the state machine returned for this command. */
  readonly result: unknown;
}

export interface NodeStatus extends Status {
  readonly pendingProposals: number;
}

interface Waiter<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (err: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A Raft member: the pure core driven by real time, a real disk and NATS.
 *
 * The Ready loop keeps the order Raft's safety needs: persist the hard state and entries
 * (fdatasync), then send messages (a vote or an append acknowledgement is never sent
 * before it is durable), then apply committed entries, then `advance()`.
 */
/** Entry bytes per append message (the core's default, 1 MiB, is NATS' whole payload limit). */
const defaultMaxMessageBytes = 256 * 1024;

/** An upper bound of a message's encoded size: its entries' data plus generous framing. */
function raftMessageBytes(m: Message): number {
  let bytes = 256;
  if ('entries' in m) for (const e of m.entries) bytes += e.data.byteLength + 48;
  return bytes;
}

export class RaftNode {
  readonly id: NodeId;
  private readonly log: Logger;
  private readonly core: Raft;
  private readonly wal: Wal;
  private readonly snapshots: SnapshotStore;
  private readonly transport: Transport<Message>;
  private readonly sm: StateMachine;
  private readonly metrics: RaftMetrics;
  private readonly tickMs: number;
  private readonly electionTimeoutMs: number;
  private readonly proposalTimeoutMs: number;
  private readonly maxPendingProposals: number;
  private readonly snapshotEveryEntries: number;
  private readonly snapshotCatchUpEntries: number;
  /** Distinguishes this process's proposal ids from those of earlier runs of the member. */
  private readonly incarnation = Math.floor(Math.random() * 2 ** 32).toString(36);
  private seq = 0;
  private ticker: NodeJS.Timeout | undefined;
  private looping = false;
  private stopped = false;
  private loopIdle: Promise<void> = Promise.resolve();
  private applied: number;
  private snapshotIndex: number;
  /** The hard state last handed to the WAL. */
  private lastHardState: HardState;
  private snapshotting = false;
  private pendingCompaction: SnapshotMeta | undefined;
  private leader: NodeId | null = null;
  /** When this member last lost its leader (or started without one). */
  private leaderLostAt = performance.now();
  private role = 'follower';
  private readonly proposals = new Map<string, Waiter<ProposalOutcome>>();
  private readonly reads = new Map<string, Waiter<number> & { index?: number }>();
  private readonly confWaiters = new Map<number, Waiter<ConfState>>();
  private readonly leaderWatchers = new Set<() => void>();
  /**
   * Proposals and reads that were waiting when the known leader changed (ids): they went to
   * (or were appended by) a leader that may never answer. Once the Ready that changed the
   * leader is applied, those still waiting end with an unknown outcome instead of waiting out
   * their timeouts, so that callers retry at the new leader.
   */
  private orphaned: { readonly previous: NodeId; readonly proposals: string[]; readonly reads: string[] }[] =
    [];
  private readonly leaderListeners = new Set<(leader: NodeId | null, isLeader: boolean) => void>();
  private readonly unreachableReportedAt = new Map<NodeId, number>();

  private constructor(
    options: RaftNodeOptions,
    parts: {
      core: Raft;
      wal: Wal;
      snapshots: SnapshotStore;
      applied: number;
      snapshotIndex: number;
      hardState: HardState;
    },
  ) {
    this.id = options.id;
    this.log = options.log.child({ component: 'raft', member: options.id });
    this.core = parts.core;
    this.wal = parts.wal;
    this.snapshots = parts.snapshots;
    this.sm = options.stateMachine;
    this.applied = parts.applied;
    this.lastHardState = parts.hardState;
    this.snapshotIndex = parts.snapshotIndex;
    this.metrics = raftMetrics(options.registry);
    this.tickMs = options.tickMs ?? 100;
    this.electionTimeoutMs = this.tickMs * (options.electionTicks ?? 10);
    this.proposalTimeoutMs = options.proposalTimeoutMs ?? 5_000;
    this.maxPendingProposals = options.maxPendingProposals ?? 10_000;
    this.snapshotEveryEntries = options.snapshotEveryEntries ?? 10_000;
    this.snapshotCatchUpEntries = options.snapshotCatchUpEntries ?? 1_000;
    this.transport = new Transport<Message>({
      system: options.system,
      clusterId: options.clusterId,
      self: options.id,
      log: this.log,
      snapshots: this.snapshots,
      deliver: (messages) => {
        if (this.stopped) return;
        for (const m of messages) this.step(m);
        this.kick();
      },
      messageBytes: raftMessageBytes,
      deliverSnapshot: (message) => {
        if (this.stopped) return;
        this.metrics.snapshots.inc({ kind: 'received' });
        this.step(message);
        this.kick();
      },
    });
  }

  /** Recover from `dir` (or bootstrap), join the transport, and start ticking. */
  static async open(options: RaftNodeOptions): Promise<RaftNode> {
    const log = options.log.child({ component: 'raft', member: options.id });
    mkdirSync(options.dir, { recursive: true });
    const snapshots = await openSnapshotStore(join(options.dir, 'snap'), { log });
    const { wal, recovered } = await openWal(join(options.dir, 'wal'), {
      log,
      registry: options.registry,
      segmentBytes: options.walSegmentBytes,
    });
    const sm = options.stateMachine;
    const latest = await snapshots.latest();
    if (latest && sm.appliedIndex() < latest.meta.index) {
      log.info({ index: latest.meta.index }, 'restoring the state machine from the latest snapshot');
      await sm.restore(latest.path, latest.meta);
    }
    const snapMeta = latest?.meta;
    const snapIndex = snapMeta?.index ?? 0;
    let kept = recovered.entries;
    if (snapMeta && snapIndex > (recovered.snapshot?.index ?? 0)) {
      // A snapshot the WAL has no marker for: the process died between storing it and
      // recording it (a snapshot from the leader that was never installed, or one of our
      // own). Record it now, as the install would have, with the same rule for the log
      // (Raft §7): the entries after it stay only if the log holds its last entry with its
      // term; otherwise the log is another history and is discarded. Without the marker the
      // WAL would refuse the next entry after the snapshot as a gap.
      const holds = recovered.entries.some((e) => e.index === snapIndex && e.term === snapMeta.term);
      if (!holds) kept = [];
      wal.recordSnapshot(snapMeta);
      await wal.sync();
      log.info(
        { index: snapIndex, term: snapMeta.term, logKept: holds },
        'recorded a stored snapshot the WAL had no marker for',
      );
    }
    const entries = kept.filter((e) => e.index > snapIndex);
    if (entries.length > 0 && entries[0]!.index !== snapIndex + 1) {
      throw new Error(
        `log does not continue the snapshot: snapshot ends at ${snapIndex}, log starts at ${entries[0]!.index} (${options.dir})`,
      );
    }
    const applied = Math.max(sm.appliedIndex(), snapIndex);
    const lastIndex = entries.at(-1)?.index ?? snapIndex;
    if (applied > lastIndex) {
      throw new Error(
        `the state machine applied ${applied} but the log ends at ${lastIndex}: the WAL lost synced entries (${options.dir})`,
      );
    }
    // A commit-only hard state is not waited for (see handleReady), so the WAL's commit
    // index can trail what the state machine durably applied. Applied entries were
    // committed, so the commit index is at least the applied one.
    const hardState = { ...recovered.hardState, commit: Math.max(recovered.hardState.commit, applied) };
    const fresh = recovered.hardState.term === 0 && entries.length === 0 && !snapMeta;
    const restore: RestoreState = {
      hardState,
      snapshot: snapMeta,
      entries,
      applied,
      bootstrap:
        fresh && options.bootstrap ? { voters: [...options.bootstrap].sort(), learners: [] } : undefined,
    };
    const core = new Raft(
      {
        // One append must fit one NATS publish (1 MiB by default) with room to spare.
        maxMessageBytes: defaultMaxMessageBytes,
        ...options.raft,
        id: options.id,
        electionTicks: options.electionTicks ?? 10,
        heartbeatTicks: options.heartbeatTicks ?? 1,
        random: seededRandom(),
      },
      restore,
    );
    const node = new RaftNode(options, {
      core,
      wal,
      snapshots,
      applied,
      snapshotIndex: snapIndex,
      hardState,
    });
    await node.transport.start();
    node.ticker = setInterval(() => node.onTick(), node.tickMs);
    log.info(
      {
        term: recovered.hardState.term,
        applied,
        snapshot: snapIndex,
        lastIndex: entries.at(-1)?.index ?? snapIndex,
      },
      'raft node started',
    );
    node.kick();
    return node;
  }

  status(): NodeStatus {
    return { ...this.core.status(), pendingProposals: this.proposals.size };
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  get leaderId(): NodeId | null {
    return this.leader;
  }

  /** Call `listener` whenever the known leader or this member's role changes. */
  onLeaderChange(listener: (leader: NodeId | null, isLeader: boolean) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** Resolve once this member knows a leader (any member). */
  async waitForLeader(timeoutMs: number): Promise<NodeId> {
    const deadline = performance.now() + timeoutMs;
    while (this.leader === null) {
      if (this.stopped) throw new RaftStoppedError();
      const left = deadline - performance.now();
      if (left <= 0) throw new ProposalTimeoutError(`${this.id}: no leader within ${timeoutMs} ms`);
      await this.nextLeaderChange(left);
    }
    return this.leader;
  }

  /**
   * While this member knows no leader because an election is under way (it lost its leader
   * less than two election timeouts ago), wait for the election's outcome, within `timeoutMs`.
   * Returns at once when a leader is known, or when this member has been leaderless for
   * longer (most likely cut off in a minority): a proposal or read then gets the usual
   * `NotLeaderError` at once and the caller looks elsewhere.
   */
  async settleElection(timeoutMs: number): Promise<void> {
    if (this.leader !== null) return;
    const left = Math.min(timeoutMs, this.leaderLostAt + 2 * this.electionTimeoutMs - performance.now());
    if (left <= 0) return;
    await this.waitForLeader(left).catch(() => undefined);
  }

  /**
   * Replicate `payload` and apply it. Resolves with the entry's index and term and the
   * state machine's result once this member applied it; rejects with `NotLeaderError`,
   * `ProposalDroppedError` (nothing was appended) or `ProposalTimeoutError` (unknown
   * outcome: it may still commit), at the timeout or as soon as the leader it went to is
   * known to have lost leadership.
   */
  propose(payload: Uint8Array, options: { timeoutMs?: number } = {}): Promise<ProposalOutcome> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    if (this.proposals.size >= this.maxPendingProposals) {
      this.metrics.proposals.inc({ outcome: 'dropped' });
      return Promise.reject(
        ProposalDroppedError.of(`more than ${this.maxPendingProposals} proposals pending`),
      );
    }
    this.seq += 1;
    const id = `${this.id}.${this.incarnation}.${this.seq.toString(36)}`;
    const verdict = this.core.propose(wrapProposal(id, payload));
    if (!verdict.ok) return Promise.reject(this.dropError(verdict.reason, verdict.detail));
    this.kick();
    const timeoutMs = options.timeoutMs ?? this.proposalTimeoutMs;
    return new Promise<ProposalOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(id);
        this.metrics.proposals.inc({ outcome: 'timeout' });
        reject(
          new ProposalTimeoutError(`proposal ${id} not applied within ${timeoutMs} ms (outcome unknown)`),
        );
      }, timeoutMs);
      this.proposals.set(id, { resolve, reject, timer });
    });
  }

  /**
   * A linearizable read barrier (ReadIndex, thesis §6.4): resolves with an index once the
   * leader confirmed it still leads and this member has applied up to that index. Reading
   * the state machine after that sees every write acknowledged before `read()` was called.
   */
  read(options: { timeoutMs?: number } = {}): Promise<number> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    this.seq += 1;
    const context = `${this.id}.${this.incarnation}.r${this.seq.toString(36)}`;
    const verdict = this.core.readIndex(context);
    if (!verdict.ok) return Promise.reject(this.dropError(verdict.reason, verdict.detail));
    this.kick();
    const timeoutMs = options.timeoutMs ?? this.proposalTimeoutMs;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(context);
        reject(new ProposalTimeoutError(`read index not confirmed within ${timeoutMs} ms`));
      }, timeoutMs);
      this.reads.set(context, { resolve, reject, timer });
    });
  }

  /**
   * Hand leadership to `to` (default: the most caught-up voter). Resolves with the new
   * leader once this member has seen it take over.
   */
  async transferLeadership(to?: NodeId, options: { timeoutMs?: number } = {}): Promise<NodeId> {
    if (!this.isLeader) throw NotLeaderError.of(this.id, this.leader);
    const target = to ?? this.mostCaughtUpVoter();
    if (!target) throw ProposalDroppedError.of('no other voter to transfer leadership to');
    const verdict = this.core.transferLeader(target);
    if (!verdict.ok) throw this.dropError(verdict.reason, verdict.detail);
    this.kick();
    const deadline = performance.now() + (options.timeoutMs ?? 3 * this.electionTimeoutMs);
    while (this.leader === this.id || this.leader === null) {
      const left = deadline - performance.now();
      if (left <= 0 || this.stopped)
        throw new ProposalTimeoutError(`leadership transfer to ${target} did not complete`);
      await this.nextLeaderChange(left);
    }
    return this.leader;
  }

  /**
   * Propose a membership change and resolve with the configuration once it is applied
   * here. `promote` waits (retrying each tick) until the leader judges the learner caught up.
   */
  async changeMembership(change: ConfChange, options: { timeoutMs?: number } = {}): Promise<ConfState> {
    const timeoutMs = options.timeoutMs ?? this.proposalTimeoutMs;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.stopped) throw new RaftStoppedError();
      if (!this.isLeader) throw NotLeaderError.of(this.id, this.leader);
      const verdict = this.core.proposeConfChange(change);
      if (verdict.ok) {
        const index = verdict.index;
        assert(index !== undefined, 'a leader accepting a change knows its index');
        this.kick();
        return new Promise<ConfState>((resolve, reject) => {
          const timer = setTimeout(
            () => {
              this.confWaiters.delete(index);
              reject(new ProposalTimeoutError(`membership change at ${index} not applied in time`));
            },
            Math.max(1, deadline - performance.now()),
          );
          this.confWaiters.set(index, { resolve, reject, timer });
        });
      }
      // Worth waiting for: the learner catching up, the previous change committing, the new
      // leader committing its first entry.
      const retryable =
        verdict.reason === 'learnerNotCaughtUp' ||
        verdict.reason === 'confChangePending' ||
        verdict.reason === 'leaderNotReady';
      if (!retryable || performance.now() + this.tickMs > deadline)
        throw this.dropError(verdict.reason, verdict.detail);
      await new Promise((r) => setTimeout(r, this.tickMs));
    }
  }

  /**
   * Stop. A leader first hands leadership to the most caught-up follower (so that a
   * rolling restart costs no election timeout), unless `transfer` is false.
   */
  async stop(options: { transfer?: boolean; transferTimeoutMs?: number } = {}): Promise<void> {
    if (this.stopped) return;
    if ((options.transfer ?? true) && this.isLeader && this.core.confState.voters.length > 1) {
      try {
        const to = await this.transferLeadership(undefined, {
          timeoutMs: options.transferTimeoutMs ?? 2_000,
        });
        this.log.info({ to }, 'handed over leadership before stopping');
      } catch (err) {
        this.log.warn({ err }, 'could not hand over leadership before stopping');
      }
    }
    this.stopped = true;
    clearInterval(this.ticker);
    await this.transport.stop();
    await this.loopIdle;
    await this.wal.close();
    const err = new RaftStoppedError();
    for (const w of [...this.proposals.values(), ...this.reads.values(), ...this.confWaiters.values()]) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.proposals.clear();
    this.reads.clear();
    this.confWaiters.clear();
    for (const w of this.leaderWatchers) w();
    this.log.info('raft node stopped');
  }

  private dropError(reason: DropReason, detail?: string): Error {
    const notLeader = reason === 'notLeader' || reason === 'forwardingDisabled';
    this.metrics.proposals.inc({ outcome: notLeader ? 'not-leader' : 'dropped' });
    return notLeader
      ? NotLeaderError.of(this.id, this.leader)
      : ProposalDroppedError.of(detail ? `${reason} (${detail})` : reason);
  }

  private mostCaughtUpVoter(): NodeId | undefined {
    const st = this.core.status();
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const [peer, p] of Object.entries(st.progress)) {
      if (peer === this.id || !st.conf.voters.includes(peer)) continue;
      if (p.match > bestMatch) {
        best = peer;
        bestMatch = p.match;
      }
    }
    return best;
  }

  private nextLeaderChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const watchers = this.leaderWatchers;
      function done() {
        clearTimeout(timer);
        watchers.delete(done);
        resolve();
      }
      watchers.add(done);
    });
  }

  /**
   * Step a peer's message. A broken invariant (say, a leader's commit index past our log
   * because our disk lost acknowledged entries) stops the process loudly: serving on would
   * corrupt data quietly.
   */
  private step(message: Message): void {
    try {
      this.core.step(message);
    } catch (err) {
      this.crash(err, 'raft invariant broken while stepping a message');
    }
  }

  private crash(err: unknown, why: string): never {
    this.log.fatal({ err }, `${why}; stopping the process to protect the log`);
    process.exit(70);
  }

  private onTick(): void {
    if (this.stopped) return;
    this.core.tick();
    if (this.isLeader) this.reportSilentPeers();
    this.kick();
  }

  /** A peer silent for an election timeout goes back to probing (no blind pipelining into the void). */
  private reportSilentPeers(): void {
    const now = performance.now();
    const conf = this.core.confState;
    for (const peer of [...conf.voters, ...conf.learners]) {
      if (peer === this.id || this.transport.silenceMs(peer) < this.electionTimeoutMs) continue;
      const last = this.unreachableReportedAt.get(peer) ?? Number.NEGATIVE_INFINITY;
      if (now - last < this.electionTimeoutMs) continue;
      this.unreachableReportedAt.set(peer, now);
      this.core.reportUnreachable(peer);
    }
  }

  /** Run the Ready loop if it is not running; it drains everything the core has to say. */
  private kick(): void {
    if (this.looping || this.stopped) return;
    this.looping = true;
    this.loopIdle = this.runLoop().then(
      () => {
        this.looping = false;
        // Something may have arrived between the loop's last check and now.
        if (!this.stopped && this.core.hasReady()) this.kick();
      },
      (err: unknown) => {
        this.looping = false;
        // A failed fsync or apply leaves the member in an unknown state: crash, restart clean.
        this.crash(err, 'raft loop failed');
      },
    );
  }

  private async runLoop(): Promise<void> {
    while (!this.stopped) {
      if (this.pendingCompaction) this.compactTo(this.pendingCompaction);
      if (!this.core.hasReady()) return;
      await this.handleReady(this.core.ready());
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.leader, rd.softState.role);
    if (rd.snapshot) await this.installSnapshot(rd.snapshot);
    // Thesis §10.2.1: a leader may replicate in parallel with writing its own log, because its
    // own copy counts toward the commit only after advance(). Responses and votes still wait
    // for the sync, and nothing goes early when this Ready changes the term or vote.
    const early = this.role === 'leader' && !this.termOrVoteChanged(rd.hardState);
    if (early) this.sendMessages(rd.messages);
    if (rd.entries.length > 0 || rd.hardState) {
      this.wal.append(rd.entries, rd.hardState);
      // A new commit index alone need not be durable before anything else happens: after a
      // crash it is learned again from the leader. Entries, term and vote must be (§5.1).
      if (rd.entries.length > 0 || this.termOrVoteChanged(rd.hardState)) await this.wal.sync();
    }
    if (rd.hardState) {
      this.metrics.term.set(rd.hardState.term);
      this.lastHardState = rd.hardState;
    }
    if (!early) this.sendMessages(rd.messages);
    if (rd.committed.length > 0) await this.applyCommitted(rd.committed);
    for (const rs of rd.readStates) {
      const w = this.reads.get(rs.context);
      if (w) w.index = rs.index;
    }
    this.core.advance(rd);
    this.releaseReads();
    this.releaseOrphaned();
    const st = this.core.status();
    this.metrics.commitIndex.set(st.commit);
    this.metrics.appliedIndex.set(this.applied);
    this.metrics.applyLag.set(Math.max(0, st.commit - this.applied));
    this.maybeSnapshot();
  }

  /** Ends what was waiting on a leader that is gone (after this Ready applied what did commit). */
  private releaseOrphaned(): void {
    for (const { previous, proposals, reads } of this.orphaned.splice(0)) {
      for (const id of proposals) {
        const w = this.proposals.get(id);
        if (w === undefined) continue;
        this.proposals.delete(id);
        clearTimeout(w.timer);
        this.metrics.proposals.inc({ outcome: 'leader-changed' });
        w.reject(
          new ProposalTimeoutError(
            `proposal ${id} not applied before leader ${previous} lost leadership (outcome unknown)`,
          ),
        );
      }
      for (const context of reads) {
        const w = this.reads.get(context);
        if (w === undefined || w.index !== undefined) continue;
        this.reads.delete(context);
        clearTimeout(w.timer);
        w.reject(
          new ProposalTimeoutError(`read index not confirmed before leader ${previous} lost leadership`),
        );
      }
    }
  }

  private termOrVoteChanged(hs: HardState | undefined): boolean {
    return hs !== undefined && (hs.term !== this.lastHardState.term || hs.vote !== this.lastHardState.vote);
  }

  private onSoftState(leader: NodeId | null, role: string): void {
    if (leader !== this.leader) {
      this.log.info({ leader, previous: this.leader, term: this.core.status().term }, 'leader changed');
      if (leader !== null) this.metrics.leaderChanges.inc();
      else this.leaderLostAt = performance.now();
      if (this.leader !== null && (this.proposals.size > 0 || this.reads.size > 0))
        this.orphaned.push({
          previous: this.leader,
          proposals: [...this.proposals.keys()],
          reads: [...this.reads.entries()].filter(([, w]) => w.index === undefined).map(([id]) => id),
        });
    }
    this.leader = leader;
    this.role = role;
    this.metrics.isLeader.set(role === 'leader' ? 1 : 0);
    for (const w of [...this.leaderWatchers]) w();
    for (const l of [...this.leaderListeners]) l(leader, role === 'leader');
  }

  private sendMessages(messages: readonly Message[]): void {
    const plain: Message[] = [];
    for (const m of messages) {
      if (m.type !== 'snapshot') {
        plain.push(m);
        continue;
      }
      this.metrics.snapshots.inc({ kind: 'sent' });
      void this.transport.sendSnapshot(m.to, m, m.snapshot).then((ok) => {
        if (this.stopped) return;
        this.core.reportSnapshot(m.to, ok);
        this.kick();
      });
    }
    this.transport.send(plain);
  }

  private async installSnapshot(meta: SnapshotMeta): Promise<void> {
    const stored = await this.snapshots.get(meta);
    assert(stored, `the transport installed snapshot ${meta.index} before stepping its message`);
    if (failpointsArmed) await failpoint('raft.snapshotInstall');
    await this.sm.restore(stored.path, meta);
    this.wal.recordSnapshot(meta);
    // The marker must be durable before any message of this Ready says we have the snapshot.
    await this.wal.sync();
    this.applied = meta.index;
    this.snapshotIndex = meta.index;
    this.metrics.snapshots.inc({ kind: 'installed' });
    this.log.info({ index: meta.index, term: meta.term }, 'installed snapshot from the leader');
  }

  private async applyCommitted(entries: readonly Entry[]): Promise<void> {
    const commands: Command[] = [];
    const confApplied: number[] = [];
    let last = this.applied;
    for (const e of entries) {
      if (e.index <= this.applied) continue;
      assert(e.index === last + 1, `committed entries skip from ${last} to ${e.index}`);
      if (e.type === 'conf') confApplied.push(e.index);
      else if (e.data.length > 0) {
        const p = unwrapProposal(e.data);
        if (p) commands.push({ index: e.index, term: e.term, id: p.id, payload: p.payload });
      }
      last = e.index;
    }
    if (last === this.applied) return;
    if (failpointsArmed) await failpoint('raft.beforeApply');
    const results = await this.sm.apply(commands, last);
    this.applied = last;
    for (const [i, c] of commands.entries()) {
      const w = this.proposals.get(c.id);
      if (!w) continue;
      this.proposals.delete(c.id);
      clearTimeout(w.timer);
      this.metrics.proposals.inc({ outcome: 'applied' });
      w.resolve({ index: c.index, term: c.term, result: results[i] });
    }
    for (const index of confApplied) {
      const w = this.confWaiters.get(index);
      if (!w) continue;
      this.confWaiters.delete(index);
      clearTimeout(w.timer);
      w.resolve(this.core.confState);
    }
  }

  private releaseReads(): void {
    for (const [context, w] of this.reads) {
      if (w.index === undefined || w.index > this.applied) continue;
      this.reads.delete(context);
      clearTimeout(w.timer);
      w.resolve(w.index);
    }
  }

  /**
   * Snapshot in the background once enough entries were applied. The state machine pins
   * its state when `snapshot()` is called, so applying continues while the file is written.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.applied - this.snapshotIndex < this.snapshotEveryEntries) return;
    this.snapshotting = true;
    void this.takeSnapshot().finally(() => {
      this.snapshotting = false;
    });
  }

  private async takeSnapshot(): Promise<void> {
    const t0 = performance.now();
    // The state machine writes first and tells which index its copy holds; only then is the
    // metadata known. A name ending in .tmp is swept by the store if we crash meanwhile.
    const pending = join(this.snapshots.dir, `pending-${this.incarnation}.tmp`);
    try {
      const { index } = await this.sm.snapshot(pending);
      if (this.stopped || index <= this.snapshotIndex) return;
      const meta = this.core.snapshotMetaAt(index);
      await this.snapshots.save(meta, (path) => rename(pending, path));
      this.metrics.snapshots.inc({ kind: 'taken' });
      this.log.info({ index: meta.index, ms: Math.round(performance.now() - t0) }, 'snapshot taken');
      this.pendingCompaction = meta;
      this.kick();
    } catch (err) {
      this.log.error({ err }, 'snapshot failed; will retry later');
    } finally {
      await rm(pending, { force: true });
    }
  }

  /** The snapshot is durable: record it in the WAL and drop the log behind it (keeping a tail). */
  private compactTo(meta: SnapshotMeta): void {
    this.pendingCompaction = undefined;
    this.wal.recordSnapshot(meta);
    this.snapshotIndex = meta.index;
    const keepFrom = meta.index - this.snapshotCatchUpEntries;
    this.core.compact(meta, Math.max(0, keepFrom));
    this.wal.releaseBefore(Math.max(0, keepFrom)).catch((err: unknown) => {
      // Old segments stay on disk; the next compaction tries again.
      this.log.warn({ err, before: keepFrom }, 'could not release WAL segments');
    });
  }
}
