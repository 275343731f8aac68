/**
 * The deterministic simulator: the production core, several members, a network that loses,
 * duplicates, delays and reorders messages, partitions (symmetric and one-way), crashes that
 * lose everything not persisted, members ticking at different rates, snapshots, membership
 * changes and leadership transfers — all drawn from one seed. After every event the checker
 * verifies Raft's safety properties; once the faults stop, the run must converge (liveness).
 */
import {
  type BrokenVariant,
  type ConfState,
  decodeConfEntry,
  type Entry,
  isMember,
  type Message,
  type NodeId,
  type RaftConfig,
  type ReadState,
  type Ready,
} from '../src/core/index.ts';
import { Checker, type Violation } from './checker.ts';
import { type NodeObserver, SimNode, type StoredSnapshot } from './node.ts';
import { Rng } from './rng.ts';
import { describeMessage, describeReady } from './trace.ts';

export interface SimOptions {
  readonly seed: number;
  /** Events to run with faults on; the liveness phase follows. */
  readonly steps: number;
  readonly brokenVariant?: BrokenVariant;
  /** Keep a readable trace of the last `traceLines` events. */
  readonly trace?: boolean;
  readonly traceLines?: number;
  /** Override some of the knobs the seed would draw. */
  readonly profile?: Partial<Profile>;
}

export interface SimResult {
  readonly seed: number;
  readonly profile: string;
  /** Events processed, both phases. */
  readonly events: number;
  readonly elections: number;
  /** The highest commit index reached. */
  readonly commits: number;
  readonly proposals: number;
  readonly readsChecked: number;
  readonly snapshotsInstalled: number;
  readonly crashes: number;
  readonly confChanges: number;
  readonly transfers: number;
  readonly violations: readonly Violation[];
  /** Ticks from the end of the faults until the cluster converged; null if it did not get there. */
  readonly livenessTicks: number | null;
  readonly trace: readonly string[];
}

/** Events per seed with faults on, unless told otherwise (`pnpm sim --steps`). */
export const defaultSteps = 5000;

/** Time is counted in units; a member's tick is about 100 of them. */
const unitsPerTick = 100;
export const electionTicks = 10;
/** Once faults stop, a leader must be elected and every pending proposal applied everywhere within this many ticks. */
export const livenessBoundTicks = 20 * electionTicks;
/** A safety net for the liveness phase. */
const maxLivenessEvents = 400_000;
const maxMembers = 8;
/** Clients stop proposing while this many of their proposals are pending (a client's concurrency limit). */
const maxPendingProposals = 64;
/** Once faults stop, messages and disk writes take at most this long (a fifth of a tick). */
const healthyLatencyMax = 20;

type SimEvent =
  | { readonly kind: 'tick'; readonly node: SimNode; readonly life: number }
  | { readonly kind: 'deliver'; readonly message: Message; readonly snapshot: StoredSnapshot | null }
  | { readonly kind: 'persist'; readonly node: SimNode; readonly life: number; readonly ready: Ready }
  | { readonly kind: 'snapshotReport'; readonly from: NodeId; readonly to: NodeId; readonly ok: boolean }
  | { readonly kind: 'unreachable'; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: 'client' }
  | { readonly kind: 'fault' }
  | { readonly kind: 'restart'; readonly node: SimNode; readonly life: number }
  | {
      readonly kind: 'strike';
      readonly node: SimNode;
      readonly life: number;
      readonly how: 'crash' | 'isolate';
    }
  | { readonly kind: 'retire'; readonly id: NodeId };

/** A binary min-heap of events by (time, insertion order): ties keep their order, so runs replay exactly. */
class EventQueue {
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];
  private readonly events: SimEvent[] = [];
  private seq = 0;

  get size(): number {
    return this.events.length;
  }

  push(time: number, event: SimEvent): void {
    this.times.push(time);
    this.seqs.push(this.seq++);
    this.events.push(event);
    let i = this.events.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peekTime(): number {
    return this.times[0]!;
  }

  pop(): SimEvent {
    const top = this.events[0]!;
    const last = this.events.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.events.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.events.length && this.less(l, m)) m = l;
      if (r < this.events.length && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    const ta = this.times[a]!;
    const tb = this.times[b]!;
    return ta < tb || (ta === tb && this.seqs[a]! < this.seqs[b]!);
  }

  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b]!, this.times[a]!];
    [this.seqs[a], this.seqs[b]] = [this.seqs[b]!, this.seqs[a]!];
    [this.events[a], this.events[b]] = [this.events[b]!, this.events[a]!];
  }
}

