import { appendFileSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tempDir } from '@flotilla/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Entry, emptyHardState, type HardState, type SnapshotMeta } from '../core/types.ts';
import { decodePayload } from './codec.ts';
import { readFrame } from './frame.ts';
import { Wal } from './wal.ts';
import { entryData, segmentPaths } from './wal-test-helpers.ts';

/**
 * A random history of appends (some truncating), hard states, snapshot markers, syncs
 * (awaited or left running), releases and reopens, against a model that is nothing but
 * arrays. After it, a crash is simulated: the segments after a random one are dropped and
 * that one is cut at a random byte at or after the last acknowledged sync, maybe followed by
 * zeros or garbage. Recovery must give exactly the model's state after the records that
 * survived whole: a prefix of what was written, covering everything acknowledged.
 */

type ModelRecord =
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly meta: SnapshotMeta };

type ModelState = {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  /** Entries after the snapshot, contiguous. */
  readonly log: readonly Entry[];
};

function applyRecord(s: ModelState, r: ModelRecord): ModelState {
  switch (r.kind) {
    case 'entry':
      return { ...s, log: [...s.log.filter((e) => e.index < r.entry.index), r.entry] };
    case 'hardState':
      return { ...s, hardState: r.hardState };
    case 'snapshot': {
      const base = s.snapshot ?? { index: 0, term: 0 };
      const holds =
        (base.index === r.meta.index && base.term === r.meta.term) ||
        s.log.some((e) => e.index === r.meta.index && e.term === r.meta.term);
      return { ...s, snapshot: r.meta, log: holds ? s.log.filter((e) => e.index > r.meta.index) : [] };
    }
  }
}

type Op =
  | {
      readonly kind: 'append';
      readonly back: number;
      readonly count: number;
      readonly termBump: number;
      readonly bytes: number;
      readonly hardState: 'none' | 'same-term' | 'new-term';
      readonly vote: number;
      readonly commitStep: number;
    }
  | { readonly kind: 'snapshot'; readonly discard: boolean; readonly at: number; readonly voters: number }
  | { readonly kind: 'sync'; readonly await: boolean }
  | { readonly kind: 'release' }
  | { readonly kind: 'reopen' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(6),
      count: fc.nat(6),
      termBump: fc.oneof(fc.constant(0), fc.constant(0), fc.constant(1), fc.constant(2)),
      bytes: fc.oneof(fc.nat(40), fc.integer({ min: 100, max: 400 })),
      hardState: fc.constantFrom('none' as const, 'same-term' as const, 'new-term' as const),
      vote: fc.nat(2),
      // Often commit everything, so that snapshots can cover the whole log.
      commitStep: fc.oneof(fc.nat(8), fc.constant(1000)),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('snapshot' as const),
      discard: fc.boolean(),
      // -1: at the commit index, the usual place for a compaction snapshot.
      at: fc.oneof(fc.nat(), fc.constant(-1)),
      voters: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), await: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

const votes = [null, 'm1', 'm2'] as const;
const options = { segmentBytes: 1024 };

function recovered(state: ModelState) {
  return { hardState: state.hardState, snapshot: state.snapshot, entries: state.log };
}

/** Where each non-head record of each remaining segment ends. */
function layout(dir: string): { path: string; headEnd: number; ends: number[]; size: number }[] {
  return segmentPaths(dir).map((path) => {
    const buf = readFileSync(path);
    let at = 0;
    let headRecords = 1;
    let seen = 0;
    let headEnd = 0;
    const ends: number[] = [];
    for (;;) {
      const frame = readFrame(buf, at);
      if (frame.kind === 'end') break;
      if (frame.kind === 'bad') throw new Error(`bad frame in ${path} at ${at}: ${frame.reason}`);
      const record = decodePayload(frame.type, buf, frame.payloadStart, frame.end);
      if (record.kind === 'segment') headRecords = record.headRecords;
      at = frame.end;
      if (++seen === headRecords) headEnd = at;
      else if (seen > headRecords) ends.push(at);
    }
    return { path, headEnd, ends, size: buf.length };
  });
}

