import { createWriteStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '@flotilla/actor';
import { tempDir } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';
import type { SnapshotMeta } from '../core/types.ts';
import {
  SnapshotChunkOffsetError,
  SnapshotCorruptionError,
  SnapshotInputError,
  SnapshotNotFoundError,
} from './errors.ts';
import { SnapshotStore } from './snapshot-store.ts';

const conf = { voters: ['m1', 'm2', 'm3'], learners: ['m4'] };
const meta = (index: number, term = 2): SnapshotMeta => ({ index, term, conf });

/** Deterministic bytes that differ per snapshot. */
function payload(seed: number, bytes: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  let x = seed * 2654435761;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    buf[i] = x >>> 24;
  }
  return buf;
}

const writer = (data: Buffer) => (path: string) => writeFile(path, data);

/** Move a stored snapshot from one store to another the way the transport does, by chunks. */
async function transfer(
  from: SnapshotStore,
  to: SnapshotStore,
  m: SnapshotMeta,
  chunkSizes: readonly number[],
) {
  const reader = await from.openReader(m);
  const receiver = await to.beginReceive(m, reader.size);
  let k = 0;
  while (receiver.expectedOffset < reader.size) {
    const chunk = await reader.read(receiver.expectedOffset, chunkSizes[k++ % chunkSizes.length]!);
    await receiver.write(receiver.expectedOffset, chunk);
  }
  await reader.close();
  await receiver.finish();
}