/** The knobs one seed draws. */
export interface Profile {
  readonly founders: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxMessageBytes: number;
  readonly maxInflightMessages: number;
  readonly maxUncommittedBytes: number;
  readonly latencyMax: number;
  readonly lossRate: number;
  readonly dupRate: number;
  readonly diskLatencyMax: number;
  readonly faultEvery: number;
  readonly clientEvery: number;
  /** Chance that a new leader is struck (crashed or isolated) before it gets far. */
  readonly leaderStrikeRate: number;
  /** Chance that a member that just granted a vote crashes and restarts soon after. */
  readonly voterStrikeRate: number;
  /** Chance that a leader is struck right after its commit index moved. */
  readonly commitStrikeRate: number;
  /** Chance that a member crashes after a Ready is durable but before its messages leave. */
  readonly crashBeforeSendRate: number;
}

function drawProfile(rng: Rng): Profile {
  return {
    founders: rng.pick([3, 3, 3, 5, 5, 1]),
    heartbeatTicks: rng.int(1, 3),
    preVote: rng.chance(0.8),
    checkQuorum: rng.chance(0.8),
    maxMessageBytes: rng.pick([1, 64, 256, 4096, 1 << 20]),
    maxInflightMessages: rng.pick([1, 2, 4, 64]),
    maxUncommittedBytes: rng.pick([512, 1 << 20]),
    latencyMax: rng.pick([20, 60, 150, 400]),
    lossRate: rng.pick([0, 0.01, 0.05, 0.15]),
    dupRate: rng.pick([0, 0.01, 0.05]),
    diskLatencyMax: rng.pick([0, 5, 40, 150]),
    faultEvery: rng.pick([600, 1200, 2500, 5000]),
    clientEvery: rng.pick([15, 40, 100]),
    leaderStrikeRate: rng.pick([0, 0.1, 0.3, 0.6]),
    voterStrikeRate: rng.pick([0, 0.1, 0.3, 0.6]),
    commitStrikeRate: rng.pick([0, 0.05, 0.2, 0.5]),
    crashBeforeSendRate: rng.pick([0, 0.002, 0.01, 0.03]),
  };
}

function describeProfile(p: Profile): string {
  return (
    `founders=${p.founders} hb=${p.heartbeatTicks} preVote=${p.preVote} checkQuorum=${p.checkQuorum} ` +
    `msgBytes=${p.maxMessageBytes} inflight=${p.maxInflightMessages} uncommitted=${p.maxUncommittedBytes} ` +
    `latency≤${p.latencyMax} loss=${p.lossRate} dup=${p.dupRate} disk≤${p.diskLatencyMax} faultEvery=${p.faultEvery} clientEvery=${p.clientEvery} ` +
    `leaderStrike=${p.leaderStrikeRate} voterStrike=${p.voterStrikeRate} commitStrike=${p.commitStrikeRate} crashBeforeSend=${p.crashBeforeSendRate}`
  );
}

/** A proposal's payload: its id in the first four bytes, then filler of a random length. */
function encodeProposal(id: number, bytes: number): Uint8Array {
  const data = new Uint8Array(Math.max(4, bytes));
  new DataView(data.buffer).setUint32(0, id, true);
  for (let i = 4; i < data.length; i++) data[i] = (id + i) & 0xff;
  return data;
}

function proposalId(e: Entry): number | null {
  if (e.type !== 'normal' || e.data.byteLength < 4) return null;
  return new DataView(e.data.buffer, e.data.byteOffset, 4).getUint32(0, true);
}