async function runHistory(ops: readonly Op[], crash: { segment: number; offset: number; tail: number }) {
  const dir = tempDir('wal-prop');
  let { wal } = await Wal.open(dir, options);
  const records: ModelRecord[] = [];
  const states: ModelState[] = [{ hardState: emptyHardState, snapshot: null, log: [] }];
  let acked = 0;
  const running: Promise<void>[] = [];
  const push = (r: ModelRecord) => {
    records.push(r);
    states.push(applyRecord(states.at(-1)!, r));
  };

  for (const op of ops) {
    const s = states.at(-1)!;
    const base = s.snapshot ?? { index: 0, term: 0 };
    const last = s.log.at(-1) ?? base;
    const termAt = (i: number) => (i === base.index ? base.term : s.log.find((e) => e.index === i)?.term);
    switch (op.kind) {
      case 'append': {
        // Never truncate a committed entry: Raft does not.
        const lowest = Math.max(base.index, s.hardState.commit) + 1;
        const first = last.index + 1 - (op.back % (last.index + 2 - lowest));
        const term = termAt(first - 1)! + op.termBump;
        const batch: Entry[] = [];
        for (let i = 0; i < op.count; i++) {
          batch.push({
            index: first + i,
            term,
            type: i % 5 === 4 ? 'conf' : 'normal',
            data: entryData(first + i, term, op.bytes),
          });
        }
        const newLast = batch.at(-1)?.index ?? last.index;
        let hs: HardState | undefined;
        if (op.hardState !== 'none') {
          const hsTerm = Math.max(s.hardState.term, term) + (op.hardState === 'new-term' ? 1 : 0);
          const vote =
            hsTerm === s.hardState.term && s.hardState.vote !== null ? s.hardState.vote : votes[op.vote]!;
          hs = { term: hsTerm, vote, commit: Math.min(newLast, s.hardState.commit + op.commitStep) };
          if (hs.commit < s.hardState.commit) hs = { ...hs, commit: s.hardState.commit };
        }
        wal.append(batch, hs);
        for (const entry of batch) push({ kind: 'entry', entry });
        const h = s.hardState;
        if (hs !== undefined && (hs.term !== h.term || hs.vote !== h.vote || hs.commit !== h.commit)) {
          push({ kind: 'hardState', hardState: hs });
        }
        break;
      }
      case 'snapshot': {
        const conf = {
          voters: ['m1', 'm2', 'm3'].slice(0, op.voters),
          learners: op.voters < 3 ? ['m9'] : [],
        };
        let meta: SnapshotMeta;
        if (op.discard) meta = { index: last.index + 1 + (Math.abs(op.at) % 3), term: last.term + 1, conf };
        else {
          const top = Math.max(base.index, Math.min(s.hardState.commit, last.index));
          const index = op.at < 0 ? top : base.index + (op.at % (top - base.index + 1));
          meta = { index, term: termAt(index)!, conf };
        }
        wal.recordSnapshot(meta);
        push({ kind: 'snapshot', meta });
        break;
      }
      case 'sync': {
        const covered = records.length;
        const done = wal.sync().then(() => {
          acked = Math.max(acked, covered);
        });
        if (op.await) await done;
        else running.push(done);
        break;
      }
      case 'release':
        await wal.releaseBefore(base.index + 1);
        acked = records.length;
        break;
      case 'reopen': {
        await Promise.all(running.splice(0));
        await wal.close();
        acked = records.length;
        const opened = await Wal.open(dir, options);
        wal = opened.wal;
        expect(opened.recovered).toEqual({ ...recovered(states.at(-1)!), tornTail: null });
        break;
      }
    }
  }
  await Promise.all(running.splice(0));
  await wal.close();

  // Every record is on disk once, in order, after the released ones.
  const segments = layout(dir);
  const onDisk = segments.reduce((n, s) => n + s.ends.length, 0);
  const firstOnDisk = records.length - onDisk;
  expect(firstOnDisk).toBeGreaterThanOrEqual(0);

  // The crash: segments after `j` never existed; `j` keeps at least what was acknowledged.
  let ackSegment = 0;
  let ackOffset = segments[0]!.headEnd;
  let earlier = firstOnDisk;
  for (const [i, seg] of segments.entries()) {
    const inSeg = acked - earlier; // acknowledged records in this segment or later ones
    if (inSeg <= 0) break;
    ackSegment = i;
    ackOffset = inSeg <= seg.ends.length ? seg.ends[inSeg - 1]! : seg.size;
    earlier += seg.ends.length;
  }
  const j = ackSegment + (crash.segment % (segments.length - ackSegment));
  const victim = segments[j]!;
  const lowest = j === ackSegment ? ackOffset : victim.headEnd;
  const cut = lowest + (crash.offset % (victim.size - lowest + 1));
  const original = readFileSync(victim.path);
  for (const seg of segments.slice(j + 1)) rmSync(seg.path);
  truncateSync(victim.path, cut);
  if (crash.tail > 0) {
    const tail = Buffer.alloc(crash.tail % 700);
    if (crash.tail % 2 === 1) for (let i = 0; i < tail.length; i++) tail[i] = (i * 131 + crash.tail) & 0xff;
    appendFileSync(victim.path, tail);
  }
  // A record survives when its bytes are intact: usually those before the cut, but a zero
  // tail can rebuild the zero bytes it cut off (a term-0 entry ends in zeros).
  const image = readFileSync(victim.path);
  const intact = victim.ends.findIndex(
    (e) => e > image.length || !image.subarray(0, e).equals(original.subarray(0, e)),
  );
  const survivors =
    firstOnDisk +
    segments.slice(0, j).reduce((n, s) => n + s.ends.length, 0) +
    (intact === -1 ? victim.ends.length : intact);
  expect(survivors).toBeGreaterThanOrEqual(acked);

  const after = await Wal.open(dir, options);
  const expected = states[survivors]!;
  expect({ ...after.recovered, tornTail: null }).toEqual({ ...recovered(expected), tornTail: null });

  // The log goes on from there: the cut must have removed the damaged bytes for good.
  const last = expected.log.at(-1) ?? expected.snapshot ?? { index: 0, term: 0 };
  const next: Entry = { index: last.index + 1, term: last.term, type: 'normal', data: entryData(0, 0, 10) };
  after.wal.append([next]);
  await after.wal.close();
  const again = await Wal.open(dir, options);
  await again.wal.close();
  expect(again.recovered).toEqual({
    ...recovered(expected),
    entries: [...expected.log, next],
    tornTail: null,
  });
}

describe('WAL under random histories and crashes', () => {
  it('recovers exactly the state after the records that survived, never less than what was synced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 60, size: '+1' }),
        fc.record({ segment: fc.nat(), offset: fc.nat(), tail: fc.nat(2000) }),
        runHistory,
      ),
      { numRuns: 30 },
    );
  });
});
