// bench:raft-core — committed entries per second through a 3-member cluster of the pure
// Raft core, in memory: no disk, no network, no simulator. Each batch of proposals goes to
// the leader, and messages are pumped between the cores until every member has applied it.
// This is the core's own CPU cost per entry, the ceiling for everything built on it.
//
// Knobs: BENCH_ROUNDS (default 3, the best round of each size is kept), BENCH_SECONDS (time
// per round, default 1), BENCH_PAYLOAD_BYTES (default 128).
import { type Message, type NodeId, Raft, type Ready } from '../packages/raft/src/core/index.ts';
import { fmt, printTable } from './lib/stats.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const secondsPerRound = Number(process.env.BENCH_SECONDS ?? 1);
const payloadBytes = Number(process.env.BENCH_PAYLOAD_BYTES ?? 128);
const batchSizes = [1, 16, 256];
/** Compact every member's log once it holds this many applied entries, as a real driver would. */
const compactEveryEntries = 10_000;

const ids: NodeId[] = ['a', 'b', 'c'];

class Cluster {
  readonly members = new Map<NodeId, Raft>();
  private inbox: Message[] = [];
  readyCount = 0;

  constructor() {
    let seed = 1;
    for (const id of ids) {
      let s = seed++;
      const random = () => {
        s = (s * 1103515245 + 12345) % 2147483648;
        return s / 2147483648;
      };
      const raft = new Raft(
        { id, electionTicks: 10, heartbeatTicks: 1, random },
        {
          hardState: { term: 0, vote: null, commit: 0 },
          entries: [],
          bootstrap: { voters: ids, learners: [] },
        },
      );
      this.members.set(id, raft);
    }
    const a = this.members.get('a')!;
    while (a.role === 'follower') a.tick();
    this.pump();
    if (a.role !== 'leader') throw new Error('a did not become leader');
  }

  /** Process Readies and deliver messages until nothing moves. */
  pump(): void {
    for (;;) {
      for (const raft of this.members.values()) {
        while (raft.hasReady()) {
          const rd: Ready = raft.ready();
          this.readyCount++;
          for (const m of rd.messages) this.inbox.push(m);
          raft.advance(rd);
        }
      }
      if (this.inbox.length === 0) return;
      const batch = this.inbox;
      this.inbox = [];
      for (const m of batch) this.members.get(m.to)!.step(m);
    }
  }

  compactIfLong(): void {
    for (const raft of this.members.values()) {
      if (raft.appliedIndex - raft.snapshotIndex >= compactEveryEntries)
        raft.compact(raft.snapshotMetaAt(raft.appliedIndex));
    }
  }
}

interface Result {
  readonly entriesPerSecond: number;
  readonly microsPerBatch: number;
  readonly readiesPerBatch: number;
}

function measure(batch: number): Result {
  const cluster = new Cluster();
  const leader = cluster.members.get('a')!;
  const payload = new Uint8Array(payloadBytes).fill(7);
  const runBatch = () => {
    for (let i = 0; i < batch; i++) if (!leader.propose(payload).ok) throw new Error('proposal dropped');
    cluster.pump();
    const target = leader.lastIndex;
    for (const raft of cluster.members.values()) {
      if (raft.appliedIndex !== target)
        throw new Error(`${raft.id} applied ${raft.appliedIndex}, not ${target}`);
    }
    cluster.compactIfLong();
  };
  for (let i = 0; i < Math.max(200, 20_000 / batch); i++) runBatch(); // warm up the JIT
  const readiesBefore = cluster.readyCount;
  let batches = 0;
  const t0 = performance.now();
  const deadline = t0 + secondsPerRound * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 10; i++) runBatch();
    batches += 10;
  }
  const ms = performance.now() - t0;
  return {
    entriesPerSecond: (batches * batch * 1000) / ms,
    microsPerBatch: (ms * 1000) / batches,
    readiesPerBatch: (cluster.readyCount - readiesBefore) / batches,
  };
}

const best = new Map<number, Result>();
for (let r = 0; r < rounds; r++) {
  for (const batch of batchSizes) {
    const res = measure(batch);
    const prev = best.get(batch);
    if (prev === undefined || res.entriesPerSecond > prev.entriesPerSecond) best.set(batch, res);
  }
}

console.log(
  `raft core, 3 members in memory (no disk, no network), ${payloadBytes}-byte entries, best of ${rounds} round(s) of ${secondsPerRound} s`,
);
printTable([
  ['batch', 'committed entries/s', 'µs per batch', 'Readies per batch'],
  ...batchSizes.map((b) => {
    const r = best.get(b)!;
    return [String(b), fmt(r.entriesPerSecond, 0), fmt(r.microsPerBatch, 1), fmt(r.readiesPerBatch, 1)];
  }),
]);
