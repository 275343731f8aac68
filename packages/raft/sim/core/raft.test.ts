// One test per rule: the Raft paper's Figure 2 and §5, the thesis extensions (PreVote,
// CheckQuorum, ReadIndex, transfer, membership), and the core's contract with its driver.
import { describe, expect, it } from 'vitest';
import type { Message, Raft } from '../../src/core/index.ts';
import { append, drain, logTerms, makeLeader, member, sent, tickUntilCampaign } from './fixtures.ts';

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const ofType = <T extends Message['type']>(messages: readonly Message[], type: T) =>
  messages.filter((m): m is Message & { readonly type: T } => m.type === type);

describe('elections (§5.2)', () => {
  it('a follower campaigns after a timeout drawn in [T, 2T) from the injected random source', () => {
    expect(tickUntilCampaign(member({ config: { random: () => 0 } }))).toBe(10);
    expect(tickUntilCampaign(member({ config: { random: () => 0.9999 } }))).toBe(19);
    expect(tickUntilCampaign(member({ config: { random: () => 0.5 } }))).toBe(15);
  });

  it('a candidate votes for itself and asks every other voter, in the Ready that persists its vote', () => {
    const a = member({ config: { preVote: false } });
    tickUntilCampaign(a);
    const rd = a.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 'a', commit: 0 });
    expect(rd.softState).toEqual({ leader: null, role: 'candidate' });
    expect(rd.messages).toEqual([
      { type: 'vote', from: 'a', to: 'b', term: 2, lastIndex: 1, lastTerm: 1, transfer: false },
      { type: 'vote', from: 'a', to: 'c', term: 2, lastIndex: 1, lastTerm: 1, transfer: false },
    ]);
  });

  it('a member grants one vote per term, to the first candidate that asks', () => {
    const a = member();
    const ask = (from: string): Message => ({
      type: 'vote',
      from,
      to: 'a',
      term: 2,
      lastIndex: 1,
      lastTerm: 1,
      transfer: false,
    });
    a.step(ask('b'));
    a.step(ask('c'));
    a.step(ask('b')); // a retransmission is granted again
    const answers = ofType(sent(a), 'voteResp').map((m) => [m.to, m.granted]);
    expect(answers).toEqual([
      ['b', true],
      ['c', false],
      ['b', true],
    ]);
    expect(a.status().vote).toBe('b');
  });

  it('refuses a candidate whose log is less up-to-date: lower last term, or same last term and shorter (§5.4.1)', () => {
    const answer = (lastIndex: number, lastTerm: number) => {
      const a = member({ terms: [1, 1, 2], term: 2 });
      a.step({ type: 'vote', from: 'b', to: 'a', term: 3, lastIndex, lastTerm, transfer: false });
      return ofType(sent(a), 'voteResp')[0]!.granted;
    };
    expect(answer(9, 1)).toBe(false);
    expect(answer(2, 2)).toBe(false);
    expect(answer(3, 2)).toBe(true);
    expect(answer(1, 3)).toBe(true);
  });

  it('a newer term in any message makes a member adopt it and follow; its vote is cleared (§5.1)', () => {
    const a = member();
    makeLeader(a);
    a.step({ type: 'heartbeatResp', from: 'c', to: 'a', term: 7, context: null });
    expect(a.status()).toMatchObject({ role: 'follower', term: 7, vote: null, leader: null });
  });

  it('a newer term from a candidate it refuses does not restart a follower election timer (Figure 2)', () => {
    const a = member({ terms: [1, 1], config: { random: () => 0 } }); // timeout: 10 ticks
    for (let i = 0; i < 6; i++) a.tick();
    a.step({ type: 'vote', from: 'b', to: 'a', term: 5, lastIndex: 1, lastTerm: 1, transfer: false });
    expect(a.term).toBe(5);
    expect(tickUntilCampaign(a)).toBe(4); // ten ticks in all, not ten more
  });

  it('ignores messages of an older term, but tells a stale leader the newer term', () => {
    const a = member({ term: 5 });
    a.step(append('a', 3, 1, 1, []));
    expect(sent(a)).toEqual([
      { type: 'appendResp', from: 'a', to: 'b', term: 5, reject: true, index: 0, hintIndex: 0, hintTerm: 0 },
    ]);
    a.step({ type: 'voteResp', from: 'c', to: 'a', term: 4, granted: true });
    expect(a.status().counters.staleMessages).toBe(2);
  });

  it('a pre-vote changes no term; a pre-candidate that wins one runs the real election (thesis §9.6)', () => {
    const a = member();
    tickUntilCampaign(a);
    const rd = a.ready();
    expect(rd.hardState).toBeUndefined();
    expect(a.status()).toMatchObject({ role: 'preCandidate', term: 1 });
    expect(ofType(rd.messages, 'preVote').map((m) => m.term)).toEqual([2, 2]);
    a.advance(rd);
    a.step({ type: 'preVoteResp', from: 'b', to: 'a', term: 2, granted: true });
    expect(a.status()).toMatchObject({ role: 'candidate', term: 2, vote: 'a' });
  });

  it('a pre-vote is not granted to a candidate with an older log, and a granted one records no vote', () => {
    const a = member({ terms: [1, 2], term: 2 });
    a.step({ type: 'preVote', from: 'b', to: 'a', term: 3, lastIndex: 5, lastTerm: 1, transfer: false });
    a.step({ type: 'preVote', from: 'c', to: 'a', term: 3, lastIndex: 2, lastTerm: 2, transfer: false });
    expect(ofType(sent(a), 'preVoteResp').map((m) => [m.to, m.granted, m.term])).toEqual([
      ['b', false, 2],
      ['c', true, 3],
    ]);
    expect(a.status()).toMatchObject({ term: 2, vote: null });
  });

  it('a new leader appends an empty entry of its own term (§8)', () => {
    const a = member();
    makeLeader(a);
    expect(logTerms(a)).toEqual([1, a.term]);
  });
});

