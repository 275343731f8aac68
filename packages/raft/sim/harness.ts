/**
 * A scripted, in-memory cluster for scenario tests: members are the production core with a
 * simulated disk and state machine (`SimNode`), messages go through one FIFO queue that the
 * script delivers when it says so, and links can be cut, isolated, filtered and healed —
 * in the spirit of etcd raft's test network. The safety checker watches every step.
 */
import {
  type BrokenVariant,
  type ConfState,
  type Entry,
  encodeConfEntry,
  type HardState,
  type Message,
  type NodeId,
  type ProposeResult,
  type Raft,
  type RaftConfig,
  type ReadState,
} from '../src/core/index.ts';
import { Checker } from './checker.ts';
import { type NodeObserver, SimNode, type StoredSnapshot } from './node.ts';
import { Rng } from './rng.ts';

export type ClusterConfig = Partial<Omit<RaftConfig, 'id' | 'random'>>;

export interface ClusterOptions {
  /** Raft settings for every member (electionTicks 10 and heartbeatTicks 1 unless given). */
  readonly config?: ClusterConfig;
  readonly seed?: number;
  readonly brokenVariant?: BrokenVariant;
}

/** A member's starting log for `Cluster.fromLogs`: the term of each entry from index 1 on. */
export interface LogSpec {
  readonly terms: readonly number[];
  /** The member's current term; defaults to its last entry's term. */
  readonly term?: number;
  readonly vote?: NodeId | null;
  readonly commit?: number;
}

