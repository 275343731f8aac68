/**
 * Helpers for the core's rule tests: a member built from a literal log, and the messages
 * it sends once its Readies are processed as a driver would (persisted, then sent).
 *
 * (These tests live under sim/ because nothing under src/core may import anything outside
 * it, the test runner included.)
 */
import {
  type Entry,
  encodeConfEntry,
  type Message,
  type NodeId,
  Raft,
  type RaftConfig,
  type Ready,
  type SnapshotMeta,
} from '../../src/core/index.ts';

export interface MemberSpec {
  readonly id?: NodeId;
  readonly voters?: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  /** Terms of the entries from index 1 (entry 1 is the founding configuration). Default [1]. */
  readonly terms?: readonly number[];
  readonly term?: number;
  readonly vote?: NodeId | null;
  readonly commit?: number;
  readonly applied?: number;
  readonly snapshot?: SnapshotMeta;
  readonly config?: Partial<RaftConfig>;
}

const encoder = new TextEncoder();

export function entriesFor(
  terms: readonly number[],
  voters: readonly NodeId[],
  learners: readonly NodeId[] = [],
): Entry[] {
  return terms.map((term, i) =>
    i === 0
      ? {
          index: 1,
          term,
          type: 'conf',
          data: encodeConfEntry({ change: { type: 'bootstrap' }, conf: { voters, learners } }),
        }
      : { index: i + 1, term, type: 'normal', data: encoder.encode(`${i + 1}@${term}`) },
  );
}

export function member(spec: MemberSpec = {}): Raft {
  const voters = spec.voters ?? ['a', 'b', 'c'];
  const terms = spec.terms ?? [1];
  const entries = spec.snapshot ? [] : entriesFor(terms, voters, spec.learners);
  return new Raft(
    { id: spec.id ?? 'a', electionTicks: 10, heartbeatTicks: 1, random: () => 0, ...spec.config },
    {
      hardState: {
        term: spec.term ?? terms[terms.length - 1] ?? 0,
        vote: spec.vote ?? null,
        commit: spec.commit ?? 0,
      },
      entries,
      ...(spec.snapshot ? { snapshot: spec.snapshot } : {}),
      ...(spec.applied === undefined ? {} : { applied: spec.applied }),
    },
  );
}

/** Process every Ready as a driver would (persist, send, apply), and return them. */
export function drain(raft: Raft): Ready[] {
  const out: Ready[] = [];
  while (raft.hasReady()) {
    const rd = raft.ready();
    out.push(rd);
    raft.advance(rd);
  }
  return out;
}

/** The messages `raft` sends once its Readies are processed. */
export function sent(raft: Raft): Message[] {
  return drain(raft).flatMap((rd) => rd.messages);
}

/** Tick until the member starts a campaign (or `limit` ticks pass). */
export function tickUntilCampaign(raft: Raft, limit = 100): number {
  const before = raft.status().counters;
  for (let i = 1; i <= limit; i++) {
    raft.tick();
    const now = raft.status().counters;
    if (now.campaigns + now.preCampaigns > before.campaigns + before.preCampaigns) return i;
  }
  throw new Error('no campaign');
}

/**
 * Make `raft` (a member of a, b, c) the leader of the next term: campaign, collect b's vote,
 * and process the new leader's Readies. Returns the messages it sent as the new leader.
 */
export function makeLeader(raft: Raft): Message[] {
  tickUntilCampaign(raft);
  for (;;) {
    const requests = sent(raft).filter((m) => m.type === 'preVote' || m.type === 'vote');
    const req = requests.find((m) => m.to === 'b');
    if (req === undefined || (req.type !== 'preVote' && req.type !== 'vote')) break;
    raft.step({
      type: req.type === 'preVote' ? 'preVoteResp' : 'voteResp',
      from: 'b',
      to: raft.id,
      term: req.term,
      granted: true,
    });
    if (raft.role === 'leader') break;
  }
  if (raft.role !== 'leader') throw new Error(`not leader: ${raft.role}`);
  return sent(raft);
}

/** An append from `from` with entries of the given terms after (prevIndex, prevTerm). */
export function append(
  to: NodeId,
  term: number,
  prevIndex: number,
  prevTerm: number,
  terms: readonly number[],
  commit = 0,
  from: NodeId = 'b',
): Message {
  const entries: Entry[] = terms.map((t, i) => ({
    index: prevIndex + 1 + i,
    term: t,
    type: 'normal',
    data: encoder.encode(`${prevIndex + 1 + i}@${t}`),
  }));
  return { type: 'append', from, to, term, prevIndex, prevTerm, entries, commit };
}

export function logTerms(raft: Raft): number[] {
  const out: number[] = [];
  for (let i = raft.firstIndex; i <= raft.lastIndex; i++) out.push(raft.termAt(i)!);
  return out;
}