class World implements NodeObserver {
  private readonly rng: Rng;
  private readonly profile: Profile;
  readonly checker: Checker;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly tickPeriod = new Map<NodeId, number>();
  private readonly retired = new Set<NodeId>();
  private readonly queue = new EventQueue();
  private readonly blocked = new Set<string>();
  private readonly broken: BrokenVariant | undefined;
  private now = 0;
  private faultsOn = true;
  private nextNodeNumber = 1;
  private nextProposalId = 1;
  private nextReadId = 1;
  /** Proposals a member accepted and nobody has applied yet, with where the last attempt went. */
  private readonly pending = new Map<
    number,
    { readonly data: Uint8Array; via: NodeId; term: number; life: number }
  >();
  /** Once faults stop, each link delivers in order: the time of its last delivery. */
  private readonly linkClock = new Map<string, number>();
  /** The newest configuration any state machine applied, and where. */
  private appliedConf: { index: number; conf: ConfState } = { index: 0, conf: { voters: [], learners: [] } };
  private readonly traceOn: boolean;
  private readonly traceLimit: number;
  readonly trace: string[] = [];
  events = 0;
  proposals = 0;
  crashes = 0;
  confChanges = 0;
  transfers = 0;

  constructor(options: SimOptions) {
    this.rng = new Rng(options.seed);
    this.profile = { ...drawProfile(this.rng), ...options.profile };
    this.broken = options.brokenVariant;
    this.traceOn = options.trace ?? false;
    this.traceLimit = options.traceLines ?? 400;
    this.checker = new Checker((v) => this.log(`!! VIOLATION ${v.property}: ${v.detail}`));
  }

  get profileText(): string {
    return describeProfile(this.profile);
  }

  private log(line: string): void {
    if (!this.traceOn) return;
    this.trace.push(`${String(this.now).padStart(7)} ${line}`);
    if (this.trace.length > this.traceLimit * 2) this.trace.splice(0, this.trace.length - this.traceLimit);
  }

  // ---- setup --------------------------------------------------------------------------------

  private newNode(bootstrap: ConfState | undefined): SimNode {
    const id = `n${this.nextNodeNumber++}`;
    const random = this.rng.fork();
    const p = this.profile;
    const config: RaftConfig = {
      id,
      electionTicks,
      heartbeatTicks: p.heartbeatTicks,
      random: () => random.next(),
      preVote: p.preVote,
      checkQuorum: p.checkQuorum,
      maxMessageBytes: p.maxMessageBytes,
      maxInflightMessages: p.maxInflightMessages,
      maxUncommittedBytes: p.maxUncommittedBytes,
      ...(this.broken === undefined ? {} : { testOnlyBrokenVariant: this.broken }),
    };
    const node = new SimNode(id, () => config, this, bootstrap);
    this.nodes.set(id, node);
    // Members tick at different rates: up to 25% apart.
    this.tickPeriod.set(id, Math.round(unitsPerTick * (0.85 + 0.3 * this.rng.next())));
    this.startNode(node);
    return node;
  }

  private startNode(node: SimNode): void {
    node.start();
    this.checker.started(node);
    this.queue.push(this.now + this.rng.int(1, this.tickPeriod.get(node.id)!), {
      kind: 'tick',
      node,
      life: node.incarnation,
    });
    this.log(
      `${node.id} starts (term ${node.raft!.term}, commit ${node.raft!.commitIndex}, last ${node.raft!.lastIndex})`,
    );
  }

  // ---- running ------------------------------------------------------------------------------

  run(steps: number): number | null {
    const founders: NodeId[] = [];
    for (let i = 1; i <= this.profile.founders; i++) founders.push(`n${i}`);
    const bootstrap: ConfState = { voters: founders, learners: [] };
    for (let i = 0; i < this.profile.founders; i++) this.newNode(bootstrap);
    this.queue.push(this.now + 1, { kind: 'client' });
    this.queue.push(this.now + this.profile.faultEvery, { kind: 'fault' });

    for (let step = 0; step < steps && this.checker.violations.length === 0; step++) this.processNext();
    if (this.checker.violations.length > 0) return null;
    return this.checkLiveness();
  }

