// Scenario tests: each a readable script of steps and the state expected after them, run
// on the production core through the scripted harness (the safety checker watches every step).
import { describe, expect, it } from 'vitest';
import type { Message } from '../src/core/index.ts';
import { Cluster } from './harness.ts';

const isRejection = (to: string) => (m: Message) => m.type === 'appendResp' && m.from === to && m.reject;

describe('Figure 7: a new leader brings every possible follower log in line', () => {
  // The leader for term 8 and the followers (a)-(f) of the Raft paper's Figure 7.
  const logs = {
    leader: { terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6], term: 7 },
    a: { terms: [1, 1, 1, 4, 4, 5, 5, 6, 6], term: 7 },
    b: { terms: [1, 1, 1, 4], term: 7 },
    c: { terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], term: 7 },
    d: { terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], term: 7 },
    e: { terms: [1, 1, 1, 4, 4, 4, 4], term: 7 },
    f: { terms: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], term: 7 },
  };
  const members = Object.keys(logs);

  it('wins term 8 with the votes of a, b, e and f (c and d hold newer logs and refuse)', () => {
    const c = Cluster.fromLogs(members, logs);
    c.elect('leader');
    expect(c.raft('leader').term).toBe(8);
    const granted = (m: Message) => m.type === 'voteResp' && m.granted;
    expect(
      c.delivered
        .filter(granted)
        .map((m) => m.from)
        .sort(),
    ).toEqual(expect.arrayContaining(['a', 'b', 'e', 'f']));
    expect(
      c.delivered
        .filter((m) => m.type === 'voteResp' && !m.granted)
        .map((m) => m.from)
        .sort(),
    ).toEqual(['c', 'd']);
  });

  it('every follower ends with the leader log plus its term-8 entry; extra entries of c and d are gone', () => {
    const c = Cluster.fromLogs(members, logs);
    c.elect('leader');
    c.stabilize();
    const expected = '1 1 1 4 4 5 5 6 6 6 8';
    for (const id of members) expect(c.logTerms(id), id).toBe(expected);
    expect(c.raft('leader').commitIndex).toBe(11);
    expect(c.violations).toEqual([]);
  });

  it('backs off by whole terms: one rejection per lagging follower, even f, which diverged for 8 entries', () => {
    const c = Cluster.fromLogs(members, logs);
    c.elect('leader');
    c.stabilize();
    // The first append checks index 10 (term 6). f answers with its last entry of a term at
    // most 6 (index 10, term 3); the leader skips to its own last entry of a term at most 3
    // (index 3), which matches. Backing off one entry per round trip would take 7 rejections.
    const rejections = Object.fromEntries(
      members.filter((m) => m !== 'leader').map((m) => [m, c.count(isRejection(m))]),
    );
    expect(rejections).toEqual({ a: 1, b: 1, c: 0, d: 0, e: 1, f: 1 });
  });
});

