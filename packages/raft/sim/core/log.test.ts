import { describe, expect, it } from 'vitest';
import type { SnapshotMeta } from '../../src/core/index.ts';
import { RaftLog } from '../../src/core/log.ts';
import { entriesFor } from './fixtures.ts';

const conf = { voters: ['a', 'b', 'c'], learners: [] };
const none: SnapshotMeta = { index: 0, term: 0, conf: { voters: [], learners: [] } };
const logOf = (terms: number[], committed = 0, applied = 0) =>
  new RaftLog(none, entriesFor(terms, conf.voters), committed, applied);
const terms = (log: RaftLog) =>
  Array.from({ length: log.lastIndex() - log.firstIndex() + 1 }, (_, i) => log.term(log.firstIndex() + i));

describe('RaftLog', () => {
  it('findConflictByTerm: the last index at or below `index` whose term is at most `term`', () => {
    const log = logOf([1, 1, 1, 4, 4, 5, 5, 6, 6, 6]);
    expect(log.findConflictByTerm(10, 6)).toEqual({ index: 10, term: 6 });
    expect(log.findConflictByTerm(10, 3)).toEqual({ index: 3, term: 1 });
    expect(log.findConflictByTerm(7, 4)).toEqual({ index: 5, term: 4 });
    expect(log.findConflictByTerm(99, 5)).toEqual({ index: 7, term: 5 });
    expect(log.findConflictByTerm(10, 0)).toEqual({ index: 0, term: 0 });
  });

  it('isUpToDate compares last terms first, then lengths (§5.4.1)', () => {
    const log = logOf([1, 2, 2]);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('maybeAppend truncates only from the first conflict, and the stable index follows', () => {
    const log = logOf([1, 1, 2, 2]);
    expect(log.stable).toBe(4);
    const next = entriesFor([1, 1, 2, 3, 3], conf.voters).slice(2);
    expect(log.maybeAppend(2, 1, 0, next)).toBe(5);
    expect(terms(log)).toEqual([1, 1, 2, 3, 3]);
    expect(log.stable).toBe(3);
    expect(log.unstableEntries().map((e) => e.index)).toEqual([4, 5]);
    expect(log.maybeAppend(5, 2, 0, [])).toBeNull();
  });

  it('refuses to truncate a committed entry: that would be a protocol violation', () => {
    const log = logOf([1, 1, 2], 3);
    const rival = entriesFor([1, 1, 5], conf.voters).slice(2);
    expect(() => log.maybeAppend(2, 1, 0, rival)).toThrow(/at or below the commit index/);
  });

  it('slice stops at maxBytes but always returns one entry', () => {
    const log = logOf([1, 1, 1, 1]);
    expect(log.slice(2, 4, 1)).toHaveLength(1);
    expect(log.slice(2, 4, 1 << 20)).toHaveLength(3);
  });

  it('compaction keeps a tail from keepFrom, and the configuration of the dropped part', () => {
    const log = logOf([1, 1, 1, 1, 1, 1], 6, 6);
    log.compact({ index: 5, term: 1, conf }, 3);
    expect(log.firstIndex()).toBe(3);
    expect(log.snapshot.index).toBe(5);
    expect(log.term(2)).toBe(1);
    expect(log.term(1)).toBeUndefined();
    expect(log.conf()).toEqual(conf);
    log.compact({ index: 6, term: 1, conf }, 7);
    expect(log.firstIndex()).toBe(7);
    expect(log.lastIndex()).toBe(6);
    expect(log.lastTerm()).toBe(1);
  });

  it('restoring a snapshot from the leader discards the log and waits for the install', () => {
    const log = logOf([1, 1, 2], 1, 1);
    const meta = { index: 10, term: 3, conf };
    log.restore(meta);
    expect(log.pendingSnapshot).toBe(meta);
    expect(log.committed).toBe(10);
    expect(log.applied).toBe(1);
    expect(log.nextCommitted(1 << 20)).toEqual([]);
    log.snapshotInstalled(meta);
    expect(log.applied).toBe(10);
    expect(log.pendingSnapshot).toBeNull();
  });
});