  /** Stop every fault, restart every member, and require the cluster to converge within the bound. */
  private checkLiveness(): number | null {
    this.faultsOn = false;
    this.blocked.clear();
    for (const node of this.nodes.values()) if (!node.up && !this.retired.has(node.id)) this.startNode(node);
    this.log('== faults stop: partitions healed, every member up, no loss or duplication');
    const healed = this.now;
    const deadline = healed + livenessBoundTicks * unitsPerTick;
    for (let i = 0; i < maxLivenessEvents && this.checker.violations.length === 0; i++) {
      if (this.converged()) return Math.ceil((this.now - healed) / unitsPerTick);
      if (this.queue.peekTime() > deadline) break;
      this.processNext();
    }
    if (this.checker.violations.length === 0) {
      this.fail(
        'liveness',
        `no convergence within ${livenessBoundTicks} ticks of the faults stopping (${this.pending.size} proposals pending, ` +
          `e.g. ${[...this.pending.entries()]
            .slice(0, 3)
            .map(([id, p]) => `#${id} via ${p.via} in t${p.term}`)
            .join(', ')}; ${this.describeCluster()})`,
      );
    }
    return null;
  }

  private fail(property: string, detail: string): void {
    const v = { property, detail };
    this.checker.violations.push(v);
    this.log(`!! VIOLATION ${property}: ${detail}`);
  }

  private describeCluster(): string {
    return [...this.nodes.values()]
      .filter((n) => n.up)
      .map((n) => {
        const r = n.raft!;
        const progress =
          r.role === 'leader'
            ? ` [${Object.entries(r.status().progress)
                .map(
                  ([id, p]) =>
                    `${id}:${p.state}/m${p.match}/n${p.next}/if${p.inflightMessages}${p.recentActive ? '' : '/inactive'}`,
                )
                .join(' ')}]`
            : '';
        return `${n.id}:${r.role}/t${r.term}/c${r.commitIndex}/a${r.appliedIndex}/l${r.lastIndex}${progress}`;
      })
      .join(' ');
  }

  /** A leader everyone follows, everything committed, applied everywhere, nothing pending. */
  private converged(): boolean {
    if (this.pending.size > 0) return false;
    let leader: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.raft?.role === 'leader' && (leader === null || n.raft.term > leader.raft!.term)) leader = n;
    }
    if (leader === null) return false;
    const l = leader.raft!;
    if (l.commitIndex !== l.lastIndex) return false;
    const conf = l.confState;
    for (const id of [...conf.voters, ...conf.learners]) {
      const r = this.nodes.get(id)?.raft;
      if (r == null || r.term !== l.term || r.leader !== leader.id || r.appliedIndex !== l.commitIndex)
        return false;
    }
    return true;
  }

  private processNext(): void {
    const time = this.queue.peekTime();
    const event = this.queue.pop();
    this.now = time;
    this.events++;
    try {
      this.handle(event);
      for (const node of this.nodes.values()) this.checker.afterEvent(node);
      for (const node of this.nodes.values()) this.pump(node);
    } catch (err) {
      this.fail('core assertion', err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
  }

  /** Hand a new Ready to the member's (simulated) disk. */
  private pump(node: SimNode): void {
    const rd = node.takeReady();
    if (rd === null) return;
    this.checker.readyTaken(node, rd.entries);
    if (this.traceOn) this.log(`${node.id} ready: ${describeReady(rd)}`);
    if (this.faultsOn) this.maybeStrike(node, rd);
    const diskMax = this.faultsOn
      ? this.profile.diskLatencyMax
      : Math.min(this.profile.diskLatencyMax, healthyLatencyMax);
    const delay = diskMax === 0 ? 0 : this.rng.int(0, diskMax);
    this.queue.push(this.now + delay, { kind: 'persist', node, life: node.incarnation, ready: rd });
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        if (ev.life !== ev.node.incarnation || ev.node.raft === null) return;
        const before = ev.node.raft.role;
        ev.node.raft.tick();
        if (this.traceOn && ev.node.raft.role !== before)
          this.log(`${ev.node.id} tick: ${before} → ${ev.node.raft.role} t${ev.node.raft.term}`);
        this.queue.push(this.now + this.tickPeriod.get(ev.node.id)!, ev);
        return;
      }
      case 'persist': {
        const node = ev.node;
        if (ev.life !== node.incarnation) return; // the crash came first: none of it happened
        node.persist(ev.ready);
        if (this.faultsOn && ev.ready.messages.length > 0) {
          // Durable, but nothing sent or applied yet: the worst moment to die, above all for a
          // leader that was just elected or just moved its commit index.
          const p = this.profile;
          const chance =
            ev.ready.softState?.role === 'leader'
              ? p.leaderStrikeRate / 2
              : node.raft?.role === 'leader' && ev.ready.committed.length > 0
                ? p.commitStrikeRate
                : p.crashBeforeSendRate;
          if (this.rng.chance(chance)) {
            this.crashNode(node, this.strikeDowntime(), 'after persisting, before sending');
            return;
          }
        }
        for (const m of ev.ready.messages) this.send(node, m);
        node.apply(ev.ready);
        node.advance(ev.ready);
        return;
      }
      case 'deliver':
        this.deliver(ev.message, ev.snapshot);
        return;
      case 'snapshotReport': {
        const from = this.nodes.get(ev.from);
        from?.raft?.reportSnapshot(ev.to, ev.ok);
        this.log(`${ev.from} transport: snapshot to ${ev.to} ${ev.ok ? 'delivered' : 'failed'}`);
        return;
      }
      case 'unreachable':
        this.nodes.get(ev.from)?.raft?.reportUnreachable(ev.to);
        return;
      case 'client':
        this.clientAction();
        return;
      case 'fault':
        if (!this.faultsOn) return;
        this.faultAction();
        this.queue.push(this.now + this.rng.int(1, 2 * this.profile.faultEvery), { kind: 'fault' });
        return;
      case 'restart':
        if (ev.life === ev.node.incarnation && !ev.node.up && !this.retired.has(ev.node.id))
          this.startNode(ev.node);
        return;
      case 'strike':
        if (this.faultsOn && ev.life === ev.node.incarnation && ev.node.up) this.strike(ev.node, ev.how);
        return;
      case 'retire': {
        const node = this.nodes.get(ev.id);
        if (node === undefined || this.retired.has(ev.id) || isMember(this.appliedConf.conf, ev.id)) return;
        this.retired.add(ev.id);
        node.crash();
        this.log(`${ev.id} retires (removed from the configuration)`);
        return;
      }
    }
  }

  // ---- network ------------------------------------------------------------------------------

  private latency(): number {
    return this.rng.int(1, this.faultsOn ? this.profile.latencyMax : healthyLatencyMax);
  }

  /** When a message sent now from `from` to `to` arrives: any order while faults are on, in order after. */
  private arrival(from: NodeId, to: NodeId): number {
    const at = this.now + this.latency();
    if (this.faultsOn) return at;
    const link = `${from}>${to}`;
    const t = Math.max(at, this.linkClock.get(link) ?? 0);
    this.linkClock.set(link, t);
    return t;
  }

  private send(from: SimNode, m: Message): void {
    let snapshot: StoredSnapshot | null = null;
    if (m.type === 'snapshot') {
      // The transport streams the snapshot the sender has on disk; if it was replaced meanwhile, the stream fails.
      snapshot = from.disk.snapshot;
      if (snapshot === null || snapshot.meta.index !== m.snapshot.index) {
        this.queue.push(this.now + this.latency(), {
          kind: 'snapshotReport',
          from: m.from,
          to: m.to,
          ok: false,
        });
        return;
      }
    }
    if (this.faultsOn && this.rng.chance(this.profile.lossRate)) {
      if (this.traceOn) this.log(`lost ${describeMessage(m)}`);
      if (snapshot !== null)
        this.queue.push(this.now + this.latency(), {
          kind: 'snapshotReport',
          from: m.from,
          to: m.to,
          ok: false,
        });
      return;
    }
    this.queue.push(this.arrival(m.from, m.to), { kind: 'deliver', message: m, snapshot });
    if (this.faultsOn && this.rng.chance(this.profile.dupRate)) {
      this.queue.push(this.now + this.latency(), { kind: 'deliver', message: m, snapshot });
    }
  }

  private deliver(m: Message, snapshot: StoredSnapshot | null): void {
    const to = this.nodes.get(m.to);
    if (to?.raft == null || this.blocked.has(`${m.from}>${m.to}`)) {
      if (this.traceOn) this.log(`dropped ${describeMessage(m)}`);
      if (snapshot !== null)
        this.queue.push(this.now + this.latency(), {
          kind: 'snapshotReport',
          from: m.from,
          to: m.to,
          ok: false,
        });
      else if (m.type === 'append' && this.rng.chance(0.3))
        this.queue.push(this.now + 1, { kind: 'unreachable', from: m.from, to: m.to });
      return;
    }
    if (this.traceOn) this.log(`deliver ${describeMessage(m)}`);
    if (snapshot !== null) {
      to.receiveSnapshot(snapshot);
      this.queue.push(this.now + this.latency(), {
        kind: 'snapshotReport',
        from: m.from,
        to: m.to,
        ok: true,
      });
    }
    to.raft.step(m);
  }

  // ---- clients --------------------------------------------------------------------------------

  private upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  private leaderNode(): SimNode | null {
    let leader: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.raft?.role === 'leader' && (leader === null || n.raft.term > leader.raft!.term)) leader = n;
    }
    return leader;
  }

  private clientAction(): void {
    const p = this.profile;
    if (!this.faultsOn) {
      // Once faults stop, clients only retry what is still pending, and only where the last
      // attempt may have been lost: it went to another member or to an earlier term.
      const leader = this.leaderNode();
      if (leader !== null) {
        const raft = leader.raft!;
        for (const p of this.pending.values()) {
          // (A member that crashed before persisting its term may win that same term again.)
          if (p.via === leader.id && p.term === raft.term && p.life === leader.incarnation) continue;
          const result = raft.propose(p.data);
          if (this.traceOn)
            this.log(
              `client retries a pending proposal at ${leader.id}: ${result.ok ? 'ok' : result.reason}`,
            );
          if (!result.ok) break;
          p.via = leader.id;
          p.term = raft.term;
          p.life = leader.incarnation;
        }
      }
      this.queue.push(this.now + unitsPerTick, { kind: 'client' });
      return;
    }
    this.queue.push(this.now + this.rng.int(1, 2 * p.clientEvery), { kind: 'client' });
    const up = this.upNodes();
    if (up.length === 0) return;
    const leader = this.leaderNode();
    const roll = this.rng.next();
    if (roll < 0.6) {
      if (this.pending.size >= maxPendingProposals) return;
      // Clients talk to whichever member they believe leads, a deposed one in a minority included.
      const leaders = up.filter((n) => n.raft!.role === 'leader');
      const target = leaders.length > 0 && this.rng.chance(0.7) ? this.rng.pick(leaders) : this.rng.pick(up);
      const id = this.nextProposalId++;
      const data = encodeProposal(id, this.rng.int(4, 120));
      const result = target.raft!.propose(data);
      if (result.ok) {
        this.pending.set(id, { data, via: target.id, term: target.raft!.term, life: target.incarnation });
        this.proposals++;
      }
      if (this.traceOn)
        this.log(`client propose #${id} at ${target.id}: ${result.ok ? 'ok' : result.reason}`);
    } else if (roll < 0.75) {
      const target = this.rng.pick(up);
      const context = `r${this.nextReadId++}`;
      this.checker.readStarted(context);
      const result = target.raft!.readIndex(context);
      if (this.traceOn)
        this.log(`client read ${context} at ${target.id}: ${result.ok ? 'ok' : result.reason}`);
    } else if (roll < 0.87) {
      const target = this.rng.pick(up);
      const applied = target.disk.app.applied;
      if (applied - (target.disk.snapshot?.meta.index ?? 0) >= 5) {
        const keepFrom = Math.max(1, applied + 1 - (this.rng.chance(0.5) ? 0 : this.rng.int(1, 20)));
        const snap = target.snapshotAndCompact(keepFrom);
        if (snap !== null && this.traceOn)
          this.log(`${target.id} snapshots at ${snap.meta.index} and compacts (keeping from ${keepFrom})`);
      }
    } else if (roll < 0.95) {
      if (leader !== null) this.changeMembership(leader);
    } else if (leader !== null) {
      const voters = leader.raft!.confState.voters.filter((v) => v !== leader.id);
      if (voters.length > 0) {
        const to = this.rng.pick(voters);
        const result = leader.raft!.transferLeader(to);
        if (result.ok) this.transfers++;
        this.log(`client transfer ${leader.id} → ${to}: ${result.ok ? 'ok' : result.reason}`);
      }
    }
  }

  private changeMembership(leader: SimNode): void {
    const raft = leader.raft!;
    const conf = raft.confState;
    const roll = this.rng.next();
    let change: Parameters<typeof raft.proposeConfChange>[0];
    if (roll < 0.35 && this.nodes.size < maxMembers) {
      change = { type: this.rng.chance(0.8) ? 'addLearner' : 'addVoter', node: `n${this.nextNodeNumber}` };
    } else if (roll < 0.65 && conf.learners.length > 0) {
      change = { type: 'promote', node: this.rng.pick(conf.learners) };
    } else if (this.profile.preVote || this.profile.checkQuorum) {
      const members = [...conf.voters, ...conf.learners];
      change = { type: 'remove', node: this.rng.pick(members) };
    } else {
      // With neither PreVote nor the CheckQuorum lease, a removed member that never hears of
      // its removal can depose every leader forever (thesis §4.2.3): safe, but not live.
      return;
    }
    const result = raft.proposeConfChange(change);
    this.log(
      `client ${change.type} ${change.node} at ${leader.id}: ${result.ok ? 'ok' : `${result.reason} ${result.detail ?? ''}`}`,
    );
    if (!result.ok) return;
    this.confChanges++;
    if (change.type === 'addLearner' || change.type === 'addVoter') this.newNode(undefined);
  }

  // ---- faults -------------------------------------------------------------------------------

  /**
   * Faults aimed at the moments that matter: a leader that fails right after its election
   * or right after it moved its commit index (the Figure 8 hazard needs several such in a
   * row), and a voter that restarts right after granting a vote (it must still remember it).
   */
  private maybeStrike(node: SimNode, rd: Ready): void {
    const p = this.profile;
    const life = node.incarnation;
    const how = this.rng.chance(0.6) ? 'crash' : 'isolate';
    if (rd.softState?.role === 'leader' && this.rng.chance(p.leaderStrikeRate / 2)) {
      this.queue.push(this.now + this.rng.int(0, 5 * unitsPerTick), { kind: 'strike', node, life, how });
    } else if (
      rd.messages.some((m) => m.type === 'voteResp' && m.granted) &&
      this.rng.chance(p.voterStrikeRate)
    ) {
      this.queue.push(this.now + this.rng.int(0, 2 * unitsPerTick), {
        kind: 'strike',
        node,
        life,
        how: 'crash',
      });
    }
  }

  private crashNode(node: SimNode, downFor: number, why: string): void {
    node.crash();
    this.crashes++;
    this.queue.push(this.now + downFor, { kind: 'restart', node, life: node.incarnation });
    this.log(`${node.id} crashes ${why} (restarts in ${downFor})`);
  }

  /** Half come straight back (a restart); half stay away long enough for the others to move on. */
  private strikeDowntime(): number {
    return this.rng.chance(0.5)
      ? this.rng.int(0, 3 * unitsPerTick)
      : this.rng.int(5, 4 * electionTicks) * unitsPerTick;
  }

  private strike(node: SimNode, how: 'crash' | 'isolate'): void {
    if (how === 'crash') {
      this.crashNode(node, this.strikeDowntime(), 'struck');
      return;
    }
    for (const other of this.nodes.keys()) {
      if (other === node.id) continue;
      this.blocked.add(`${node.id}>${other}`);
      this.blocked.add(`${other}>${node.id}`);
    }
    this.log(`${node.id} struck: isolated`);
  }

  private faultAction(): void {
    const live = [...this.nodes.values()].filter((n) => !this.retired.has(n.id));
    const ids = live.map((n) => n.id);
    const roll = this.rng.next();
    if (roll < 0.35) {
      const up = live.filter((n) => n.up);
      if (up.length === 0) return;
      this.crashNode(this.rng.pick(up), this.rng.int(1, 4 * electionTicks) * unitsPerTick, 'at random');
    } else if (roll < 0.5) {
      const victim = this.rng.pick(ids);
      for (const other of ids) {
        if (other === victim) continue;
        this.blocked.add(`${victim}>${other}`);
        this.blocked.add(`${other}>${victim}`);
      }
      this.log(`partition: ${victim} isolated`);
    } else if (roll < 0.65) {
      const side = ids.filter(() => this.rng.chance(0.5));
      for (const a of side) {
        for (const b of ids) {
          if (side.includes(b)) continue;
          this.blocked.add(`${a}>${b}`);
          this.blocked.add(`${b}>${a}`);
        }
      }
      this.log(`partition: {${side.join(',')}} | {${ids.filter((i) => !side.includes(i)).join(',')}}`);
    } else if (roll < 0.75) {
      const a = this.rng.pick(ids);
      const b = this.rng.pick(ids);
      if (a !== b) this.blocked.add(`${a}>${b}`);
      this.log(`partition: one-way ${a} ↛ ${b}`);
    } else if (roll < 0.87) {
      const back = this.rng.pick(ids);
      for (const link of [...this.blocked]) {
        const [a, b] = link.split('>');
        if (a === back || b === back) this.blocked.delete(link);
      }
      this.log(`partition: ${back} reconnected`);
    } else {
      this.blocked.clear();
      this.log('partition healed');
    }
  }

  // ---- NodeObserver: the checker's hooks, plus what the clients learn -------------------------

  entriesPersisted(node: SimNode, entries: readonly Entry[], prevTerm: number): void {
    this.checker.entriesPersisted(node, entries, prevTerm);
  }

  entryApplied(node: SimNode, entry: Entry, key: number): void {
    this.checker.entryApplied(node, entry, key);
    const id = proposalId(entry);
    if (id !== null) this.pending.delete(id);
    if (entry.type === 'conf' && entry.index > this.appliedConf.index) {
      const conf = decodeConfEntry(entry.data)!.conf;
      const before = this.appliedConf.conf;
      this.appliedConf = { index: entry.index, conf };
      // An operator shuts a removed member down a little later.
      for (const id of [...before.voters, ...before.learners]) {
        if (!isMember(conf, id))
          this.queue.push(this.now + 3 * electionTicks * unitsPerTick, { kind: 'retire', id });
      }
    }
  }

  snapshotInstalled(node: SimNode, snapshot: StoredSnapshot): void {
    this.checker.snapshotInstalled(node, snapshot);
    if (this.traceOn) this.log(`${node.id} installs snapshot ${snapshot.meta.index}@${snapshot.meta.term}`);
  }

  readAnswered(node: SimNode, read: ReadState): void {
    this.checker.readAnswered(node, read);
  }
}

export function runSimulation(options: SimOptions): SimResult {
  const world = new World(options);
  const livenessTicks = world.run(options.steps);
  const c = world.checker;
  return {
    seed: options.seed,
    profile: world.profileText,
    events: world.events,
    elections: c.elections,
    commits: c.maxCommit,
    proposals: world.proposals,
    readsChecked: c.readsChecked,
    snapshotsInstalled: c.snapshotsInstalled,
    crashes: world.crashes,
    confChanges: world.confChanges,
    transfers: world.transfers,
    violations: c.violations,
    livenessTicks,
    trace: world.trace.slice(-(options.traceLines ?? 400)),
  };
}
