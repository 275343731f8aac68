import { describe, expect, it } from 'vitest';
import { PartitionTable } from './partition-table.ts';

describe('the partition table', () => {
  it('drops both ways between the sides of a partition', () => {
    const t = new PartitionTable();
    expect(t.cut(['m1'], ['m2', 'm3'], false).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(t.dropsOf('m1')).toEqual(['m2', 'm3']);
    expect(t.dropsOf('m2')).toEqual(['m1']);
    expect(t.dropsOf('m3')).toEqual(['m1']);
  });

  it('drops only at the receiving side of a one-way cut', () => {
    const t = new PartitionTable();
    expect(t.cut(['m1'], ['m2'], true)).toEqual(['m2']);
    expect(t.dropsOf('m2')).toEqual(['m1']);
    expect(t.dropsOf('m1')).toEqual([]);
  });

  it('adds partitions up, reports only what changed, and heals all at once', () => {
    const t = new PartitionTable();
    t.cut(['m1'], ['m2'], false);
    expect(t.cut(['m1'], ['m2'], false)).toEqual([]);
    expect(t.cut(['m3'], ['m2'], true)).toEqual(['m2']);
    expect(t.dropsOf('m2')).toEqual(['m1', 'm3']);
    expect(t.healAll()).toEqual(['m1', 'm2']);
    expect(t.dropsOf('m2')).toEqual([]);
    expect(t.healAll()).toEqual([]);
  });

  it('forgets a member that left, and refuses sides that overlap or are empty', () => {
    const t = new PartitionTable();
    t.cut(['m1'], ['m2', 'm3'], false);
    t.forget('m3');
    expect(t.dropsOf('m1')).toEqual(['m2']);
    expect(t.dropsOf('m3')).toEqual([]);
    expect(() => t.cut(['m1'], ['m1', 'm2'], false)).toThrow(/overlap/);
    expect(() => t.cut([], ['m2'], false)).toThrow(/each side/);
  });
});