describe('log replication (§5.3)', () => {
  it('a follower refuses an append whose previous entry it does not hold, with a hint past the mismatching term', () => {
    const a = member({ terms: [1, 1, 2, 2], term: 2 });
    a.step(append('a', 3, 6, 3, [3]));
    expect(ofType(sent(a), 'appendResp')).toEqual([
      { type: 'appendResp', from: 'a', to: 'b', term: 3, reject: true, index: 6, hintIndex: 4, hintTerm: 2 },
    ]);
  });

  it('a follower drops a conflicting suffix and takes the leader entries', () => {
    const a = member({ terms: [1, 1, 2, 2], term: 2 });
    a.step(append('a', 3, 2, 1, [3]));
    expect(logTerms(a)).toEqual([1, 1, 3]);
    expect(ofType(sent(a), 'appendResp')[0]).toMatchObject({ reject: false, index: 3 });
  });

  it('a late, duplicated append never truncates entries that a later append brought', () => {
    const a = member({ terms: [1, 2, 2, 2], term: 2 });
    a.step(append('a', 2, 1, 1, [2]));
    expect(logTerms(a)).toEqual([1, 2, 2, 2]);
    expect(ofType(sent(a), 'appendResp')[0]).toMatchObject({ reject: false, index: 2 });
  });

  it('a follower commits up to the leader commit index, but not past what the append proved it holds', () => {
    const a = member({ terms: [1, 1, 1, 9], term: 9 });
    a.step(append('a', 10, 1, 1, [1], 4));
    expect(a.commitIndex).toBe(2);
  });

  it('the leader counts its own copy of an entry only once advance() says it is on disk', () => {
    const a = member();
    makeLeader(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(a.commitIndex).toBe(2);
    expect(a.propose(bytes('x'))).toEqual({ ok: true, index: 3, term: 2 });
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(a.commitIndex).toBe(2); // b holds it; a has not persisted it
    drain(a);
    expect(a.commitIndex).toBe(3);
  });

  it('only an entry of the current term is committed by counting replicas; older ones commit with it (§5.4.2)', () => {
    const a = member({ terms: [1, 1, 1], term: 1 });
    makeLeader(a);
    sent(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(a.commitIndex).toBe(0);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 4,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(a.commitIndex).toBe(4);
  });

  it('with the commit rule broken, the same acknowledgement commits the older entry', () => {
    const a = member({
      terms: [1, 1, 1],
      term: 1,
      config: { testOnlyBrokenVariant: 'commitOldTermByCounting' },
    });
    makeLeader(a);
    sent(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(a.commitIndex).toBe(3);
  });

  it('probes one append at a time, then streams up to maxInflightMessages appends', () => {
    const a = member({ config: { maxInflightMessages: 2, maxMessageBytes: 1 } });
    const first = ofType(makeLeader(a), 'append').filter((m) => m.to === 'b');
    expect(first.map((m) => m.prevIndex)).toEqual([1]); // a probe: [2]
    for (const t of ['p3', 'p4', 'p5', 'p6']) a.propose(bytes(t));
    const toB = () => ofType(sent(a), 'append').filter((m) => m.to === 'b');
    expect(toB()).toEqual([]); // probing: wait for the answer
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(toB().map((m) => m.prevIndex)).toEqual([2, 3]); // replicate: two in flight
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(toB().map((m) => m.prevIndex)).toEqual([4]);
    expect(a.status().progress.b).toMatchObject({
      state: 'replicate',
      match: 3,
      next: 6,
      inflightMessages: 2,
    });
  });

  it('an append carries at most maxMessageBytes of entries, and always at least one', () => {
    const a = member({ config: { maxMessageBytes: 60 } });
    makeLeader(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    sent(a);
    for (let i = 0; i < 5; i++) a.propose(new Uint8Array(10)); // 26 bytes each with the overhead
    a.propose(new Uint8Array(500));
    const sizes = ofType(sent(a), 'append')
      .filter((m) => m.to === 'b')
      .map((m) => m.entries.length);
    expect(sizes).toEqual([2, 2, 1, 1]);
  });

  it('maxInflightBytes bounds the entry bytes in flight to one follower', () => {
    const a = member({ config: { maxInflightBytes: 60, maxMessageBytes: 30 } });
    makeLeader(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    sent(a);
    for (let i = 0; i < 6; i++) a.propose(new Uint8Array(10));
    expect(ofType(sent(a), 'append').filter((m) => m.to === 'b')).toHaveLength(3); // 26 + 26 < 60 ≤ 78
  });

  it('a rejection sends the leader back to probing from where the follower hint points', () => {
    const a = member({ terms: [1, 1, 1, 1, 1], term: 1 });
    makeLeader(a);
    sent(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: true,
      index: 5,
      hintIndex: 2,
      hintTerm: 1,
    });
    const retry = ofType(sent(a), 'append').filter((m) => m.to === 'b');
    expect(retry.map((m) => [m.prevIndex, m.entries.length])).toEqual([[2, 4]]);
  });
});

describe('CheckQuorum and the leader lease (thesis §6.2, §4.2.3)', () => {
  it('a leader that heard from no quorum during an election timeout steps down', () => {
    const a = member();
    makeLeader(a);
    for (let i = 0; i < 20; i++) a.tick();
    expect(a.role).toBe('follower');
  });

  it('a member that heard from its leader within the timeout ignores a vote request, unless it follows a transfer', () => {
    const a = member();
    a.step({ type: 'heartbeat', from: 'b', to: 'a', term: 1, commit: 0, context: null });
    sent(a);
    a.step({ type: 'vote', from: 'c', to: 'a', term: 2, lastIndex: 1, lastTerm: 1, transfer: false });
    expect(sent(a)).toEqual([]);
    expect(a.term).toBe(1);
    a.step({ type: 'vote', from: 'c', to: 'a', term: 2, lastIndex: 1, lastTerm: 1, transfer: true });
    expect(ofType(sent(a), 'voteResp')[0]).toMatchObject({ granted: true, term: 2 });
  });
});

describe('proposals', () => {
  it('a follower forwards to its leader; with no leader, or forwarding off, it drops with a reason', () => {
    const a = member();
    expect(a.propose(bytes('x'))).toEqual({ ok: false, reason: 'noLeader' });
    a.step({ type: 'heartbeat', from: 'b', to: 'a', term: 1, commit: 0, context: null });
    expect(a.propose(bytes('x'))).toEqual({ ok: true });
    expect(ofType(sent(a), 'propose')).toEqual([
      { type: 'propose', from: 'a', to: 'b', term: 1, data: bytes('x') },
    ]);
    const quiet = member({ config: { disableProposalForwarding: true } });
    quiet.step({ type: 'heartbeat', from: 'b', to: 'a', term: 1, commit: 0, context: null });
    expect(quiet.propose(bytes('x'))).toEqual({ ok: false, reason: 'forwardingDisabled' });
  });

  it('a leader takes a forwarded proposal like its own', () => {
    const a = member();
    makeLeader(a);
    a.step({ type: 'propose', from: 'c', to: 'a', term: 2, data: bytes('fwd') });
    expect(a.lastIndex).toBe(3);
  });

  it('past maxUncommittedBytes, proposals are dropped (but one always fits) until entries commit', () => {
    const a = member({ config: { maxUncommittedBytes: 100 } });
    makeLeader(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(a.propose(new Uint8Array(300)).ok).toBe(true);
    expect(a.propose(new Uint8Array(1))).toEqual({ ok: false, reason: 'uncommittedBytesExceeded' });
    drain(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 3,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(a.propose(new Uint8Array(60)).ok).toBe(true);
    expect(a.propose(new Uint8Array(60))).toEqual({ ok: false, reason: 'uncommittedBytesExceeded' });
  });

  it('a proposal that is not bytes is a usage error and changes nothing', () => {
    const a = member();
    makeLeader(a);
    const last = a.lastIndex;
    expect(() => a.propose('text' as unknown as Uint8Array)).toThrow(/Uint8Array/);
    expect(a.lastIndex).toBe(last);
  });
});

describe('membership changes (one at a time, thesis §4.1)', () => {
  function readyLeader(): Raft {
    const a = member();
    makeLeader(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    sent(a);
    return a;
  }

  it('takes effect as soon as the entry is in the log, before it commits', () => {
    const a = readyLeader();
    expect(a.proposeConfChange({ type: 'addLearner', node: 'd' }).ok).toBe(true);
    expect(a.confState).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    expect(a.status().progress.d).toMatchObject({ learner: true, match: 0 });
    expect(drain(a)[0]!.conf).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
  });

  it('waits until the new leader committed an entry of its own term', () => {
    const a = member();
    makeLeader(a);
    expect(a.proposeConfChange({ type: 'addLearner', node: 'd' })).toEqual({
      ok: false,
      reason: 'leaderNotReady',
    });
  });

  it('allows one pending change at a time', () => {
    const a = readyLeader();
    a.proposeConfChange({ type: 'addLearner', node: 'd' });
    expect(a.proposeConfChange({ type: 'addLearner', node: 'e' })).toEqual({
      ok: false,
      reason: 'confChangePending',
    });
  });

  it('refuses changes that do not fit the configuration, saying why', () => {
    const a = readyLeader();
    const tryChange = (type: 'addLearner' | 'addVoter' | 'promote' | 'remove', node: string) =>
      a.proposeConfChange({ type, node });
    expect(tryChange('addVoter', 'b')).toEqual({
      ok: false,
      reason: 'invalidConfChange',
      detail: 'b is already a voter',
    });
    expect(tryChange('remove', 'z')).toEqual({
      ok: false,
      reason: 'invalidConfChange',
      detail: 'z is not a member',
    });
    expect(tryChange('promote', 'c')).toEqual({
      ok: false,
      reason: 'invalidConfChange',
      detail: 'c is not a learner',
    });
    expect(member().proposeConfChange({ type: 'remove', node: 'b' })).toEqual({
      ok: false,
      reason: 'notLeader',
    });
    expect(() => a.proposeConfChange({ type: 'evict', node: 'b' } as never)).toThrow(/not a ConfChange/);
  });

  it('will not remove the last voter', () => {
    const solo = member({ voters: ['a'] });
    tickUntilCampaign(solo);
    drain(solo);
    expect(solo.role).toBe('leader');
    expect(solo.proposeConfChange({ type: 'remove', node: 'a' })).toEqual({
      ok: false,
      reason: 'invalidConfChange',
      detail: 'a is the last voter',
    });
  });

  it('promotes a learner only once it acknowledged the commit index recently', () => {
    const a = member({ learners: ['d'] });
    makeLeader(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    sent(a);
    expect(a.proposeConfChange({ type: 'promote', node: 'd' })).toMatchObject({
      ok: false,
      reason: 'learnerNotCaughtUp',
    });
    a.step({
      type: 'appendResp',
      from: 'd',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    expect(a.proposeConfChange({ type: 'promote', node: 'd' }).ok).toBe(true);
    expect(a.confState).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
  });

  it('a configuration truncated from the log is undone with it', () => {
    const a = member({ id: 'b' });
    const conf = (m: Raft) => m.confState.learners;
    const d = { index: 2, term: 2, type: 'conf' as const, data: new Uint8Array(0) };
    d.data = encoder.encode(
      JSON.stringify({
        change: { type: 'addLearner', node: 'd' },
        conf: { voters: ['a', 'b', 'c'], learners: ['d'] },
      }),
    );
    a.step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 2,
      prevIndex: 1,
      prevTerm: 1,
      entries: [d],
      commit: 0,
    });
    expect(conf(a)).toEqual(['d']);
    a.step(append('b', 3, 1, 1, [3], 0, 'c'));
    expect(conf(a)).toEqual([]);
  });
});

describe('ReadIndex (thesis §6.4)', () => {
  it('a new leader holds reads until it committed an entry of its term, then confirms with a heartbeat round', () => {
    const a = member();
    makeLeader(a);
    expect(a.readIndex('r1')).toEqual({ ok: true });
    expect(ofType(sent(a), 'heartbeat').filter((m) => m.context === 'r1')).toEqual([]);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    const beats = ofType(sent(a), 'heartbeat').filter((m) => m.context === 'r1');
    expect(beats.map((m) => m.to)).toEqual(['b', 'c']);
    a.step({ type: 'heartbeatResp', from: 'c', to: 'a', term: 2, context: 'r1' });
    expect(drain(a).flatMap((rd) => rd.readStates)).toEqual([{ index: 2, context: 'r1' }]);
  });

  it('drops a duplicate context and reads beyond maxPendingReads', () => {
    const a = member({ config: { maxPendingReads: 2 } });
    makeLeader(a);
    expect(a.readIndex('r1').ok).toBe(true);
    expect(a.readIndex('r1')).toEqual({ ok: false, reason: 'duplicateReadContext' });
    expect(a.readIndex('r2').ok).toBe(true);
    expect(a.readIndex('r3')).toEqual({ ok: false, reason: 'tooManyPendingReads' });
  });

  it("in 'lease' mode the leader answers at once from its commit index", () => {
    const a = member({ config: { readOnly: 'lease' } });
    makeLeader(a);
    a.step({
      type: 'appendResp',
      from: 'b',
      to: 'a',
      term: 2,
      reject: false,
      index: 2,
      hintIndex: 0,
      hintTerm: 0,
    });
    a.readIndex('fast');
    expect(drain(a).flatMap((rd) => rd.readStates)).toEqual([{ index: 2, context: 'fast' }]);
  });
});

describe('the contract with the driver', () => {
  it('malformed or misaddressed messages are ignored and counted', () => {
    const a = member();
    const before = a.status();
    const bad: unknown[] = [
      null,
      'vote',
      { type: 'vote', from: 'b', to: 'z', term: 2, lastIndex: 1, lastTerm: 1, transfer: false },
      { type: 'vote', from: 'a', to: 'a', term: 2, lastIndex: 1, lastTerm: 1, transfer: false },
      { type: 'vote', from: 'b', to: 'a', term: -1, lastIndex: 1, lastTerm: 1, transfer: false },
      { type: 'vote', from: 'b', to: 'a', term: 2, lastIndex: 1.5, lastTerm: 1, transfer: false },
      {
        type: 'append',
        from: 'b',
        to: 'a',
        term: 2,
        prevIndex: 1,
        prevTerm: 1,
        entries: [{ index: 3, term: 2, type: 'normal', data: new Uint8Array() }],
        commit: 0,
      },
      {
        type: 'append',
        from: 'b',
        to: 'a',
        term: 2,
        prevIndex: 1,
        prevTerm: 1,
        entries: [{ index: 2, term: 3, type: 'normal', data: new Uint8Array() }],
        commit: 0,
      },
      {
        type: 'append',
        from: 'b',
        to: 'a',
        term: 2,
        prevIndex: 1,
        prevTerm: 1,
        entries: [{ index: 2, term: 2, type: 'conf', data: bytes('{') }],
        commit: 0,
      },
      {
        type: 'append',
        from: 'b',
        to: 'a',
        term: 2,
        prevIndex: 1,
        prevTerm: 1,
        entries: [{ index: 2, term: 2, type: 'normal', data: 'x' }],
        commit: 0,
      },
      {
        type: 'snapshot',
        from: 'b',
        to: 'a',
        term: 2,
        snapshot: { index: 5, term: 2, conf: { voters: [], learners: [] } },
      },
      { type: 'readIndex', from: 'b', to: 'a', term: 2, context: 'x'.repeat(2000) },
      { type: 'gossip', from: 'b', to: 'a', term: 2 },
    ];
    for (const m of bad) a.step(m as Message);
    const after = a.status();
    expect(after.counters.invalidMessages).toBe(bad.length);
    expect(after.counters.lastInvalidReason).toBe('unknown type gossip');
    expect({ ...after, counters: null }).toEqual({ ...before, counters: null });
    expect(a.hasReady()).toBe(false);
  });

  it('ready() before advance() of the previous one, or advance() of a foreign Ready, is a usage error', () => {
    const a = member();
    makeLeader(a);
    a.propose(bytes('x'));
    const rd = a.ready();
    expect(a.hasReady()).toBe(false);
    expect(() => a.ready()).toThrow(/before advance/);
    expect(() => a.advance({ ...rd })).toThrow(/last returned/);
    a.advance(rd);
  });

  it('hands out each committed entry once; a restart with `applied` does not hand them out again', () => {
    const a = member({ terms: [1, 1, 1], commit: 3 });
    const first = drain(a).flatMap((rd) => rd.committed.map((e) => e.index));
    expect(first).toEqual([1, 2, 3]);
    expect(drain(a)).toEqual([]);
    const restarted = member({ terms: [1, 1, 1], commit: 3, applied: 2 });
    expect(drain(restarted).flatMap((rd) => rd.committed.map((e) => e.index))).toEqual([3]);
  });

  it('compact() refuses metadata that does not match the log, and past the applied index; nothing changes', () => {
    const a = member({ terms: [1, 1, 1, 1], commit: 4, applied: 3 });
    const conf = { voters: ['a', 'b', 'c'], learners: [] };
    expect(() => a.compact({ index: 4, term: 1, conf })).toThrow(/only 3 is applied/);
    expect(() => a.compact({ index: 3, term: 2, conf })).toThrow(/does not match/);
    expect(() => a.compact({ index: 3, term: 1, conf: { voters: ['a'], learners: [] } })).toThrow(
      /does not match/,
    );
    expect(a.firstIndex).toBe(1);
    a.compact(a.snapshotMetaAt(3));
    expect(a.firstIndex).toBe(4);
    expect(a.status().snapshotIndex).toBe(3);
  });
});
