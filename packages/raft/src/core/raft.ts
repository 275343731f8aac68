/**
 * One Raft member as a pure state machine (Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm", and Ongaro's thesis, cited as §n and thesis §n).
 *
 * Inputs: `tick()` (time), `step(message)` (a peer), and the client calls `propose`,
 * `proposeConfChange`, `readIndex`, `transferLeader`. Output: `ready()`, a record of what
 * to persist, send, apply and answer; `advance(ready)` says it was done. Nothing here does
 * I/O, reads a clock or draws randomness of its own, so a simulator can replay any run.
 */
import { assert } from './assert.ts';
import {
  applyConfChange,
  type ConfChange,
  checkConfChange,
  confEquals,
  emptyConf,
  encodeConfEntry,
  isConfChange,
  isConfState,
  isMember,
  isNodeId,
  normalizeConf,
} from './conf.ts';
import { type BrokenVariant, type RaftConfig, type ResolvedConfig, resolveConfig } from './config.ts';
import { RaftRestoreError, RaftUsageError } from './errors.ts';
import { RaftLog } from './log.ts';
import {
  type Append,
  type AppendResponse,
  checkMessage,
  entrySizeBytes,
  type Heartbeat,
  type HeartbeatResponse,
  type InstallSnapshot,
  type Message,
  maxReadContextLength,
  type VoteRequest,
  type VoteResponse,
} from './messages.ts';
import { Progress } from './progress.ts';
import { ReadOnlyQueue } from './read-only.ts';
import type { ReadState, Ready, Role, SoftState } from './ready.ts';
import { checkRestore, type RestoreState } from './restore.ts';
import type { PeerStatus, RaftCounters, Status } from './status.ts';
import type { ConfState, Entry, EntryType, HardState, NodeId, SnapshotMeta } from './types.ts';

export type DropReason =
  /** No leader is known to forward to (an election is under way). */
  | 'noLeader'
  /** Only the leader does this (membership changes, transfers); `status().leader` says who is. */
  | 'notLeader'
  /** This follower does not forward proposals (`disableProposalForwarding`). */
  | 'forwardingDisabled'
  /** The leader is handing over leadership and takes no new proposals meanwhile. */
  | 'transferInProgress'
  /** The leader already holds `maxUncommittedBytes` of uncommitted proposals. */
  | 'uncommittedBytesExceeded'
  /** A new leader must commit an entry of its own term before it changes membership (thesis §4.1 fix). */
  | 'leaderNotReady'
  /** One membership change at a time: the previous one is not committed yet. */
  | 'confChangePending'
  /** The change does not fit the current configuration (see `detail`). */
  | 'invalidConfChange'
  /** A learner is promoted only once it has caught up (see the README). */
  | 'learnerNotCaughtUp'
  /** The transfer target is this leader itself, or not a voter. */
  | 'invalidTransfer'
  /** The leader already holds `maxPendingReads` reads. */
  | 'tooManyPendingReads'
  /** A read with this context is already pending: contexts must be unique. */
  | 'duplicateReadContext';

export type ProposeResult =
  /** Accepted. On the leader, where the entry went; a forwarded proposal or a read has no index yet. */
  | { readonly ok: true; readonly index?: number; readonly term?: number }
  | { readonly ok: false; readonly reason: DropReason; readonly detail?: string };

const accepted: ProposeResult = { ok: true };

function drop(reason: DropReason, detail?: string): ProposeResult {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}

interface WaitingRead {
  readonly context: string;
  readonly from: NodeId;
}

type MutableCounters = { -readonly [K in keyof RaftCounters]: RaftCounters[K] };

export class Raft {
  readonly id: NodeId;
  private readonly cfg: ResolvedConfig;
  private readonly broken: BrokenVariant | null;
  private readonly log: RaftLog;

  // Persistent state (Figure 2): term and vote; the log is in `log`.
  private currentTerm: number;
  private votedFor: NodeId | null;

  // Volatile state.
  private currentRole: Role = 'follower';
  private currentLeader: NodeId | null = null;
  /** The configuration in force: the last one in the log (thesis §4.1). */
  private conf: ConfState;
  /** Ticks since the last reset: on followers, since the leader was heard; on leaders, since the last quorum check. */
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** This term's election timeout, drawn in [T, 2T) so that split votes resolve (§5.2). */
  private randomizedElectionTimeout: number;
  /** Answers to this (pre-)campaign: voter → granted. */
  private readonly votes = new Map<NodeId, boolean>();

  // Leader state.
  private readonly progress = new Map<NodeId, Progress>();
  private transferee: NodeId | null = null;
  private transferElapsed = 0;
  private readonly reads = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its term (its commit index may be stale). */
  private waitingReads: WaitingRead[] = [];
  private uncommittedBytes = 0;
  /** Entries were proposed: send appends to everyone when the driver next asks for a Ready (one message per batch). */
  private broadcastPending = false;