describe("Figure 8: a leader never commits an older term's entry by counting replicas", () => {
  // Five servers; one entry per append, so the script controls what reaches whom. (CheckQuorum
  // and PreVote are off: the paper's scenario predates them and they only add lease waits here.)
  const options = { config: { maxMessageBytes: 1, checkQuorum: false, preVote: false } } as const;
  const s = ['s1', 's2', 's3', 's4', 's5'];

  /** Steps (a) to (c); returns the cluster with s1 leading term 4 and x (index 3, term 2) on s1-s4. */
  function upToC(c: Cluster): void {
    // (a) s1 leads term 2; its entry x (index 3) reaches s2 only.
    c.elect('s1');
    expect(c.raft('s1').term).toBe(2);
    for (const other of ['s3', 's4', 's5']) c.cut('s1', other);
    c.propose('s1', 'x');
    c.stabilize();
    expect(c.logTerms('s2')).toBe('1 2 2');
    // (b) s1 crashes; s5 wins term 3 with the votes of s3 and s4; its entry at index 3 reaches nobody.
    c.crash('s1');
    c.heal();
    c.dropWhere((m) => m.from === 's5' && m.type === 'append');
    c.elect('s5');
    expect(c.raft('s5').term).toBe(3);
    expect(c.logTerms('s5')).toBe('1 2 3');
    // (c) s5 crashes; s1 restarts and wins term 4. It replicates x to s3 and s4, but its own
    // term-4 entry reaches no follower.
    c.crash('s5');
    c.heal();
    c.restart('s1');
    c.dropWhere(
      (m) => m.type === 'append' && m.entries.some((e) => e.term === 4) && c.raft(m.to).lastIndex >= 3,
    );
    c.campaign('s1'); // term 3 is taken (s3 and s4 voted for s5): this campaign loses
    c.elect('s1');
    expect(c.raft('s1').term).toBe(4);
    for (const id of ['s2', 's3', 's4']) expect(c.logTerms(id), id).toBe('1 2 2');
  }

  it('(c) x is on a majority but stays uncommitted; (d) s5 may then replace it, and nothing committed is lost', () => {
    const c = Cluster.bootstrap(s, options);
    upToC(c);
    expect(c.raft('s1').commitIndex).toBe(2);
    // (d) s1 crashes; s5 restarts and wins term 5 (its last term, 3, beats their 2) and overwrites index 3.
    c.crash('s1');
    c.heal();
    c.restart('s5');
    c.campaign('s5'); // term 4 is taken
    c.elect('s5');
    c.stabilize();
    for (const id of ['s2', 's3', 's4', 's5']) expect(c.logTerms(id), id).toBe('1 2 3 5');
    expect(c.applied('s2')).toEqual([]);
    expect(c.violations).toEqual([]);
  });

  it('(e) once s1 replicates an entry of its own term to a majority, x commits with it and s5 can no longer win', () => {
    const c = Cluster.bootstrap(s, options);
    upToC(c);
    c.heal();
    c.tick('s1'); // a heartbeat round resumes replication
    c.stabilize();
    expect(c.raft('s1').commitIndex).toBe(4);
    c.crash('s1');
    c.restart('s5');
    for (let attempt = 0; attempt < 3; attempt++) c.campaign('s5');
    expect(c.raft('s5').role).not.toBe('leader');
    expect(c.applied('s2')).toEqual(['x']);
    expect(c.violations).toEqual([]);
  });

  it('with the commit rule broken (counting replicas of x), the same script loses a committed entry', () => {
    const c = Cluster.bootstrap(s, { ...options, brokenVariant: 'commitOldTermByCounting' });
    upToC(c);
    expect(c.raft('s1').commitIndex).toBe(3);
    c.crash('s1');
    c.heal();
    c.restart('s5');
    c.campaign('s5');
    c.elect('s5');
    expect(c.violations.join('\n')).toMatch(
      /leader completeness: s5, leader of term 5, has term 3 at 3, where term 2 was committed/,
    );
  });
});

describe('PreVote: a member returning from a partition does not depose a healthy leader', () => {
  // The others keep committing while c is away, so c's log falls behind. (CheckQuorum is off:
  // its lease would protect the leader on its own; this shows what PreVote alone does.)
  function partitionAndReturn(preVote: boolean): Cluster {
    const c = Cluster.bootstrap(['a', 'b', 'c'], { config: { preVote, checkQuorum: false } });
    c.elect('a');
    c.stabilize();
    c.isolate('c');
    c.propose('a', 'while c was away');
    c.tick('c', 100); // about seven election timeouts alone
    c.stabilize();
    c.heal();
    c.runFor(30);
    return c;
  }

  it('with PreVote, c never raises its term (nobody would vote for its older log); a stays leader of term 2', () => {
    const c = partitionAndReturn(true);
    expect(c.raft('c').term).toBe(2);
    expect(c.leader()).toBe('a');
    expect(c.raft('a').term).toBe(2);
    expect(c.raft('c').leader).toBe('a');
    expect(c.applied('c')).toEqual(['while c was away']);
  });

  it('without PreVote, c comes back with a higher term and forces a new election', () => {
    const c = partitionAndReturn(false);
    expect(c.raft('a').term).toBeGreaterThan(2);
    expect(c.leader()).not.toBeNull();
    expect(c.raft(c.leader()!).term).toBeGreaterThan(2);
  });
});