describe('SnapshotStore', () => {
  it('saves a snapshot the state machine writes to a path, and finds it again after reopening', async () => {
    const dir = tempDir('snap');
    const store = await SnapshotStore.open(dir);
    expect(await store.latest()).toBeNull();
    const data = payload(1, 100_000);
    const saved = await store.save(meta(10), writer(data));
    expect(saved).toMatchObject({ meta: meta(10), dataBytes: data.length });
    expect(readFileSync(saved.path)).toEqual(data);

    const reopened = await SnapshotStore.open(dir);
    const latest = await reopened.latest();
    expect(latest).toEqual(saved);
    expect(await reopened.get({ index: 10, term: 2 })).toEqual(saved);
    expect(await reopened.get({ index: 10, term: 3 })).toBeNull();
    expect(readdirSync(dir)).toEqual(['000000000000000a-0000000000000002.snap']);
  });

  it('keeps the newest `keep` snapshots', async () => {
    const dir = tempDir('snap');
    const store = await SnapshotStore.open(dir, { keep: 3 });
    for (const index of [5, 10, 15, 20, 25]) await store.save(meta(index), writer(payload(index, 1000)));
    expect(readdirSync(dir).map((n) => Number.parseInt(n.slice(0, 16), 16))).toEqual([15, 20, 25]);
    expect((await store.latest())?.meta.index).toBe(25);
  });

  it('falls back to the previous snapshot when the newest is damaged, and says so', async () => {
    for (const damage of ['data', 'meta', 'truncate'] as const) {
      const dir = tempDir('snap');
      const store = await SnapshotStore.open(dir);
      await store.save(meta(10), writer(payload(10, 5000)));
      const newest = await store.save(meta(20), writer(payload(20, 5000)));
      const victim = damage === 'meta' ? join(newest.path, '..', 'meta') : newest.path;
      const bytes = readFileSync(victim);
      if (damage === 'truncate') writeFileSync(victim, bytes.subarray(0, 4000));
      else {
        bytes[Math.floor(bytes.length / 2)]! ^= 1;
        writeFileSync(victim, bytes);
      }
      const logFile = join(tempDir('snap-log'), 'log.ndjson');
      const reopened = await SnapshotStore.open(dir, { log: createLogger({ destination: logFile }) });
      expect((await reopened.latest())?.meta.index, damage).toBe(10);
      expect(await reopened.get(meta(20))).toBeNull();
      const warning = readFileSync(logFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .find((l) => l.level === 40);
      expect(warning).toMatchObject({ msg: 'snapshot is damaged; falling back to an older one' });
      expect(warning.snapshot).toContain('0000000000000014-0000000000000002.snap');
    }
  });

  it('leaves nothing behind when the state machine fails or writes nothing', async () => {
    const dir = tempDir('snap');
    const store = await SnapshotStore.open(dir);
    await expect(
      store.save(meta(1), async () => {
        throw new Error('disk on fire');
      }),
    ).rejects.toThrow('disk on fire');
    await expect(store.save(meta(2), async () => {})).rejects.toThrow(SnapshotInputError);
    await expect(store.save({ index: -1, term: 0, conf }, writer(payload(1, 10)))).rejects.toThrow(
      SnapshotInputError,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('writes large data without holding it: the state machine streams into the path', async () => {
    const store = await SnapshotStore.open(tempDir('snap'));
    const chunk = payload(3, 1024 * 1024);
    const saved = await store.save(meta(7), async (path) => {
      async function* chunks() {
        for (let i = 0; i < 8; i++) yield chunk;
      }
      await pipeline(chunks(), createWriteStream(path));
    });
    expect(saved.dataBytes).toBe(8 * chunk.length);
    expect(await store.get(meta(7))).toEqual(saved);
  });

  it('keeps the copy it has when the same snapshot is saved again', async () => {
    const dir = tempDir('snap');
    const store = await SnapshotStore.open(dir);
    const first = await store.save(meta(4), writer(payload(4, 100)));
    const second = await store.save(meta(4), writer(payload(4, 100)));
    expect(second).toEqual(first);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it('removes unfinished snapshots on open', async () => {
    const dir = tempDir('snap');
    const store = await SnapshotStore.open(dir);
    await store.save(meta(4), writer(payload(4, 100)));
    const receiver = await store.beginReceive(meta(9), 5000);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toHaveLength(1);
    await SnapshotStore.open(dir);
    await receiver.abort();
    expect(readdirSync(dir)).toEqual(['0000000000000004-0000000000000002.snap']);
  });
});

describe('snapshot transfer by chunks', () => {
  it('moves a snapshot chunk by chunk, whatever the chunk sizes, and installs it verified', async () => {
    const source = await SnapshotStore.open(tempDir('snap-src'));
    const data = payload(5, 1024 * 1024 + 17);
    await source.save(meta(50, 4), writer(data));
    for (const sizes of [[64 * 1024], [1, 7, 15, 16, 17, 100, 300_000], [1024 * 1024]]) {
      const target = await SnapshotStore.open(tempDir('snap-dst'));
      await transfer(source, target, meta(50, 4), sizes);
      const got = await target.get(meta(50, 4));
      expect(got?.dataBytes).toBe(data.length);
      expect(readFileSync(got!.path).equals(data)).toBe(true);
      expect((await SnapshotStore.open(target.dir).then((s) => s.latest()))?.meta).toEqual(meta(50, 4));
    }
  });

  it('accepts only the next expected offset and resumes an interrupted transfer', async () => {
    const source = await SnapshotStore.open(tempDir('snap-src'));
    await source.save(meta(8), writer(payload(8, 200_000)));
    const reader = await source.openReader(meta(8));
    const target = await SnapshotStore.open(tempDir('snap-dst'));
    const receiver = await target.beginReceive(meta(8), reader.size);
    await receiver.write(0, await reader.read(0, 50_000));
    const skipped = receiver.write(100_000, await reader.read(100_000, 1000));
    await expect(skipped).rejects.toThrow(SnapshotChunkOffsetError);
    await expect(skipped).rejects.toMatchObject({ expectedOffset: 50_000 });
    await expect(receiver.write(0, await reader.read(0, 10))).rejects.toMatchObject({
      expectedOffset: 50_000,
    });
    await expect(receiver.finish()).rejects.toThrow(SnapshotInputError);

    // The sender starts again for the same snapshot: the receive resumes where it stopped.
    const resumed = await target.beginReceive(meta(8), reader.size);
    expect(resumed).toBe(receiver);
    expect(resumed.expectedOffset).toBe(50_000);
    while (resumed.expectedOffset < reader.size) {
      await resumed.write(resumed.expectedOffset, await reader.read(resumed.expectedOffset, 64 * 1024));
    }
    await resumed.finish();
    await reader.close();
    expect(readFileSync((await target.get(meta(8)))!.path)).toEqual(payload(8, 200_000));
  });

  it('replaces an unfinished receive by a newer snapshot', async () => {
    const dir = tempDir('snap-dst');
    const target = await SnapshotStore.open(dir);
    const old = await target.beginReceive(meta(3), 10_000);
    const newer = await target.beginReceive(meta(6), 10_000);
    expect(newer).not.toBe(old);
    expect(old.isOpen).toBe(false);
    await expect(old.write(0, new Uint8Array(10))).rejects.toThrow(SnapshotInputError);
    expect(readdirSync(dir).filter((n) => n.startsWith('0000000000000003'))).toEqual([]);
    await target.close();
    expect(newer.isOpen).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses data damaged in transit and installs nothing', async () => {
    const source = await SnapshotStore.open(tempDir('snap-src'));
    await source.save(meta(8), writer(payload(8, 100_000)));
    const reader = await source.openReader(meta(8));
    const dir = tempDir('snap-dst');
    const target = await SnapshotStore.open(dir);
    const receiver = await target.beginReceive(meta(8), reader.size);
    while (receiver.expectedOffset < reader.size) {
      const chunk = await reader.read(receiver.expectedOffset, 30_000);
      if (receiver.expectedOffset === 30_000) chunk[123]! ^= 0x40;
      await receiver.write(receiver.expectedOffset, chunk);
    }
    await expect(receiver.finish()).rejects.toThrow(SnapshotCorruptionError);
    await reader.close();
    expect(await target.latest()).toBeNull();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a stream whose header describes another snapshot than announced', async () => {
    const source = await SnapshotStore.open(tempDir('snap-src'));
    await source.save(meta(8), writer(payload(8, 1000)));
    const reader = await source.openReader(meta(8));
    const dir = tempDir('snap-dst');
    const target = await SnapshotStore.open(dir);
    const receiver = await target.beginReceive(meta(9), reader.size);
    await expect(receiver.write(0, await reader.read(0, reader.size))).rejects.toThrow(/another snapshot/);
    expect(receiver.isOpen).toBe(false);
    await reader.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('rejects bad reads and unknown snapshots with typed errors', async () => {
    const store = await SnapshotStore.open(tempDir('snap'));
    await store.save(meta(8), writer(payload(8, 1000)));
    await expect(store.openReader(meta(9))).rejects.toThrow(SnapshotNotFoundError);
    const reader = await store.openReader(meta(8));
    await expect(reader.read(reader.size + 1, 1)).rejects.toThrow(SnapshotInputError);
    await expect(reader.read(0, -1)).rejects.toThrow(SnapshotInputError);
    await expect(reader.read(0, 1024 * 1024 * 1024)).rejects.toThrow(SnapshotInputError);
    expect((await reader.read(reader.size - 3, 100)).length).toBe(3);
    expect((await reader.read(reader.size, 100)).length).toBe(0);
    await reader.close();
    await expect(store.beginReceive(meta(9), 10)).rejects.toThrow(SnapshotInputError);
    expect(existsSync(join(store.dir, 'x'))).toBe(false);
  });
});