  // Output, and what the last Ready reported.
  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private reportedSoft: SoftState = { leader: null, role: 'follower' };
  private reportedHard: HardState;
  private reportedConf: ConfState;
  private outstanding: Ready | null = null;
  private readonly counters: MutableCounters = {
    invalidMessages: 0,
    lastInvalidReason: null,
    staleMessages: 0,
    votesIgnoredInLease: 0,
    droppedForwarded: 0,
    preCampaigns: 0,
    campaigns: 0,
  };

  constructor(config: RaftConfig, restore: RestoreState) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.broken = this.cfg.testOnlyBrokenVariant;
    const problem = checkRestore(restore);
    if (problem !== null) throw new RaftRestoreError(problem);

    const snapshot: SnapshotMeta =
      restore.snapshot === undefined
        ? { index: 0, term: 0, conf: emptyConf }
        : {
            index: restore.snapshot.index,
            term: restore.snapshot.term,
            conf: normalizeConf(restore.snapshot.conf),
          };
    const commit = Math.max(restore.hardState.commit, snapshot.index);
    this.log = new RaftLog(snapshot, restore.entries, commit, restore.applied ?? snapshot.index);
    this.currentTerm = restore.hardState.term;
    this.votedFor = restore.hardState.vote;
    this.reportedHard = restore.hardState;
    this.reportedConf = this.log.conf();
    if (restore.bootstrap !== undefined) {
      // The founding configuration becomes entry 1 of term 1 on every founding member alike.
      const conf = normalizeConf(restore.bootstrap);
      this.currentTerm = 1;
      this.log.append([
        { index: 1, term: 1, type: 'conf', data: encodeConfEntry({ change: { type: 'bootstrap' }, conf }) },
      ]);
    }
    this.conf = this.log.conf();
    this.randomizedElectionTimeout = this.cfg.electionTicks;
    this.becomeFollower(this.currentTerm, null);
  }

  // ---- reading the state ------------------------------------------------------------------

  get term(): number {
    return this.currentTerm;
  }
  get role(): Role {
    return this.currentRole;
  }
  get leader(): NodeId | null {
    return this.currentLeader;
  }
  get commitIndex(): number {
    return this.log.committed;
  }
  get appliedIndex(): number {
    return this.log.applied;
  }
  get firstIndex(): number {
    return this.log.firstIndex();
  }
  get lastIndex(): number {
    return this.log.lastIndex();
  }
  get snapshotIndex(): number {
    return this.log.snapshot.index;
  }
  /** The configuration in force. */
  get confState(): ConfState {
    return this.conf;
  }
  /** The term of the entry at `index`, or undefined when it is compacted or beyond the log. */
  termAt(index: number): number | undefined {
    return this.log.term(index);
  }

  /**
   * The snapshot metadata for the state machine as of `index` (between the last snapshot and
   * the commit index): what the driver passes to `compact` after it saved that state.
   */
  snapshotMetaAt(index: number): SnapshotMeta {
    const snap = this.log.snapshot;
    if (!Number.isSafeInteger(index) || index < snap.index || index > this.log.committed)
      throw new RaftUsageError(
        `no snapshot metadata at ${index}: it must lie in [${snap.index}, ${this.log.committed}]`,
      );
    if (index === snap.index) return snap;
    return { index, term: this.log.term(index)!, conf: this.log.confAt(index) };
  }

  status(): Status {
    const progress: Record<NodeId, PeerStatus> = {};
    if (this.currentRole === 'leader') {
      for (const [id, pr] of this.progress) {
        progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          learner: pr.isLearner,
          inflightMessages: pr.inflights.count,
        };
      }
    }
    return {
      id: this.id,
      role: this.currentRole,
      term: this.currentTerm,
      vote: this.votedFor,
      leader: this.currentLeader,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.log.snapshot.index,
      conf: this.conf,
      transferee: this.transferee,
      progress,
      counters: { ...this.counters },
    };
  }

  // ---- inputs -------------------------------------------------------------------------------

  /** One unit of time passed. */
  tick(): void {
    switch (this.currentRole) {
      case 'leader':
        this.tickLeader();
        return;
      case 'follower':
      case 'preCandidate':
      case 'candidate':
        this.electionElapsed++;
        if (this.electionElapsed >= this.randomizedElectionTimeout && this.isPromotable()) {
          this.campaign(this.cfg.preVote ? 'preVote' : 'vote', false);
        }
        return;
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.transferee !== null && ++this.transferElapsed >= this.cfg.electionTicks) {
      // Thesis §3.10: a transfer that has not finished within an election timeout is abandoned.
      this.abortTransfer();
    }
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        // Thesis §6.2: a leader cut off from a quorum steps down, so clients look elsewhere.
        this.becomeFollower(this.currentTerm, null);
        return;
      }
      for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.reads.lastContext());
    }
  }

  /** A message from a peer. Malformed or misaddressed messages are ignored and counted. */
  step(message: Message): void {
    const problem = checkMessage(message, this.id);
    if (problem !== null) {
      this.counters.invalidMessages++;
      this.counters.lastInvalidReason = problem;
      return;
    }
    if (!this.observeTerm(message)) return;
    const m = message;
    switch (m.type) {
      case 'preVote':
      case 'vote':
        this.handleVoteRequest(m);
        return;
      case 'preVoteResp':
      case 'voteResp':
        this.handleVoteResponse(m);
        return;
      case 'append':
        this.followLeader(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.followLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.followLeader(m.from);
        this.handleSnapshot(m);
        return;
      case 'appendResp':
        if (this.currentRole === 'leader') this.handleAppendResponse(m);
        else this.counters.staleMessages++;
        return;
      case 'heartbeatResp':
        if (this.currentRole === 'leader') this.handleHeartbeatResponse(m);
        else this.counters.staleMessages++;
        return;
      case 'timeoutNow':
        // Thesis §3.10: the leader hands over; campaign at once, skipping PreVote and the lease.
        if (this.currentRole !== 'leader' && this.isPromotable()) this.campaign('vote', true);
        else this.counters.staleMessages++;
        return;
      case 'propose':
        if (this.currentRole !== 'leader' || !this.appendEntry('normal', m.data).ok)
          this.counters.droppedForwarded++;
        return;
      case 'readIndex':
        if (this.currentRole !== 'leader' || !this.leaderRead(m.context, m.from).ok)
          this.counters.droppedForwarded++;
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
    }
  }

  /**
   * The term rules of Figure 2 ("if a message has a newer term, adopt it and follow"), with
   * the exceptions PreVote and the leader lease need. Returns whether to go on handling `m`.
   */
  private observeTerm(m: Message): boolean {
    if (m.term > this.currentTerm) {
      switch (m.type) {
        case 'preVote':
        case 'vote':
          if (this.inLease() && !m.transfer) {
            // Thesis §4.2.3: we heard from a live leader within the minimum election timeout,
            // so this candidate (perhaps a removed member, or one just back from a partition) may not depose it.
            this.counters.votesIgnoredInLease++;
            return false;
          }
          // A pre-vote is hypothetical: it asks about a term nobody is in yet.
          if (m.type === 'vote') this.adoptTerm(m.term);
          return true;
        case 'preVoteResp':
          // A granted pre-vote carries the term we asked about; we adopt it only when we really campaign.
          if (!m.granted) this.adoptTerm(m.term);
          return true;
        case 'append':
        case 'heartbeat':
        case 'snapshot':
          this.becomeFollower(m.term, m.from);
          return true;
        case 'voteResp':
        case 'appendResp':
        case 'heartbeatResp':
        case 'timeoutNow':
          this.adoptTerm(m.term);
          return true;
        case 'propose':
        case 'readIndex':
        case 'readIndexResp':
          // Forwarded requests confer no authority: a term mismatch just makes them stale.
          this.counters.staleMessages++;
          return false;
      }
    }
    if (m.term < this.currentTerm) {
      if ((m.type === 'append' || m.type === 'heartbeat') && (this.cfg.checkQuorum || this.cfg.preVote)) {
        // A stale leader would otherwise never learn our newer term: with PreVote and CheckQuorum
        // we do not campaign it out, and it would keep a partition-healed follower waiting forever.
        this.send({
          type: 'appendResp',
          to: m.from,
          term: this.currentTerm,
          reject: true,
          index: 0,
          hintIndex: 0,
          hintTerm: 0,
        });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, term: this.currentTerm, granted: false });
      }
      this.counters.staleMessages++;
      return false;
    }
    return true;
  }

  /** Propose an application command. On a follower it is forwarded to the leader. */
  propose(data: Uint8Array): ProposeResult {
    if (!(data instanceof Uint8Array)) throw new RaftUsageError('a proposal must be a Uint8Array');
    switch (this.currentRole) {
      case 'leader':
        return this.appendEntry('normal', data);
      case 'follower':
        if (this.currentLeader === null) return drop('noLeader');
        if (this.cfg.disableProposalForwarding) return drop('forwardingDisabled');
        this.send({ type: 'propose', to: this.currentLeader, term: this.currentTerm, data });
        return accepted;
      case 'preCandidate':
      case 'candidate':
        return drop('noLeader');
    }
  }

  /** Propose a membership change (one at a time, thesis §4.1); leader only. */
  proposeConfChange(change: ConfChange): ProposeResult {
    if (!isConfChange(change)) throw new RaftUsageError('not a ConfChange', { change });
    if (this.currentRole !== 'leader') return drop('notLeader');
    if (this.transferee !== null) return drop('transferInProgress');
    // Thesis §4.1 (and Ongaro's 2015 raft-dev fix): until a new leader commits an entry of its
    // own term, a change an earlier leader left uncommitted may still be replaced, and two
    // single-server changes from different terms could then form disjoint majorities.
    if (this.log.term(this.log.committed) !== this.currentTerm) return drop('leaderNotReady');
    if (this.log.lastConfIndex() > this.log.committed) return drop('confChangePending');
    const problem = checkConfChange(this.conf, change);
    if (problem !== null) return drop('invalidConfChange', problem);
    if (change.type === 'promote' && !this.isCaughtUp(change.node)) {
      return drop(
        'learnerNotCaughtUp',
        `${change.node} has not acknowledged the commit index ${this.log.committed} recently`,
      );
    }
    const conf = applyConfChange(this.conf, change);
    return this.appendEntry('conf', encodeConfEntry({ change, conf }));
  }

  /**
   * Ask for a linearizable read (thesis §6.4). The answer comes later as a `ReadState` with
   * this `context` (which must be unique among pending reads) in a Ready.
   */
  readIndex(context: string): ProposeResult {
    if (typeof context !== 'string' || context.length > maxReadContextLength)
      throw new RaftUsageError(
        `a read context must be a string of at most ${maxReadContextLength} characters`,
      );
    switch (this.currentRole) {
      case 'leader':
        return this.leaderRead(context, this.id);
      case 'follower':
        if (this.currentLeader === null) return drop('noLeader');
        this.send({ type: 'readIndex', to: this.currentLeader, term: this.currentTerm, context });
        return accepted;
      case 'preCandidate':
      case 'candidate':
        return drop('noLeader');
    }
  }

  /**
   * Hand leadership to voter `to` (thesis §3.10): stop taking proposals, bring `to` up to
   * date, then tell it to campaign. Abandoned after an election timeout.
   */
  transferLeader(to: NodeId): ProposeResult {
    if (!isNodeId(to)) throw new RaftUsageError('a transfer target must be a member id');
    if (this.currentRole !== 'leader') return drop('notLeader');
    if (to === this.id) return drop('invalidTransfer', 'already the leader');
    if (!this.conf.voters.includes(to)) return drop('invalidTransfer', `${to} is not a voter`);
    if (this.transferee === to) return accepted;
    this.transferee = to;
    this.transferElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, pr, true);
    return accepted;
  }

  /** The transport could not reach `peer`: stop streaming to it and probe again. */
  reportUnreachable(peer: NodeId): void {
    const pr = this.currentRole === 'leader' ? this.progress.get(peer) : undefined;
    if (pr?.state === 'replicate') pr.becomeProbe();
  }

  /** The transport finished (`ok`) or gave up on streaming the snapshot to `peer`. */
  reportSnapshot(peer: NodeId, ok: boolean): void {
    const pr = this.currentRole === 'leader' ? this.progress.get(peer) : undefined;
    if (pr?.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat's) before sending again.
    pr.probeSent = true;
  }

  /**
   * The application saved its state as of `meta.index` (built with `snapshotMetaAt`): drop
   * the log up to there, but keep entries from `keepFrom` on (default: none the snapshot
   * covers) so that followers a little behind still catch up from entries. A follower behind
   * the first kept entry is sent this snapshot.
   */
  compact(meta: SnapshotMeta, keepFrom?: number): void {
    if (keepFrom !== undefined && (!Number.isSafeInteger(keepFrom) || keepFrom < 0))
      throw new RaftUsageError('keepFrom must be a non-negative integer', { keepFrom });
    if (typeof meta !== 'object' || meta === null || !Number.isSafeInteger(meta.index))
      throw new RaftUsageError('not a SnapshotMeta');
    if (meta.index <= this.log.snapshot.index) return;
    if (meta.index > this.log.applied)
      throw new RaftUsageError(`cannot compact to ${meta.index}: only ${this.log.applied} is applied`);
    const expected = this.snapshotMetaAt(meta.index);
    if (
      expected.term !== meta.term ||
      !isConfState(meta.conf) ||
      !confEquals(expected.conf, normalizeConf(meta.conf))
    )
      throw new RaftUsageError(`snapshot metadata at ${meta.index} does not match the log`, {
        expected,
        got: meta,
      });
    this.log.compact(expected, keepFrom ?? meta.index + 1);
  }

  // ---- outputs ------------------------------------------------------------------------------

  /** There is something to persist, send, apply or answer (and no Ready is outstanding). */
  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    return (
      this.broadcastPending ||
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstable() ||
      this.log.pendingSnapshot !== null ||
      this.log.hasNextCommitted() ||
      this.softChanged() ||
      this.hardChanged() ||
      this.conf !== this.reportedConf
    );
  }

  /** Everything the driver must do now. Call `advance(ready)` once it is done, before the next `ready()`. */
  ready(): Ready {
    if (this.outstanding !== null) throw new RaftUsageError('ready() called again before advance()');
    if (this.broadcastPending) {
      this.broadcastPending = false;
      if (this.currentRole === 'leader') this.broadcastAppend();
    }
    const rd: {
      -readonly [K in keyof Ready]: Ready[K];
    } = {
      entries: this.log.unstableEntries(),
      messages: this.messages,
      committed: this.log.nextCommitted(this.cfg.maxCommittedBytesPerReady),
      readStates: this.readStates,
    };
    this.messages = [];
    this.readStates = [];
    if (this.softChanged()) {
      this.reportedSoft = { leader: this.currentLeader, role: this.currentRole };
      rd.softState = this.reportedSoft;
    }
    if (this.hardChanged()) {
      this.reportedHard = this.hardState();
      rd.hardState = this.reportedHard;
    }
    if (this.log.pendingSnapshot !== null) rd.snapshot = this.log.pendingSnapshot;
    if (this.conf !== this.reportedConf) {
      this.reportedConf = this.conf;
      rd.conf = this.conf;
    }
    this.outstanding = rd;
    return rd;
  }

  /** Everything in `ready` was persisted, sent and applied. */
  advance(ready: Ready): void {
    if (ready !== this.outstanding)
      throw new RaftUsageError('advance() must be given the Ready last returned by ready()');
    this.outstanding = null;
    if (ready.snapshot !== undefined) this.log.snapshotInstalled(ready.snapshot);
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = ready.committed[ready.committed.length - 1];
    if (lastCommitted !== undefined) this.log.appliedTo(lastCommitted.index);
    if (this.currentRole === 'leader') {
      // The leader's own copy counts toward a quorum only once it is on its disk.
      this.progress.get(this.id)?.maybeUpdate(this.log.stable);
      this.maybeCommit();
    }
  }

  private hardState(): HardState {
    return { term: this.currentTerm, vote: this.reportableVote(), commit: this.log.committed };
  }

  private reportableVote(): NodeId | null {
    // The broken variant never reports a vote for another member, so the driver never makes
    // it durable although the vote response goes out: a restart forgets whom it voted for.
    return this.broken === 'voteBeforePersist' && this.votedFor !== this.id ? null : this.votedFor;
  }

  private hardChanged(): boolean {
    const hs = this.reportedHard;
    return (
      hs.term !== this.currentTerm || hs.vote !== this.reportableVote() || hs.commit !== this.log.committed
    );
  }

  private softChanged(): boolean {
    return this.currentLeader !== this.reportedSoft.leader || this.currentRole !== this.reportedSoft.role;
  }

  // ---- roles --------------------------------------------------------------------------------

  private becomeFollower(term: number, leader: NodeId | null): void {
    assert(term >= this.currentTerm, `term would go back from ${this.currentTerm} to ${term}`);
    if (term > this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
    }
    this.currentRole = 'follower';
    this.currentLeader = leader;
    this.resetLeaderState();
    this.resetTimers();
  }

  /**
   * A newer term arrived in a message that does not come from a leader of that term. Follow
   * it, but keep a non-leader's election timer running: Figure 2 restarts it only on hearing
   * from the current leader or granting a vote. (Restarting it here, as etcd does, lets a
   * member with an older log that keeps campaigning hold off the only member that could win.)
   */
  private adoptTerm(term: number): void {
    if (this.currentRole === 'leader') {
      this.becomeFollower(term, null);
      return;
    }
    const elapsed = this.electionElapsed;
    const timeout = this.randomizedElectionTimeout;
    this.becomeFollower(term, null);
    this.electionElapsed = elapsed;
    this.randomizedElectionTimeout = timeout;
  }

  private becomePreCandidate(): void {
    assert(this.currentRole !== 'leader', 'a leader does not pre-campaign');
    // Term and vote stay: a pre-campaign changes nothing anyone must persist.
    this.currentRole = 'preCandidate';
    this.currentLeader = null;
    this.votes.clear();
    this.counters.preCampaigns++;
    this.resetTimers();
  }

  private becomeCandidate(): void {
    assert(this.currentRole !== 'leader', 'a leader does not campaign');
    this.currentTerm++;
    this.votedFor = this.id;
    this.currentRole = 'candidate';
    this.currentLeader = null;
    this.votes.clear();
    this.counters.campaigns++;
    this.resetTimers();
  }

  private becomeLeader(): void {
    assert(this.currentRole === 'candidate', `only a candidate becomes leader, not a ${this.currentRole}`);
    this.currentRole = 'leader';
    this.currentLeader = this.id;
    this.resetLeaderState();
    this.resetTimers();
    const last = this.log.lastIndex();
    for (const id of this.conf.voters) this.progress.set(id, this.newProgress(last + 1, false));
    for (const id of this.conf.learners) this.progress.set(id, this.newProgress(last + 1, true));
    // A leader that is leaving the configuration keeps a progress for itself too (it is not counted).
    if (!this.progress.has(this.id)) this.progress.set(this.id, this.newProgress(last + 1, false));
    this.progress.get(this.id)!.maybeUpdate(this.log.stable);
    this.uncommittedBytes = this.log.bytesAfter(this.log.committed, last);
    // §8: a new leader appends an empty entry of its term; committing it commits everything
    // before it (§5.4.2), and tells the leader where the commit index really is.
    this.appendEntry('normal', new Uint8Array(0));
  }

  private resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const t = this.cfg.electionTicks;
    this.randomizedElectionTimeout = t + Math.min(t - 1, Math.floor(this.cfg.random() * t));
  }

  private resetLeaderState(): void {
    this.votes.clear();
    this.progress.clear();
    this.reads.clear();
    this.waitingReads = [];
    this.abortTransfer();
    this.uncommittedBytes = 0;
    this.broadcastPending = false;
  }

  private newProgress(next: number, isLearner: boolean): Progress {
    const pr = new Progress(next, isLearner, this.cfg.maxInflightMessages, this.cfg.maxInflightBytes);
    // A grace period of one election timeout before a new member counts as unreachable.
    pr.recentActive = true;
    return pr;
  }

  /**
   * Who may campaign: a voter of the configuration in force, and also (thesis §4.2.2) a
   * voter of the previous configuration while the newest one is not known to be committed:
   * it may still be needed to commit the change that removes it. Its own vote counts only
   * where it is a voter.
   */
  private isPromotable(): boolean {
    if (this.conf.voters.includes(this.id)) return true;
    const at = this.log.lastConfIndex();
    return (
      at > this.log.committed &&
      at - 1 >= this.log.firstIndex() - 1 &&
      this.log.confAt(at - 1).voters.includes(this.id)
    );
  }

  /** We heard from a live leader within the minimum election timeout (only meaningful with CheckQuorum). */
  private inLease(): boolean {
    return (
      this.cfg.checkQuorum && this.currentLeader !== null && this.electionElapsed < this.cfg.electionTicks
    );
  }

  private quorum(): number {
    return Math.floor(this.conf.voters.length / 2) + 1;
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.conf.voters) if (v === this.id || this.progress.get(v)?.recentActive) active++;
    return active >= this.quorum();
  }

  /** A message with the current term arrived from the leader of this term. */
  private followLeader(leader: NodeId): void {
    // §5.2 Election Safety: at most one leader per term, so a leader never hears from another.
    assert(
      this.currentRole !== 'leader',
      `${this.id} leads term ${this.currentTerm} but ${leader} claims it too`,
    );
    if (this.currentRole !== 'follower') this.becomeFollower(this.currentTerm, leader);
    this.currentLeader = leader;
    this.electionElapsed = 0;
  }

  // ---- elections ----------------------------------------------------------------------------

  private campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    if (kind === 'preVote') this.becomePreCandidate();
    else this.becomeCandidate();
    this.votes.set(this.id, true);
    if (this.tally() === 'won') {
      if (kind === 'preVote') this.campaign('vote', transfer);
      else this.becomeLeader();
      return;
    }
    const term = kind === 'preVote' ? this.currentTerm + 1 : this.currentTerm;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const voter of this.conf.voters) {
      if (voter !== this.id) this.send({ type: kind, to: voter, term, lastIndex, lastTerm, transfer });
    }
  }

  private tally(): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const v of this.conf.voters) {
      const answer = this.votes.get(v);
      if (answer === true) granted++;
      else if (answer === false) rejected++;
    }
    const q = this.quorum();
    if (granted >= q) return 'won';
    return this.conf.voters.length - rejected < q ? 'lost' : 'pending';
  }

  /** §5.2, §5.4.1, thesis §9.6. */
  private handleVoteRequest(m: VoteRequest): void {
    const pre = m.type === 'preVote';
    // One vote per term, first come first served; and none while we follow a leader of this term.
    const canVote =
      this.votedFor === m.from ||
      (this.votedFor === null && this.currentLeader === null) ||
      (pre && m.term > this.currentTerm);
    // §5.4.1 Election restriction: only a candidate whose log holds every committed entry may win.
    const upToDate = this.broken === 'voteWithoutLogCheck' || this.log.isUpToDate(m.lastIndex, m.lastTerm);
    const granted = canVote && upToDate;
    if (granted && !pre) {
      this.votedFor = m.from;
      this.electionElapsed = 0;
    }
    this.send({
      type: pre ? 'preVoteResp' : 'voteResp',
      to: m.from,
      // A granted pre-vote answers in the term it was asked about, so the candidate can match it.
      term: granted && pre ? m.term : this.currentTerm,
      granted,
    });
  }

  private handleVoteResponse(m: VoteResponse): void {
    const pre = m.type === 'preVoteResp';
    if (this.currentRole !== (pre ? 'preCandidate' : 'candidate')) {
      this.counters.staleMessages++;
      return;
    }
    // A grant from an earlier pre-campaign names an older hypothetical term.
    if (pre && m.granted && m.term !== this.currentTerm + 1) {
      this.counters.staleMessages++;
      return;
    }
    if (!this.conf.voters.includes(m.from)) return;
    this.votes.set(m.from, m.granted);
    switch (this.tally()) {
      case 'won':
        if (pre) this.campaign('vote', false);
        else this.becomeLeader();
        return;
      case 'lost':
        this.becomeFollower(this.currentTerm, null);
        return;
      case 'pending':
        return;
    }
  }

  // ---- following ----------------------------------------------------------------------------

  /** §5.3 AppendEntries, receiver side. */
  private handleAppend(m: Append): void {
    if (m.prevIndex < this.log.committed) {
      // Everything through our commit index is settled; tell the leader where we are.
      this.sendAppendResponse(m.from, this.log.committed);
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    this.refreshConf();
    if (lastNew !== null) {
      this.sendAppendResponse(m.from, lastNew);
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send({
      type: 'appendResp',
      to: m.from,
      term: this.currentTerm,
      reject: true,
      index: m.prevIndex,
      hintIndex: hint.index,
      hintTerm: hint.term,
    });
  }

  private sendAppendResponse(to: NodeId, index: number): void {
    this.send({
      type: 'appendResp',
      to,
      term: this.currentTerm,
      reject: false,
      index,
      hintIndex: 0,
      hintTerm: 0,
    });
  }

  private handleHeartbeat(m: Heartbeat): void {
    // The leader caps the commit index at what it knows we hold.
    this.log.commitTo(m.commit);
    this.send({ type: 'heartbeatResp', to: m.from, term: this.currentTerm, context: m.context });
  }

  /** §7 InstallSnapshot, receiver side: the bytes are on our disk already, this is the metadata. */
  private handleSnapshot(m: InstallSnapshot): void {
    const meta: SnapshotMeta = {
      index: m.snapshot.index,
      term: m.snapshot.term,
      conf: normalizeConf(m.snapshot.conf),
    };
    const checkAge = this.broken !== 'applyOlderSnapshot';
    if (checkAge && meta.index <= this.log.committed) {
      // Older than what we have committed: installing it would move our state backwards.
      this.sendAppendResponse(m.from, this.log.committed);
      return;
    }
    if (checkAge && this.log.term(meta.index) === meta.term) {
      // We already hold the entry the snapshot ends with, so everything before it too (log matching).
      this.log.commitTo(meta.index);
      this.sendAppendResponse(m.from, meta.index);
      return;
    }
    this.log.restore(meta);
    this.refreshConf();
    this.sendAppendResponse(m.from, meta.index);
  }

  // ---- leading ------------------------------------------------------------------------------

  /** The leader appends an entry of its term (a proposal, a conf change, its opening no-op). */
  private appendEntry(type: EntryType, data: Uint8Array): ProposeResult {
    if (this.transferee !== null) return drop('transferInProgress');
    // Always let one entry through, however big, so an oversized proposal cannot wedge the leader.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + data.byteLength > this.cfg.maxUncommittedBytes) {
      return drop('uncommittedBytesExceeded');
    }
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.currentTerm, type, data };
    this.log.append([entry]);
    this.uncommittedBytes += data.byteLength;
    this.broadcastPending = true;
    if (type === 'conf') this.refreshConf();
    return { ok: true, index: entry.index, term: entry.term };
  }

  /** Send every follower what it needs (an empty append at least, for the commit index), filling its window. */
  private broadcastAppend(): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.sendAppend(id, pr, true);
      for (let i = 1; i < this.cfg.maxInflightMessages && this.sendAppend(id, pr, false); i++);
    }
  }

  private broadcastHeartbeat(context: string | null): void {
    const commit = this.log.committed;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit past what it is known to hold.
      this.send({
        type: 'heartbeat',
        to: id,
        term: this.currentTerm,
        commit: Math.min(pr.match, commit),
        context,
      });
    }
  }

  /**
   * Send `to` the entries it needs next, or the snapshot when they are compacted. Returns
   * whether a message went (nothing goes while the follower's progress is paused).
   */
  private sendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      // §7: the entries it needs are gone; it gets the snapshot they were folded into.
      const snapshot = this.log.snapshot;
      pr.becomeSnapshot(snapshot.index);
      this.send({ type: 'snapshot', to, term: this.currentTerm, snapshot });
      return true;
    }
    const last = this.log.lastIndex();
    const entries = pr.next <= last ? this.log.slice(pr.next, last, this.cfg.maxMessageBytes) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of entries) bytes += entrySizeBytes(e);
    this.send({
      type: 'append',
      to,
      term: this.currentTerm,
      prevIndex,
      prevTerm,
      entries,
      commit: this.log.committed,
    });
    pr.sentEntries(prevIndex + entries.length, entries.length, bytes);
    return true;
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) {
      this.counters.staleMessages++;
      return;
    }
    pr.recentActive = true;
    if (m.index > this.log.lastIndex()) {
      this.counters.invalidMessages++;
      this.counters.lastInvalidReason = `appendResp index ${m.index} is past our last index`;
      return;
    }
    if (m.reject) {
      // Fast back-off: skip every entry whose term rules it out, on both sides (§5.3).
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, pr, true);
      }
      return;
    }
    if (!pr.maybeUpdate(m.index)) return;
    switch (pr.state) {
      case 'probe':
        pr.becomeReplicate();
        break;
      case 'snapshot':
        if (pr.match + 1 >= this.log.firstIndex()) pr.becomeReplicate();
        break;
      case 'replicate':
        pr.inflights.freeLE(m.index);
        break;
    }
    this.maybeCommit();
    if (this.currentRole !== 'leader') return;
    // Keep this follower's window full.
    for (let i = 0; i < this.cfg.maxInflightMessages && this.sendAppend(m.from, pr, false); i++);
    if (m.from === this.transferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) {
      this.counters.staleMessages++;
      return;
    }
    pr.recentActive = true;
    pr.probeSent = false;
    // An answer with the window full means an append was probably lost: let one more go.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, pr, true);
    if (m.context !== null) this.ackRead(m.context, m.from);
  }

  /**
   * Advance the commit index to the highest index a quorum of voters holds — but only if
   * that entry is of the current term (§5.4.2; Figure 8 shows what counting older entries
   * breaks). Returns whether it moved.
   */
  private maybeCommit(): boolean {
    const voters = this.conf.voters;
    if (voters.length === 0) return false;
    const matches = voters.map((v) => this.progress.get(v)?.match ?? 0).sort((a, b) => b - a);
    const index = matches[this.quorum() - 1]!;
    const previous = this.log.committed;
    if (index <= previous) return false;
    if (this.log.term(index) !== this.currentTerm && this.broken !== 'commitOldTermByCounting') return false;
    this.log.commitTo(index);
    this.afterCommit(previous);
    return true;
  }

  private afterCommit(previous: number): void {
    this.uncommittedBytes = Math.max(
      0,
      this.uncommittedBytes - this.log.bytesAfter(previous, this.log.committed),
    );
    // Tell everyone the new commit index.
    this.broadcastPending = true;
    if (this.waitingReads.length > 0 && this.log.term(this.log.committed) === this.currentTerm) {
      const waiting = this.waitingReads;
      this.waitingReads = [];
      for (const r of waiting) this.serveRead(r.context, r.from, false);
      this.broadcastHeartbeat(this.reads.lastContext());
    }
    if (!this.conf.voters.includes(this.id) && this.log.lastConfIndex() <= this.log.committed) {
      this.stepDownRemoved();
    }
  }

  /**
   * Thesis §4.2.2: a leader that is not in the configuration steps down once that
   * configuration is committed. It hands over to the most up-to-date voter so the cluster
   * need not wait out an election timeout.
   */
  private stepDownRemoved(): void {
    this.broadcastPending = false;
    this.broadcastAppend();
    let successor: NodeId | null = null;
    let best = -1;
    for (const v of this.conf.voters) {
      const pr = this.progress.get(v);
      if (pr?.recentActive && pr.match > best) {
        successor = v;
        best = pr.match;
      }
    }
    if (successor !== null && best === this.log.lastIndex()) this.sendTimeoutNow(successor);
    this.becomeFollower(this.currentTerm, null);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeoutNow', to, term: this.currentTerm });
  }

  private abortTransfer(): void {
    this.transferee = null;
    this.transferElapsed = 0;
  }

  /** A learner has caught up when it acknowledged our commit index and answered within the last election timeout. */
  private isCaughtUp(node: NodeId): boolean {
    const pr = this.progress.get(node);
    return pr !== undefined && pr.match >= this.log.committed && pr.recentActive;
  }

  /** Follow the log's configuration, and on the leader keep one progress per member. */
  private refreshConf(): void {
    const conf = this.log.conf();
    if (conf === this.conf) return;
    this.conf = conf;
    if (this.currentRole !== 'leader') return;
    const next = this.log.lastIndex() + 1;
    for (const id of conf.voters) {
      const pr = this.progress.get(id);
      if (pr === undefined) this.progress.set(id, this.newProgress(next, false));
      else pr.isLearner = false;
    }
    for (const id of conf.learners) {
      if (!this.progress.has(id)) this.progress.set(id, this.newProgress(next, true));
    }
    for (const id of [...this.progress.keys()]) {
      if (id !== this.id && !isMember(conf, id)) this.progress.delete(id);
    }
    if (this.transferee !== null && !conf.voters.includes(this.transferee)) this.abortTransfer();
  }

  // ---- reads --------------------------------------------------------------------------------

  private leaderRead(context: string, from: NodeId): ProposeResult {
    if (this.reads.has(context) || this.waitingReads.some((r) => r.context === context))
      return drop('duplicateReadContext');
    if (this.reads.size + this.waitingReads.length >= this.cfg.maxPendingReads)
      return drop('tooManyPendingReads');
    if (this.log.term(this.log.committed) !== this.currentTerm) {
      // Thesis §6.4 step 1: until it commits an entry of its term, a new leader's commit index may be behind.
      this.waitingReads.push({ context, from });
      return accepted;
    }
    this.serveRead(context, from, true);
    return accepted;
  }

  private serveRead(context: string, from: NodeId, broadcast: boolean): void {
    const index = this.log.committed;
    const alone = this.conf.voters.length === 1 && this.conf.voters[0] === this.id;
    if (alone || this.cfg.readOnly === 'lease') {
      this.releaseRead(context, index, from);
      return;
    }
    const acks = new Set<NodeId>();
    if (this.conf.voters.includes(this.id)) acks.add(this.id);
    this.reads.add({ context, index, from, acks });
    if (broadcast) this.broadcastHeartbeat(context);
  }

  private ackRead(context: string, voter: NodeId): void {
    if (!this.conf.voters.includes(voter)) return;
    const read = this.reads.ack(context, voter);
    if (read === undefined) return;
    let acks = 0;
    for (const v of this.conf.voters) if (read.acks.has(v)) acks++;
    if (acks < this.quorum()) return;
    for (const r of this.reads.releaseThrough(context)) this.releaseRead(r.context, r.index, r.from);
  }

  private releaseRead(context: string, index: number, from: NodeId): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: 'readIndexResp', to: from, term: this.currentTerm, context, index });
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private send(m: DistributiveOmit<Message, 'from'>): void {
    this.messages.push({ ...m, from: this.id } as Message);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