describe('CheckQuorum: a leader cut off from a quorum steps down; followers ignore disruptive votes', () => {
  it('an isolated leader steps down at its next quorum check (the check runs once per election timeout)', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.stabilize();
    c.tick('a', 5);
    c.stabilize();
    c.isolate('a');
    c.tick('a', 4); // the check at tick 10 still sees the answers from before the partition
    c.tick('a', 1);
    expect(c.raft('a').role).toBe('leader');
    c.tick('a', 9);
    expect(c.raft('a').role).toBe('leader');
    c.tick('a', 1); // tick 20: nobody answered since tick 10
    expect(c.raft('a').role).toBe('follower');
    expect(c.raft('a').leader).toBeNull();
    // The majority elects a new leader of its own.
    c.runFor(30);
    expect(['b', 'c']).toContain(c.leader());
  });

  it('without CheckQuorum the isolated leader keeps believing it leads', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c'], { config: { checkQuorum: false } });
    c.elect('a');
    c.stabilize();
    c.isolate('a');
    c.tick('a', 100);
    expect(c.raft('a').role).toBe('leader');
  });

  it('followers that heard from the leader within the timeout ignore a vote request of a higher term (the lease)', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c'], { config: { preVote: false } });
    c.elect('a');
    c.stabilize();
    c.isolate('c');
    c.tick('c', 20); // c campaigns alone: term 3
    c.drainReadies();
    c.heal();
    c.tick('c', 20); // term 4 or more, and this time its vote requests arrive
    c.drainReadies();
    c.stabilize();
    expect(c.raft('b').status().counters.votesIgnoredInLease).toBeGreaterThan(0);
    expect(c.raft('b').term).toBe(2);
    expect(c.raft('b').leader).toBe('a');
  });
});

describe('leadership transfer', () => {
  it('hands over to an up-to-date voter at once, without waiting for an election timeout', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.stabilize();
    expect(c.raft('a').transferLeader('b')).toEqual({ ok: true });
    expect(c.propose('a', 'during')).toEqual({ ok: false, reason: 'transferInProgress' });
    c.stabilize(); // no tick: TimeoutNow makes b campaign immediately
    expect(c.leader()).toBe('b');
    expect(c.raft('b').term).toBe(3);
    expect(c.raft('a').role).toBe('follower');
  });

  it('first brings a lagging target up to date, then hands over', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.stabilize();
    c.isolate('c');
    for (const text of ['p1', 'p2', 'p3']) c.propose('a', text);
    c.stabilize();
    c.heal();
    expect(c.raft('a').transferLeader('c')).toEqual({ ok: true });
    c.stabilize();
    expect(c.leader()).toBe('c');
    expect(c.logTerms('c')).toBe('1 2 2 2 2 3');
    expect(c.applied('c')).toEqual(['p1', 'p2', 'p3']);
  });

  it('is abandoned after an election timeout when the target does not answer, and proposals flow again', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.stabilize();
    c.isolate('c');
    expect(c.raft('a').transferLeader('c')).toEqual({ ok: true });
    c.tick('a', 9);
    c.stabilize();
    expect(c.raft('a').status().transferee).toBe('c');
    c.tick('a', 1);
    expect(c.raft('a').status().transferee).toBeNull();
    expect(c.propose('a', 'after').ok).toBe(true);
    expect(c.leader()).toBe('a');
  });

  it('refuses a target that is not a voter', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c'], {}, ['l']);
    c.elect('a');
    expect(c.raft('a').transferLeader('l')).toEqual({
      ok: false,
      reason: 'invalidTransfer',
      detail: 'l is not a voter',
    });
    expect(c.raft('a').transferLeader('a')).toEqual({
      ok: false,
      reason: 'invalidTransfer',
      detail: 'already the leader',
    });
    expect(c.raft('b').transferLeader('c')).toEqual({ ok: false, reason: 'notLeader' });
  });
});

describe('learners receive the log but never vote', () => {
  function withLearner(): Cluster {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.stabilize();
    c.add('d');
    expect(c.raft('a').proposeConfChange({ type: 'addLearner', node: 'd' }).ok).toBe(true);
    c.propose('a', 'p1');
    c.stabilize();
    return c;
  }

  it('a new learner catches up with the whole log', () => {
    const c = withLearner();
    expect(c.logTerms('d')).toBe(c.logTerms('a'));
    expect(c.applied('d')).toEqual(['p1']);
    expect(c.raft('d').confState).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
  });

  it('never campaigns and is never asked for a vote', () => {
    const c = withLearner();
    c.isolate('a');
    c.tick('d', 200);
    c.tickAll(40);
    c.stabilize();
    const fromOrToD = (m: Message) =>
      (m.type === 'preVote' || m.type === 'vote') && (m.from === 'd' || m.to === 'd');
    expect(c.count(fromOrToD)).toBe(0);
    expect(c.raft('d').role).toBe('follower');
  });

  it('does not count toward the commit quorum', () => {
    const c = withLearner();
    c.crash('b');
    c.crash('c');
    const before = c.raft('a').commitIndex;
    c.propose('a', 'p2');
    c.stabilize();
    expect(c.raft('d').lastIndex).toBe(c.raft('a').lastIndex); // d holds it...
    expect(c.raft('a').commitIndex).toBe(before); // ...but a and d are no quorum
  });

  it('is promoted only once it has caught up', () => {
    const c = withLearner();
    c.isolate('d');
    c.propose('a', 'p2');
    c.stabilize();
    expect(c.raft('a').proposeConfChange({ type: 'promote', node: 'd' })).toMatchObject({
      ok: false,
      reason: 'learnerNotCaughtUp',
    });
    c.heal();
    c.tick('a');
    c.stabilize();
    expect(c.raft('a').proposeConfChange({ type: 'promote', node: 'd' }).ok).toBe(true);
    c.stabilize();
    expect(c.raft('d').confState).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
  });
});

