import { readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createRegistry } from '@flotilla/actor';
import { tempDir } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';
import type { SnapshotMeta } from '../core/types.ts';
import { WalBufferFullError, WalClosedError, WalFailedError, WalInputError } from './errors.ts';
import { hex16 } from './segment-files.ts';
import { Wal, type WalOptions } from './wal.ts';
import { entries, entry, entryData, segmentPaths, shape } from './wal-test-helpers.ts';

const small: WalOptions = { segmentBytes: 1024 };
const conf = { voters: ['m1', 'm2', 'm3'], learners: [] };

async function reopen(dir: string, options: WalOptions = small) {
  const opened = await Wal.open(dir, options);
  await opened.wal.close();
  return opened.recovered;
}

describe('Wal', () => {
  it('starts empty and recovers entries and the last hard state after close', async () => {
    const dir = tempDir('wal');
    const { wal, recovered } = await Wal.open(dir, small);
    expect(recovered).toEqual({
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: null,
      entries: [],
      tornTail: null,
    });
    wal.append(entries(1, 3, 1), { term: 1, vote: 'm1', commit: 0 });
    wal.append([], { term: 1, vote: 'm1', commit: 2 });
    await wal.sync();
    await wal.close();

    const again = await reopen(dir);
    expect(again.hardState).toEqual({ term: 1, vote: 'm1', commit: 2 });
    expect(again.snapshot).toBeNull();
    expect(again.entries).toEqual(entries(1, 3, 1));
    expect(again.tornTail).toBeNull();
  });

  it('lets a later write at an existing index replace that entry and everything after it', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    wal.append(entries(1, 6, 1));
    wal.append([entry(4, 2), entry(5, 2)]);
    await wal.close();
    expect(shape((await reopen(dir)).entries)).toEqual(['1/1', '2/1', '3/1', '4/2', '5/2']);

    const { wal: wal2 } = await Wal.open(dir, small);
    wal2.append([entry(2, 3)]);
    expect(wal2.lastIndex).toBe(2);
    await wal2.close();
    expect(shape((await reopen(dir)).entries)).toEqual(['1/1', '2/3']);
  });

  it('rolls to a new segment when one is full, also in the middle of a batch', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    // 40 entries of ~100 bytes framed: one batch spanning several 1 KiB segments.
    wal.append(entries(1, 40, 1), { term: 1, vote: null, commit: 0 });
    await wal.sync();
    expect(wal.segmentFiles.length).toBeGreaterThanOrEqual(4);
    for (const path of segmentPaths(dir).slice(0, -1)) {
      const { size } = await import('node:fs/promises').then((fs) => fs.stat(path));
      expect(size).toBeLessThanOrEqual(1024);
    }
    wal.append(entries(41, 45, 1), { term: 1, vote: null, commit: 40 });
    await wal.close();
    const recovered = await reopen(dir);
    expect(recovered.entries).toEqual(entries(1, 45, 1));
    expect(recovered.hardState).toEqual({ term: 1, vote: null, commit: 40 });
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('writes large batches through the thread pool and small ones inline, both recovered', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir);
    wal.append(entries(1, 400, 1, 1024)); // ~400 KiB: above the blocking-write bound
    wal.append(entries(401, 402, 1, 10));
    await wal.close();
    expect((await reopen(dir, {})).entries).toEqual([
      ...entries(1, 400, 1, 1024),
      ...entries(401, 402, 1, 10),
    ]);
  });

  it('gives an entry larger than a segment a segment of its own', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    wal.append([entry(1, 1, 10), entry(2, 1, 5000), entry(3, 1, 10)]);
    await wal.close();
    expect((await reopen(dir)).entries).toEqual([entry(1, 1, 10), entry(2, 1, 5000), entry(3, 1, 10)]);
    expect(segmentPaths(dir)).toHaveLength(3);
  });

  it('shares one fdatasync among concurrent syncs and resolves each only after a sync covering it', async () => {
    const dir = tempDir('wal');
    const registry = createRegistry();
    const { wal } = await Wal.open(dir, { registry });
    const fsyncs = async () => {
      const text = await registry.getSingleMetricAsString('flotilla_raft_wal_fsync_seconds');
      return Number(/flotilla_raft_wal_fsync_seconds_count (\d+)/.exec(text)![1]);
    };
    const before = await fsyncs();
    const observed: number[] = [];
    const syncs: Promise<void>[] = [];
    for (let i = 1; i <= 20; i++) {
      wal.append([entry(i, 1)]);
      syncs.push(wal.sync().then(async () => void observed.push(await fsyncs())));
    }
    await Promise.all(syncs);
    const used = (await fsyncs()) - before;
    // The first sync starts alone; the 19 callers that came while it ran share the next one.
    expect(used).toBe(2);
    expect(observed[0]).toBeGreaterThanOrEqual(before + 1);
    expect(observed[19]).toBe(before + 2);
    expect(await wal.sync()).toBeUndefined();
    expect((await fsyncs()) - before).toBe(2);
    await wal.close();
  });

  it('registers fsync latency and bytes written on the registry it is given', async () => {
    const registry = createRegistry();
    const { wal } = await Wal.open(tempDir('wal'), { registry });
    wal.append(entries(1, 10, 1));
    await wal.sync();
    await wal.close();
    const text = await registry.metrics();
    expect(text).toMatch(/flotilla_raft_wal_fsync_seconds_count [1-9]/);
    const written = /flotilla_raft_wal_bytes_written_total (\d+)/.exec(text);
    expect(Number(written?.[1])).toBeGreaterThan(10 * 64);
  });

  it('records a snapshot that keeps the log after it and releases segments below it', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    wal.append(entries(1, 30, 1), { term: 1, vote: 'm2', commit: 30 });
    await wal.sync();
    const segmentsBefore = wal.segmentFiles.length;
    const meta: SnapshotMeta = { index: 20, term: 1, conf };
    wal.recordSnapshot(meta);
    await expect(wal.releaseBefore(22)).rejects.toThrow(WalInputError);
    const removed = await wal.releaseBefore(21);
    expect(removed).toBeGreaterThan(0);
    expect(wal.segmentFiles.length).toBe(segmentsBefore - removed + 0);
    wal.append(entries(31, 32, 2), { term: 2, vote: null, commit: 31 });
    await wal.close();

    const recovered = await reopen(dir);
    expect(recovered.snapshot).toEqual(meta);
    expect(recovered.entries).toEqual([...entries(21, 30, 1), ...entries(31, 32, 2)]);
    expect(recovered.hardState).toEqual({ term: 2, vote: null, commit: 31 });
  });

  it('keeps the hard state and snapshot when every segment that wrote them is released', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    wal.append(entries(1, 10, 1), { term: 1, vote: 'm3', commit: 10 });
    wal.recordSnapshot({ index: 10, term: 1, conf });
    // Fill segments without touching hard state or snapshot, then release all but the last.
    wal.append(entries(11, 40, 1));
    await wal.sync();
    wal.recordSnapshot({ index: 40, term: 1, conf });
    await wal.releaseBefore(41);
    expect(wal.segmentFiles).toHaveLength(1);
    await wal.close();
    const recovered = await reopen(dir);
    expect(recovered.hardState).toEqual({ term: 1, vote: 'm3', commit: 10 });
    expect(recovered.snapshot).toEqual({ index: 40, term: 1, conf });
    expect(recovered.entries).toEqual([]);
  });

  it('discards the whole log for a snapshot whose last entry it does not hold (Raft §7)', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    wal.append(entries(1, 10, 1));
    wal.recordSnapshot({ index: 8, term: 3, conf });
    expect(wal.lastIndex).toBe(8);
    expect(() => wal.append([entry(10, 3)])).toThrow(WalInputError);
    wal.append([entry(9, 3)]);
    await wal.close();
    const recovered = await reopen(dir);
    expect(recovered.snapshot).toEqual({ index: 8, term: 3, conf });
    expect(shape(recovered.entries)).toEqual(['9/3']);
  });

  it('rejects bad input with a typed error and writes nothing of it', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    wal.append(entries(1, 5, 2), { term: 2, vote: 'm1', commit: 3 });
    wal.recordSnapshot({ index: 2, term: 2, conf });
    const bad: [string, () => void][] = [
      ['gap', () => wal.append([entry(7, 2)])],
      ['at the snapshot', () => wal.append([entry(2, 2)])],
      ['not contiguous', () => wal.append([entry(6, 2), entry(8, 2)])],
      ['term going back', () => wal.append([entry(6, 1)])],
      ['term going back inside a batch', () => wal.append([entry(6, 3), entry(7, 2)])],
      ['index 0', () => wal.append([entry(0, 2)])],
      ['fractional index', () => wal.append([entry(6.5, 2)])],
      ['unknown type', () => wal.append([{ ...entry(6, 2), type: 'bogus' as 'normal' }])],
      ['data not bytes', () => wal.append([{ ...entry(6, 2), data: 'x' as unknown as Uint8Array }])],
      ['hard state term going back', () => wal.append([], { term: 1, vote: null, commit: 3 })],
      ['second vote in a term', () => wal.append([], { term: 2, vote: 'm2', commit: 3 })],
      ['commit going back', () => wal.append([], { term: 2, vote: 'm1', commit: 2 })],
      ['commit past the last entry', () => wal.append([entry(6, 2)], { term: 2, vote: 'm1', commit: 7 })],
      [
        'good entries with a bad hard state',
        () => wal.append([entry(6, 2)], { term: 1, vote: null, commit: 0 }),
      ],
      ['snapshot going back', () => wal.recordSnapshot({ index: 1, term: 2, conf })],
      ['snapshot with another term at the same index', () => wal.recordSnapshot({ index: 2, term: 1, conf })],
      ['snapshot with a bad index', () => wal.recordSnapshot({ index: -1, term: 1, conf })],
    ];
    for (const [what, call] of bad) expect(call, what).toThrow(WalInputError);
    await expect(wal.releaseBefore(4)).rejects.toThrow(WalInputError);
    expect(wal.lastIndex).toBe(5);
    wal.append([entry(6, 2)]);
    await wal.close();
    expect(() => wal.append([entry(7, 2)])).toThrow(WalClosedError);

    const recovered = await reopen(dir);
    expect(shape(recovered.entries)).toEqual(['3/2', '4/2', '5/2', '6/2']);
    expect(recovered.hardState).toEqual({ term: 2, vote: 'm1', commit: 3 });
    expect(recovered.snapshot).toEqual({ index: 2, term: 2, conf });
  });

  it('fails loudly and takes no more writes once the disk refuses one', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    wal.append(entries(1, 6, 1), { term: 1, vote: null, commit: 6 });
    await wal.sync();
    // The next segment's temporary file is /dev/full: writing its head fails with ENOSPC.
    const next = `${hex16(wal.segmentFiles.length)}-${hex16(7)}.wal.tmp`;
    symlinkSync('/dev/full', join(dir, next));
    wal.append(entries(7, 8, 1, 900)); // too big for what is left of the segment: it rolls at once
    const failed = wal.sync();
    await expect(failed).rejects.toThrow(WalFailedError);
    await expect(failed).rejects.toThrow(/ENOSPC/);
    expect(() => wal.append([entry(21, 1)])).toThrow(WalFailedError);
    await expect(wal.sync()).rejects.toThrow(WalFailedError);
    await wal.close();

    rmSync(join(dir, next));
    const recovered = await reopen(dir);
    expect(recovered.entries).toEqual(entries(1, 6, 1));
  });

  it('bounds the bytes buffered before a sync', async () => {
    const { wal } = await Wal.open(tempDir('wal'), { maxPendingBytes: 4096 });
    wal.append(entries(1, 20, 1, 100));
    expect(() => wal.append(entries(21, 40, 1, 100))).toThrow(WalBufferFullError);
    await wal.sync();
    wal.append(entries(21, 40, 1, 100));
    await wal.close();
  });

  it('refuses options it cannot honour', async () => {
    const dir = tempDir('wal');
    await expect(Wal.open(dir, { segmentBytes: 100 })).rejects.toThrow(WalInputError);
    await expect(Wal.open(dir, { maxPendingBytes: 0 })).rejects.toThrow(WalInputError);
    await expect(Wal.open(dir, { maxEntryBytes: -1 })).rejects.toThrow(WalInputError);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('round-trips conf entries, empty data, unicode ids and large indexes', async () => {
    const dir = tempDir('wal');
    const { wal } = await Wal.open(dir, small);
    const big = 2 ** 52;
    wal.recordSnapshot({ index: big, term: big, conf: { voters: ['ñ-1', '節点'], learners: ['l'] } });
    wal.append(
      [
        { index: big + 1, term: big, type: 'conf', data: entryData(1, 1, 5) },
        { index: big + 2, term: big + 1, type: 'normal', data: new Uint8Array(0) },
      ],
      { term: big + 1, vote: '節点', commit: big },
    );
    await wal.close();
    const recovered = await reopen(dir);
    expect(recovered.snapshot).toEqual({
      index: big,
      term: big,
      conf: { voters: ['ñ-1', '節点'], learners: ['l'] },
    });
    expect(recovered.entries).toEqual([
      { index: big + 1, term: big, type: 'conf', data: entryData(1, 1, 5) },
      { index: big + 2, term: big + 1, type: 'normal', data: new Uint8Array(0) },
    ]);
    expect(recovered.hardState).toEqual({ term: big + 1, vote: '節点', commit: big });
  });
});
