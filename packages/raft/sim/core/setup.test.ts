// Starting a member: the configuration and the recovered state are checked before anything
// else happens, and bad ones are refused with an error that names the problem.
import { describe, expect, it } from 'vitest';
import {
  Raft,
  type RaftConfig,
  RaftConfigError,
  RaftRestoreError,
  type RestoreState,
} from '../../src/core/index.ts';
import { entriesFor } from './fixtures.ts';

const config: RaftConfig = { id: 'a', electionTicks: 10, heartbeatTicks: 1, random: () => 0 };
const fresh: RestoreState = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] };

describe('configuration', () => {
  it.each([
    [{ id: '' }, /id must be/],
    [{ electionTicks: 0 }, /electionTicks must be a positive integer/],
    [{ heartbeatTicks: 10 }, /heartbeatTicks must be less than electionTicks/],
    [{ maxInflightMessages: 1.5 }, /maxInflightMessages must be a positive integer/],
    [{ maxInflightBytes: -1 }, /maxInflightBytes must be a non-negative integer/],
    [{ readOnly: 'lease', checkQuorum: false }, /needs checkQuorum/],
    [{ readOnly: 'fast' }, /readOnly must be/],
    [{ testOnlyBrokenVariant: 'nope' }, /unknown testOnlyBrokenVariant/],
  ] as const)('%o is refused', (patch, message) => {
    expect(() => new Raft({ ...config, ...(patch as Partial<RaftConfig>) }, fresh)).toThrow(RaftConfigError);
    expect(() => new Raft({ ...config, ...(patch as Partial<RaftConfig>) }, fresh)).toThrow(message);
  });
});

describe('recovered state', () => {
  const voters = ['a', 'b', 'c'];
  it.each([
    [
      'a gap in the log',
      {
        hardState: { term: 1, vote: null, commit: 0 },
        entries: entriesFor([1, 1, 1], voters).filter((e) => e.index !== 2),
      },
      /does not follow/,
    ],
    [
      'entries newer than the term',
      { hardState: { term: 1, vote: null, commit: 0 }, entries: entriesFor([1, 2], voters) },
      /outside/,
    ],
    [
      'a commit index past the log',
      { hardState: { term: 1, vote: null, commit: 5 }, entries: entriesFor([1], voters) },
      /past the last index/,
    ],
    [
      'applied past commit',
      { hardState: { term: 1, vote: null, commit: 1 }, entries: entriesFor([1, 1], voters), applied: 2 },
      /applied 2 is outside/,
    ],
    [
      'bootstrap over existing state',
      {
        hardState: { term: 1, vote: null, commit: 0 },
        entries: entriesFor([1], voters),
        bootstrap: { voters, learners: [] },
      },
      /only for a brand-new member/,
    ],
    [
      'bootstrap without voters',
      { ...fresh, bootstrap: { voters: [], learners: ['a'] } },
      /at least one voter/,
    ],
    [
      'a log that does not follow the snapshot',
      {
        hardState: { term: 2, vote: null, commit: 5 },
        snapshot: { index: 5, term: 2, conf: { voters, learners: [] } },
        entries: entriesFor([1, 2], voters),
      },
      /does not follow 5/,
    ],
  ] as const)('%s is refused', (_, restore, message) => {
    expect(() => new Raft(config, restore as RestoreState)).toThrow(RaftRestoreError);
    expect(() => new Raft(config, restore as RestoreState)).toThrow(message);
  });

  it('a brand-new member with a bootstrap configuration writes it as entry 1 of term 1', () => {
    const raft = new Raft(config, { ...fresh, bootstrap: { voters: ['c', 'a', 'b'], learners: [] } });
    const rd = raft.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: null, commit: 0 });
    expect(rd.entries.map((e) => [e.index, e.term, e.type])).toEqual([[1, 1, 'conf']]);
    expect(rd.conf).toEqual({ voters: ['a', 'b', 'c'], learners: [] });
  });

  it('a brand-new member without one waits, as a non-voter, to be added', () => {
    const raft = new Raft(config, fresh);
    for (let i = 0; i < 100; i++) raft.tick();
    expect(raft.role).toBe('follower');
    expect(raft.hasReady()).toBe(false);
  });
});