describe('snapshots', () => {
  it('a follower behind the leader first index gets the snapshot, then the entries after it', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.stabilize();
    c.isolate('c');
    for (let i = 1; i <= 10; i++) c.propose('a', `p${i}`);
    c.stabilize();
    const snap = c.compact('a');
    expect(snap.meta).toEqual({ index: 12, term: 2, conf: { voters: ['a', 'b', 'c'], learners: [] } });
    expect(c.raft('a').firstIndex).toBe(13);
    c.heal();
    c.propose('a', 'p11');
    c.tick('a');
    c.stabilize();
    expect(c.count((m) => m.type === 'snapshot' && m.to === 'c')).toBe(1);
    expect(c.node('c').disk.snapshot?.meta.index).toBe(12);
    expect(c.node('c').disk.app).toEqual(c.node('a').disk.app);
    expect(c.applied('c')).toEqual(['<snapshot 12>', 'p11']);
    expect(c.violations).toEqual([]);
  });

  it('a follower only a little behind catches up from the tail the leader kept', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.stabilize();
    c.isolate('c');
    for (let i = 1; i <= 3; i++) c.propose('a', `p${i}`);
    c.stabilize();
    c.compact('a', 3); // the snapshot is at 5; entries from 3 on stay
    c.heal();
    c.tick('a');
    c.stabilize();
    expect(c.count((m) => m.type === 'snapshot')).toBe(0);
    expect(c.applied('c')).toEqual(['p1', 'p2', 'p3']);
  });
});

describe('removing the leader', () => {
  it('the leader steps down once its removal commits and hands over without an election timeout', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.stabilize();
    expect(c.raft('a').proposeConfChange({ type: 'remove', node: 'a' }).ok).toBe(true);
    c.stabilize(); // no tick
    expect(c.raft('a').role).toBe('follower');
    const leader = c.leader();
    expect(['b', 'c']).toContain(leader);
    expect(c.raft(leader!).confState).toEqual({ voters: ['b', 'c'], learners: [] });
    // The removed member never campaigns again, and the two that are left commit on their own.
    const campaigns = (m: Message) => m.from === 'a' && (m.type === 'preVote' || m.type === 'vote');
    const before = c.count(campaigns);
    c.tick('a', 100);
    c.stabilize();
    expect(c.count(campaigns)).toBe(before);
    c.propose(leader!, 'after');
    c.stabilize();
    expect(c.applied('b')).toEqual(['after']);
    expect(c.applied('c')).toEqual(['after']);
  });
});

describe('ReadIndex', () => {
  it('a read is released once a heartbeat round confirms the leadership, at the commit index it arrived at', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.propose('a', 'w1');
    c.stabilize();
    expect(c.raft('a').readIndex('r1')).toEqual({ ok: true });
    c.drainReadies();
    expect(c.readStates('a')).toEqual([]); // not before a quorum answered
    c.stabilize();
    expect(c.readStates('a')).toEqual([{ index: 3, context: 'r1' }]);
  });

  it('a follower forwards its read to the leader and gets the index back', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c']);
    c.elect('a');
    c.propose('a', 'w1');
    c.stabilize();
    expect(c.raft('b').readIndex('rb')).toEqual({ ok: true });
    c.stabilize();
    expect(c.readStates('b')).toEqual([{ index: 3, context: 'rb' }]);
  });

  it('a deposed leader cut off from the others never answers a read', () => {
    const c = Cluster.bootstrap(['a', 'b', 'c'], { config: { checkQuorum: false } });
    c.elect('a');
    c.stabilize();
    c.isolate('a');
    c.elect('b');
    c.propose('b', 'w-new');
    c.stabilize();
    expect(c.raft('a').role).toBe('leader'); // it does not know yet
    c.raft('a').readIndex('stale');
    c.tick('a', 5);
    c.stabilize();
    expect(c.readStates('a')).toEqual([]);
  });
});
