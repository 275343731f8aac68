/**
 * A simulated member: the production core plus what a driver adds, in memory — a disk that
 * keeps only what a Ready asked to persist, a state machine (a hash chain over the applied
 * entries), and snapshots of it. A crash loses the core and anything not yet persisted.
 */
import {
  type ConfState,
  type Entry,
  emptyHardState,
  type HardState,
  type NodeId,
  Raft,
  type RaftConfig,
  type ReadState,
  type Ready,
  type SnapshotMeta,
} from '../src/core/index.ts';

/** The state machine, durable: how far it applied and a hash of everything it applied. */
export interface AppState {
  readonly applied: number;
  readonly hash: number;
}

/** A snapshot: its metadata and the state machine it captured. */
export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly app: AppState;
}

/** Everything a member keeps across a crash. */
export interface Disk {
  hardState: HardState;
  snapshot: StoredSnapshot | null;
  /** The log on disk; may start before the snapshot's index when a tail was kept. */
  entries: Entry[];
  app: AppState;
}

/** Told about everything a member persists and applies (the checker listens here). */
export interface NodeObserver {
  entriesPersisted(node: SimNode, entries: readonly Entry[], prevTerm: number): void;
  entryApplied(node: SimNode, entry: Entry, key: number): void;
  snapshotInstalled(node: SimNode, snapshot: StoredSnapshot): void;
  readAnswered(node: SimNode, read: ReadState): void;
}

/** A 32-bit hash of an entry's identity: term, type and bytes. */
export function entryKey(e: Entry): number {
  let h = Math.imul(0x811c9dc5 ^ e.term, 0x01000193) ^ (e.type === 'conf' ? 0x5bd1e995 : 0);
  const d = e.data;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193);
  return h >>> 0;
}

/** The state machine's hash after applying an entry with `key` on top of `hash`. */
export function chainHash(hash: number, key: number): number {
  let h = Math.imul(hash ^ key, 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0x85ebca77) >>> 0;
}

export class SimNode {
  readonly id: NodeId;
  readonly disk: Disk;
  raft: Raft | null = null;
  /** Bumped on every crash, so that events scheduled for an earlier life are ignored. */
  incarnation = 0;
  /** The Ready the driver is working on (taken, not yet persisted). */
  inflight: Ready | null = null;
  /** Snapshot data that arrived over the transport and waits for the core to hand back its metadata. */
  private readonly received = new Map<number, StoredSnapshot>();
  private readonly makeConfig: () => RaftConfig;
  private readonly observer: NodeObserver | null;
  private bootstrap: ConfState | undefined;

  constructor(
    id: NodeId,
    makeConfig: () => RaftConfig,
    observer: NodeObserver | null,
    bootstrap?: ConfState,
  ) {
    this.id = id;
    this.makeConfig = makeConfig;
    this.observer = observer;
    this.bootstrap = bootstrap;
    this.disk = { hardState: emptyHardState, snapshot: null, entries: [], app: { applied: 0, hash: 0 } };
  }

  /** Start (or restart) the core from what is on disk. */
  start(): Raft {
    const snap = this.disk.snapshot;
    const snapIndex = snap?.meta.index ?? 0;
    this.raft = new Raft(this.makeConfig(), {
      hardState: this.disk.hardState,
      ...(snap === null ? {} : { snapshot: snap.meta }),
      entries: this.disk.entries.filter((e) => e.index > snapIndex),
      applied: this.disk.app.applied,
      ...(this.bootstrap === undefined ? {} : { bootstrap: this.bootstrap }),
    });
    this.bootstrap = undefined;
    return this.raft;
  }

  crash(): void {
    this.raft = null;
    this.inflight = null;
    this.received.clear();
    this.incarnation++;
  }

  get up(): boolean {
    return this.raft !== null;
  }

  /** The transport finished streaming a snapshot to our disk. */
  receiveSnapshot(snapshot: StoredSnapshot): void {
    this.received.set(snapshot.meta.index, snapshot);
    // Keep only a few: older ones are superseded.
    if (this.received.size > 4) this.received.delete(Math.min(...this.received.keys()));
  }

  /** Take the next Ready if there is one and none is in flight. */
  takeReady(): Ready | null {
    if (this.raft === null || this.inflight !== null || !this.raft.hasReady()) return null;
    this.inflight = this.raft.ready();
    return this.inflight;
  }

  /** Step 1 of the Ready contract: make the hard state, snapshot and entries durable. */
  persist(rd: Ready): void {
    if (rd.hardState !== undefined) this.disk.hardState = rd.hardState;
    if (rd.snapshot !== undefined) this.installSnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      const log = this.disk.entries;
      // Replace the stored suffix from `first` on (the log on disk is contiguous).
      const keep = log.length === 0 ? 0 : Math.max(0, Math.min(log.length, first - log[0]!.index));
      log.length = keep;
      const prev = log[keep - 1];
      if (prev !== undefined && prev.index !== first - 1)
        throw new Error(`${this.id}: entries from ${first} leave a gap after ${prev.index} on disk`);
      const snap = this.disk.snapshot?.meta;
      const prevTerm = prev?.index === first - 1 ? prev.term : snap?.index === first - 1 ? snap.term : 0;
      for (const e of rd.entries) log.push(e);
      this.observer?.entriesPersisted(this, rd.entries, prevTerm);
    }
  }

  private installSnapshot(meta: SnapshotMeta): void {
    const snapshot = this.received.get(meta.index);
    if (snapshot === undefined)
      throw new Error(`${this.id}: the core installs snapshot ${meta.index} that never arrived`);
    this.disk.snapshot = snapshot;
    this.disk.entries = [];
    this.disk.app = snapshot.app;
    for (const index of [...this.received.keys()]) if (index <= meta.index) this.received.delete(index);
    this.observer?.snapshotInstalled(this, snapshot);
  }

  /** Step 3: apply committed entries to the state machine, in order, each exactly once. */
  apply(rd: Ready): void {
    for (const e of rd.committed) {
      if (e.index !== this.disk.app.applied + 1)
        throw new Error(
          `${this.id}: committed entry ${e.index} handed out while the state machine is at ${this.disk.app.applied}`,
        );
      const key = entryKey(e);
      this.disk.app = { applied: e.index, hash: chainHash(this.disk.app.hash, key) };
      this.observer?.entryApplied(this, e, key);
    }
    for (const rs of rd.readStates) this.observer?.readAnswered(this, rs);
  }

  /** Step 5. */
  advance(rd: Ready): void {
    this.raft!.advance(rd);
    this.inflight = null;
  }

  /** The application snapshots its state and compacts the log, keeping entries from `keepFrom` on. */
  snapshotAndCompact(keepFrom: number): StoredSnapshot | null {
    const raft = this.raft;
    if (raft === null) return null;
    const index = this.disk.app.applied;
    // Nothing new to save, or a snapshot from the leader is about to replace the state anyway.
    if (
      index <= raft.snapshotIndex ||
      index <= (this.disk.snapshot?.meta.index ?? 0) ||
      index !== raft.appliedIndex
    )
      return null;
    const snapshot: StoredSnapshot = { meta: raft.snapshotMetaAt(index), app: this.disk.app };
    this.disk.snapshot = snapshot;
    this.disk.entries = this.disk.entries.filter((e) => e.index >= Math.min(keepFrom, index + 1));
    raft.compact(snapshot.meta, keepFrom);
    return snapshot;
  }
}
