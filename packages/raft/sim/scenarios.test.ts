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
