import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@flotilla/actor';
import { decodePayload, MalformedPayloadError, type WalRecord } from './codec.ts';
import { WalCorruptionError } from './errors.ts';
import { findValidFrame, readFrame } from './frame.ts';
import { listSegments, removeFiles, type SegmentFile } from './segment-files.ts';
import { LogReplay, type ReplayedLog } from './wal-replay.ts';

/** Bytes recovery cut from the end of the last segment: a write the crash left incomplete. */
export type TornTail = {
  readonly file: string;
  readonly offset: number;
  readonly droppedBytes: number;
  readonly reason: string;
};

export type RecoveredSegment = {
  readonly seq: number;
  readonly name: string;
  /** Highest entry index written in the segment, 0 when it holds none. */
  readonly maxEntryIndex: number;
  /** Bytes of the segment's head (header, hard state, snapshot marker). */
  readonly headBytes: number;
  /** Valid bytes (the file is cut to this length when its tail was torn). */
  readonly bytes: number;
};

export type Recovery = {
  readonly log: ReplayedLog;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly segments: readonly RecoveredSegment[];
  readonly tornTail: TornTail | null;
};

/**
 * Read every segment of `dir` in order and replay its records. Only the end of the last
 * segment may be damaged by a crash, because a segment is fdatasync'ed before the next one
 * is created: damage there with no valid record after it is a torn write and is reported for
 * cutting; any other damage throws `WalCorruptionError`. Returns null for an empty directory.
 */
export async function readSegments(dir: string, log: Logger): Promise<Recovery | null> {
  const { segments, temporaries } = await listSegments(dir);
  if (temporaries.length > 0) {
    log.warn({ files: temporaries }, 'removing WAL segments whose creation did not finish');
    await removeFiles(dir, temporaries);
  }
  if (segments.length === 0) return null;
  for (const [i, s] of segments.entries()) {
    const prev = segments[i - 1];
    if (prev !== undefined && s.seq !== prev.seq + 1) {
      throw new WalCorruptionError(
        join(dir, s.name),
        0,
        `segment number ${prev.seq + 1} is missing between ${prev.name} and ${s.name}`,
      );
    }
  }

  const replay = new LogReplay();
  const recovered: RecoveredSegment[] = [];
  let tornTail: TornTail | null = null;
  for (const [i, segment] of segments.entries()) {
    const isLast = i === segments.length - 1;
    const result = await readSegment(dir, segment, replay, i === 0, isLast);
    recovered.push(result.segment);
    tornTail = result.tornTail;
  }
  const replayed = replay.finish();
  if (typeof replayed === 'string') throw new WalCorruptionError(join(dir, segments[0]!.name), 0, replayed);
  return {
    log: replayed,
    lastIndex: replay.last.index,
    lastTerm: replay.last.term,
    segments: recovered,
    tornTail,
  };
}

async function readSegment(
  dir: string,
  segment: SegmentFile,
  replay: LogReplay,
  isFirst: boolean,
  isLast: boolean,
): Promise<{ readonly segment: RecoveredSegment; readonly tornTail: TornTail | null }> {
  const path = join(dir, segment.name);
  const buf = await readFile(path);
  const corrupt = (offset: number, reason: string) => new WalCorruptionError(path, offset, reason);
  let headRecords = 1;
  let headBytes = 0;
  let records = 0;
  let maxEntryIndex = 0;
  let offset = 0;
  for (;;) {
    const frame = readFrame(buf, offset);
    if (frame.kind === 'end') break;
    if (frame.kind === 'bad') {
      if (!isLast || records < headRecords) throw corrupt(offset, frame.reason);
      // A valid header vouches for the record's extent, so look for valid records after it;
      // otherwise anything from the next byte on could be one.
      const scanFrom = frame.end !== null ? frame.end : offset + 1;
      const next = findValidFrame(buf, scanFrom);
      if (next !== -1) throw corrupt(offset, `${frame.reason}, and a valid record follows at byte ${next}`);
      const tornTail = { file: path, offset, droppedBytes: buf.length - offset, reason: frame.reason };
      return { segment: { ...segment, headBytes, maxEntryIndex, bytes: offset }, tornTail };
    }
    let record: WalRecord;
    try {
      record = decodePayload(frame.type, buf, frame.payloadStart, frame.end);
    } catch (err) {
      if (err instanceof MalformedPayloadError) throw corrupt(offset, err.message);
      throw err;
    }
    if (records === 0) {
      if (record.kind !== 'segment') throw corrupt(offset, 'the segment does not start with its header');
      if (record.seq !== segment.seq || record.prevIndex + 1 !== segment.firstIndex) {
        throw corrupt(
          offset,
          `the header says segment ${record.seq} starting at index ${record.prevIndex + 1}, ` +
            'which does not match the file name',
        );
      }
      headRecords = record.headRecords;
      if (isFirst) replay.begin(record.prevIndex, record.prevTerm);
      else {
        const problem = replay.checkContinues(record.prevIndex, record.prevTerm);
        if (problem !== null) throw corrupt(offset, problem);
      }
    } else {
      const problem = replay.apply(record);
      if (problem !== null) throw corrupt(offset, problem);
      if (record.kind === 'entry') maxEntryIndex = Math.max(maxEntryIndex, record.entry.index);
    }
    records++;
    offset = frame.end;
    if (records === headRecords) headBytes = offset;
  }
  if (records < headRecords) throw corrupt(offset, 'the segment ends inside its head');
  return { segment: { ...segment, headBytes, maxEntryIndex, bytes: offset }, tornTail: null };
}