interface Queued {
  readonly message: Message;
  readonly snapshot: StoredSnapshot | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Cluster implements NodeObserver {
  readonly checker = new Checker();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly rng: Rng;
  private readonly options: ClusterOptions;
  private queue: Queued[] = [];
  private readonly blocked = new Set<string>();
  private filters: ((m: Message) => boolean)[] = [];
  /** Every message delivered, in order: scenarios count them. */
  readonly delivered: Message[] = [];
  /** Every message dropped by a cut link, a filter or a member that is down. */
  readonly dropped: Message[] = [];
  private readonly appliedText = new Map<NodeId, string[]>();
  private readonly reads = new Map<NodeId, ReadState[]>();

  private constructor(options: ClusterOptions) {
    this.options = options;
    this.rng = new Rng(options.seed ?? 1);
  }

  /** A brand-new cluster whose founding configuration is `conf` (voters and learners start together). */
  static bootstrap(
    voters: readonly NodeId[],
    options: ClusterOptions = {},
    learners: readonly NodeId[] = [],
  ): Cluster {
    const c = new Cluster(options);
    const conf: ConfState = { voters, learners };
    for (const id of [...voters, ...learners]) c.start(c.create(id, conf));
    return c;
  }

  /**
   * Members that start from the given logs (Figure 7 style). Entry 1 is the founding
   * configuration of `voters`; the other entries carry "index@term" as their data.
   */
  static fromLogs(
    voters: readonly NodeId[],
    logs: Readonly<Record<NodeId, LogSpec>>,
    options: ClusterOptions = {},
  ): Cluster {
    const c = new Cluster(options);
    for (const id of voters) {
      const spec = logs[id] ?? { terms: [1] };
      const node = c.create(id, undefined);
      const entries: Entry[] = spec.terms.map((term, i) =>
        i === 0
          ? {
              index: 1,
              term,
              type: 'conf',
              data: encodeConfEntry({ change: { type: 'bootstrap' }, conf: { voters, learners: [] } }),
            }
          : { index: i + 1, term, type: 'normal', data: encoder.encode(`${i + 1}@${term}`) },
      );
      const hardState: HardState = {
        term: spec.term ?? spec.terms[spec.terms.length - 1] ?? 0,
        vote: spec.vote ?? null,
        commit: spec.commit ?? 0,
      };
      node.disk.hardState = hardState;
      node.disk.entries = entries;
      c.start(node);
    }
    return c;
  }

  private create(id: NodeId, bootstrap: ConfState | undefined): SimNode {
    const random = this.rng.fork();
    const config: RaftConfig = {
      electionTicks: 10,
      heartbeatTicks: 1,
      ...this.options.config,
      id,
      random: () => random.next(),
      ...(this.options.brokenVariant === undefined
        ? {}
        : { testOnlyBrokenVariant: this.options.brokenVariant }),
    };
    const node = new SimNode(id, () => config, this, bootstrap);
    this.nodes.set(id, node);
    return node;
  }

  private start(node: SimNode): void {
    node.start();
    this.checker.started(node);
  }

  // ---- looking ------------------------------------------------------------------------------

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no member ${id}`);
    return node;
  }

  /** The core of a member that is up. */
  raft(id: NodeId): Raft {
    const raft = this.node(id).raft;
    if (raft === null) throw new Error(`${id} is down`);
    return raft;
  }

  /** The leader with the highest term among members that are up, or null. */
  leader(): NodeId | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.raft?.role === 'leader' && (best === null || n.raft.term > best.raft!.term)) best = n;
    }
    return best?.id ?? null;
  }

  /** A member's log as the terms of its entries from its first index, e.g. "1 1 1 4 4". */
  logTerms(id: NodeId): string {
    const raft = this.raft(id);
    const terms: number[] = [];
    for (let i = raft.firstIndex; i <= raft.lastIndex; i++) terms.push(raft.termAt(i)!);
    return terms.join(' ');
  }

  /** The application commands a member applied, in order (no-ops and conf entries left out). */
  applied(id: NodeId): readonly string[] {
    return this.appliedText.get(id) ?? [];
  }

  /** ReadIndex answers a member released. */
  readStates(id: NodeId): readonly ReadState[] {
    return this.reads.get(id) ?? [];
  }

  /** How many delivered messages match. */
  count(pred: (m: Message) => boolean): number {
    return this.delivered.filter(pred).length;
  }

  get violations(): readonly string[] {
    return this.checker.violations.map((v) => `${v.property}: ${v.detail}`);
  }

  // ---- acting -------------------------------------------------------------------------------

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.raft(id).tick();
      this.check();
    }
  }

  /** Tick every member that is up. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) n.raft?.tick();
      this.check();
    }
  }

  /** Tick `id` until its election timeout fires and it starts a (pre-)campaign, then run the election to its end. */
  campaign(id: NodeId): void {
    const raft = this.raft(id);
    const started = () => raft.status().counters.preCampaigns + raft.status().counters.campaigns;
    const before = started();
    const limit = 2 * (this.options.config?.electionTicks ?? 10);
    for (let i = 0; i < limit && started() === before; i++) this.tick(id);
    this.stabilize();
  }

  /** Let `ticks` ticks pass on every member that is up, delivering everything after each. */
  runFor(ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      this.tickAll();
      this.stabilize();
    }
  }

  /** `campaign(id)` and insist that it won. */
  elect(id: NodeId): void {
    this.campaign(id);
    if (this.raft(id).role !== 'leader')
      throw new Error(`${id} did not become leader (it is ${this.raft(id).role})`);
  }

  propose(id: NodeId, text: string): ProposeResult {
    const result = this.raft(id).propose(encoder.encode(text));
    this.check();
    return result;
  }

  /** Cut both directions between `a` and `b`. */
  cut(a: NodeId, b: NodeId): void {
    this.blocked.add(`${a}>${b}`);
    this.blocked.add(`${b}>${a}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  /** Drop every message `pred` matches until `heal()`. */
  dropWhere(pred: (m: Message) => boolean): void {
    this.filters.push(pred);
  }

  /** Restore every link and remove every filter. */
  heal(): void {
    this.blocked.clear();
    this.filters = [];
  }

  crash(id: NodeId): void {
    this.node(id).crash();
  }

  restart(id: NodeId): void {
    this.start(this.node(id));
    this.check();
  }

  /** A brand-new, empty member (to be added with a membership change). */
  add(id: NodeId): void {
    this.start(this.create(id, undefined));
  }

  /** `id` saves its state machine and compacts its log, keeping entries from `keepFrom` on. */
  compact(id: NodeId, keepFrom?: number): StoredSnapshot {
    const node = this.node(id);
    const snapshot = node.snapshotAndCompact(keepFrom ?? node.disk.app.applied + 1);
    if (snapshot === null) throw new Error(`${id} has nothing new to snapshot`);
    return snapshot;
  }

  /**
   * Process every Ready and deliver every message, round after round, until nothing moves
   * (or `maxRounds` pass). Returns the number of messages delivered.
   */
  stabilize(maxRounds = 1000): number {
    let delivered = 0;
    for (let round = 0; round < maxRounds; round++) {
      this.drainReadies();
      if (this.queue.length === 0) return delivered;
      const batch = this.queue;
      this.queue = [];
      for (const q of batch) {
        if (this.deliver(q)) delivered++;
        this.check();
      }
    }
    throw new Error(`no quiescence after ${maxRounds} rounds`);
  }

  /** Process every member's Ready (persist, send, apply, advance) without delivering anything. */
  drainReadies(): void {
    for (let moved = true; moved; ) {
      moved = false;
      for (const node of this.nodes.values()) {
        for (let rd = node.takeReady(); rd !== null; rd = node.takeReady()) {
          moved = true;
          this.checker.readyTaken(node, rd.entries);
          node.persist(rd);
          for (const m of rd.messages) {
            this.queue.push({ message: m, snapshot: m.type === 'snapshot' ? node.disk.snapshot : null });
          }
          node.apply(rd);
          node.advance(rd);
          this.check();
        }
      }
    }
  }

  private deliver(q: Queued): boolean {
    const m = q.message;
    const to = this.nodes.get(m.to);
    const from = this.nodes.get(m.from);
    if (to?.raft == null || this.blocked.has(`${m.from}>${m.to}`) || this.filters.some((f) => f(m))) {
      this.dropped.push(m);
      if (q.snapshot !== null) from?.raft?.reportSnapshot(m.to, false);
      return false;
    }
    this.delivered.push(m);
    if (q.snapshot !== null) {
      to.receiveSnapshot(q.snapshot);
      from?.raft?.reportSnapshot(m.to, true);
    }
    to.raft.step(m);
    return true;
  }

  private check(): void {
    for (const node of this.nodes.values()) this.checker.afterEvent(node);
  }

  // ---- NodeObserver -------------------------------------------------------------------------

  entriesPersisted(node: SimNode, entries: readonly Entry[], prevTerm: number): void {
    this.checker.entriesPersisted(node, entries, prevTerm);
  }

  entryApplied(node: SimNode, entry: Entry, key: number): void {
    this.checker.entryApplied(node, entry, key);
    if (entry.type === 'normal' && entry.data.byteLength > 0) {
      const list = this.appliedText.get(node.id) ?? [];
      list.push(decoder.decode(entry.data));
      this.appliedText.set(node.id, list);
    }
  }

  snapshotInstalled(node: SimNode, snapshot: StoredSnapshot): void {
    this.checker.snapshotInstalled(node, snapshot);
    // The state machine jumped: what it applied before the snapshot is now only a hash.
    this.appliedText.set(node.id, [`<snapshot ${snapshot.meta.index}>`]);
  }

  readAnswered(node: SimNode, read: ReadState): void {
    this.checker.readAnswered(node, read);
    const list = this.reads.get(node.id) ?? [];
    list.push(read);
    this.reads.set(node.id, list);
  }
}
