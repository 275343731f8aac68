import { appendFileSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@flotilla/actor';
import { tempDir } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';
import { WalCorruptionError } from './errors.ts';
import { readFrame } from './frame.ts';
import { Wal } from './wal.ts';
import { entries, fileSize, segmentPaths, shape } from './wal-test-helpers.ts';

const options = { segmentBytes: 2048 };

/** A closed WAL with entries 1..40 (term 1, ~100 bytes framed each) over several segments. */
async function writeLog(): Promise<{ dir: string; segments: string[] }> {
  const dir = tempDir('wal-recovery');
  const { wal } = await Wal.open(dir, options);
  for (let i = 1; i <= 40; i += 5) {
    wal.append(entries(i, i + 4, 1), { term: 1, vote: 'm1', commit: i - 1 });
    await wal.sync();
  }
  await wal.close();
  const segments = segmentPaths(dir);
  expect(segments.length).toBeGreaterThanOrEqual(3);
  return { dir, segments };
}

/** Start offsets of the records in a segment file, and its length. */
function recordStarts(path: string): number[] {
  const buf = readFileSync(path);
  const starts: number[] = [];
  for (let at = 0; at < buf.length; ) {
    const frame = readFrame(buf, at);
    if (frame.kind !== 'frame') throw new Error(`unexpected ${frame.kind} at ${at}`);
    starts.push(at);
    at = frame.end;
  }
  return starts;
}

async function openError(dir: string): Promise<WalCorruptionError> {
  const error = await Wal.open(dir, options).then(
    async ({ wal }) => {
      await wal.close();
      return null;
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WalCorruptionError);
  return error as WalCorruptionError;
}

function flipByte(path: string, offset: number): void {
  const buf = readFileSync(path);
  buf[offset]! ^= 0x10;
  writeFileSync(path, buf);
}

describe('WAL recovery', () => {
  it('recovers a prefix from a last segment cut at any byte, and cuts the torn part off', async () => {
    const { dir, segments } = await writeLog();
    const last = segments.at(-1)!;
    const original = readFileSync(last);
    const starts = recordStarts(last);
    const firstEntryRecord = starts[2]!; // header, hard state, then records
    const lastRecord = starts.at(-1)!;
    const cuts = new Set<number>();
    for (let at = firstEntryRecord; at < original.length; at += 37) cuts.add(at);
    for (let at = lastRecord; at < original.length; at++) cuts.add(at);
    let torn = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      writeFileSync(last, original.subarray(0, cut));
      const { wal, recovered } = await Wal.open(dir, options);
      await wal.close();
      const boundary = Math.max(...starts.filter((s) => s <= cut));
      expect(fileSize(last), `cut at ${cut}`).toBe(boundary);
      expect(recovered.tornTail === null, `cut at ${cut}`).toBe(boundary === cut);
      if (recovered.tornTail !== null) {
        torn++;
        expect(recovered.tornTail).toMatchObject({
          file: last,
          offset: boundary,
          droppedBytes: cut - boundary,
        });
      }
      // Always a prefix of what was written, never anything else.
      const n = recovered.entries.length;
      expect(recovered.entries).toEqual(entries(1, n, 1));
      expect(n).toBeGreaterThanOrEqual(35 - 10);
    }
    expect(torn).toBeGreaterThan(cuts.size / 2);
  });

  it('cuts a zero-filled tail and a garbage tail, and says so in the log', async () => {
    for (const tail of [
      Buffer.alloc(4096),
      Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff)),
    ]) {
      const { dir, segments } = await writeLog();
      const last = segments.at(-1)!;
      const size = fileSize(last);
      appendFileSync(last, tail);
      const logFile = join(tempDir('wal-log'), 'log.ndjson');
      const { wal, recovered } = await Wal.open(dir, {
        ...options,
        log: createLogger({ destination: logFile }),
      });
      expect(recovered.entries).toEqual(entries(1, 40, 1));
      expect(recovered.tornTail).toMatchObject({ file: last, offset: size, droppedBytes: tail.length });
      expect(fileSize(last)).toBe(size);
      // The WAL goes on after the cut, and a later open finds nothing to cut.
      wal.append(entries(41, 41, 2), { term: 2, vote: null, commit: 40 });
      await wal.close();
      const again = await Wal.open(dir, options);
      await again.wal.close();
      expect(again.recovered.tornTail).toBeNull();
      expect(shape(again.recovered.entries).at(-1)).toBe('41/2');
      const lines = readFileSync(logFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 40, msg: 'cut a torn write from the end of the WAL', file: last }),
      );
    }
  });

  it('refuses a flipped byte in the middle of the last segment, naming the file and offset', async () => {
    const { dir, segments } = await writeLog();
    const last = segments.at(-1)!;
    const starts = recordStarts(last);
    const victim = starts[Math.floor(starts.length / 2)]!;
    flipByte(last, victim + 40);
    const size = fileSize(last);
    const error = await openError(dir);
    expect(error.file).toBe(last);
    expect(error.offset).toBe(victim);
    expect(error.message).toContain(`${last} at byte ${victim}`);
    expect(error.message).toContain('payload checksum mismatch, and a valid record follows');
    expect(fileSize(last)).toBe(size);
  });

  it('refuses a damaged length field instead of taking the record for a torn tail', async () => {
    const { dir, segments } = await writeLog();
    const last = segments.at(-1)!;
    const victim = recordStarts(last)[3]!;
    flipByte(last, victim + 6); // the length's third byte: the record would reach past the end
    const error = await openError(dir);
    expect(error).toMatchObject({ file: last, offset: victim });
    expect(error.reason).toContain('header checksum mismatch');
  });

  it('refuses damage in a segment that is not the last, even in its last record', async () => {
    for (const pick of ['middle', 'last'] as const) {
      const { dir, segments } = await writeLog();
      const victimFile = segments[1]!;
      const starts = recordStarts(victimFile);
      const victim = pick === 'middle' ? starts[Math.floor(starts.length / 2)]! : starts.at(-1)!;
      flipByte(victimFile, victim + 20);
      const error = await openError(dir);
      expect(error).toMatchObject({ file: victimFile, offset: victim });
    }
  });

  it('refuses a segment cut short that is not the last one', async () => {
    const { dir, segments } = await writeLog();
    const victimFile = segments[0]!;
    const starts = recordStarts(victimFile);
    const cut = starts.at(-1)! + 10;
    writeFileSync(victimFile, readFileSync(victimFile).subarray(0, cut));
    expect(await openError(dir)).toMatchObject({ file: victimFile, offset: starts.at(-1)! });
  });

  it('cuts a damaged last record of the last segment: it cannot be told from a torn write', async () => {
    const { dir, segments } = await writeLog();
    const last = segments.at(-1)!;
    const victim = recordStarts(last).at(-1)!;
    flipByte(last, victim + 30);
    const { wal, recovered } = await Wal.open(dir, options);
    await wal.close();
    expect(recovered.tornTail).toMatchObject({ offset: victim, reason: 'payload checksum mismatch' });
    // The last record is the last batch's hard state: the one before it comes back.
    expect(recovered.hardState).toEqual({ term: 1, vote: 'm1', commit: 30 });
    expect(recovered.entries).toEqual(entries(1, 40, 1));
  });

  it('refuses to start when a middle segment is missing', async () => {
    const { dir, segments } = await writeLog();
    rmSync(segments[1]!);
    const error = await openError(dir);
    expect(error.file).toBe(segments[2]);
    expect(error.reason).toMatch(/segment number 1 is missing between/);
  });

  it('refuses to start when the oldest segments are gone and no snapshot covers their entries', async () => {
    const { dir, segments } = await writeLog();
    rmSync(segments[0]!);
    const error = await openError(dir);
    expect(error.file).toBe(segments[1]);
    expect(error.reason).toMatch(/^entries 1\.\.\d+ are missing/);
  });

  it('refuses a segment whose header is damaged or does not match its file name', async () => {
    const { dir, segments } = await writeLog();
    const last = segments.at(-1)!;
    flipByte(last, 20);
    expect(await openError(dir)).toMatchObject({ file: last, offset: 0 });
    flipByte(last, 20);

    const renamed = segments[1]!.replace(/-[0-9a-f]{16}\.wal$/, '-00000000000000ff.wal');
    renameSync(segments[1]!, renamed);
    expect((await openError(dir)).reason).toContain('does not match the file name');
  });

  it('removes a segment whose creation never finished', async () => {
    const { dir, segments } = await writeLog();
    writeFileSync(join(dir, '00000000000000aa-0000000000000100.wal.tmp'), Buffer.alloc(100, 1));
    const { wal, recovered } = await Wal.open(dir, options);
    await wal.close();
    expect(recovered.entries).toEqual(entries(1, 40, 1));
    expect(readdirSync(dir).sort()).toEqual(segments.map((p) => p.slice(dir.length + 1)));
  });
});
