import { assert, type Logger } from '@flotilla/actor';
import type { Backend } from './backend.ts';
import { keyRevisionKey, keyRevisionStart, readRevision, revisionKey, revisionKeyBytes } from './keys.ts';
import {
  type CompactionProgress,
  decodeCompactionProgress,
  decodeHistoryRecord,
  encodeCompactionProgress,
} from './records.ts';
import type { StoreStatus } from './types.ts';

/**
 * Physical compaction. Compact(R) takes effect at once in apply (reads and watches below R
 * fail from then on); afterwards this removes, in bounded transactions, the history that no
 * read at R or above needs: for every key, the versions older than its latest version at
 * R - 1, and that version too if it is a delete. Everything from R on stays, so reads at R
 * and watches from R (with prevKv) are complete. Each step keeps that true, so reads stay
 * correct while it runs; members need not compact in step, since reads and hashes only see
 * what every member still has.
 */

export const compactionMetaKey = 'compaction';

export function initialCompactionProgress(): CompactionProgress {
  return { throughRevision: 0, cursorMain: 1, cursorSub: 0 };
}

export function readCompactionProgress(b: Backend): CompactionProgress {
  const bytes = b.meta.getBinary(compactionMetaKey);
  assert(bytes !== undefined, 'the backend holds compaction progress');
  return decodeCompactionProgress(bytes);
}

/** Called by apply (inside its transaction) for Compact(R): schedule removal through R - 1. */
export function scheduleCompaction(b: Backend, compactedRevision: number): void {
  const p = readCompactionProgress(b);
  assert(compactedRevision - 1 >= p.throughRevision, 'compaction only moves forward');
  b.meta.putSync(
    compactionMetaKey,
    encodeCompactionProgress({ ...p, throughRevision: compactedRevision - 1 }),
  );
}

function isPending(p: CompactionProgress): boolean {
  return p.cursorMain <= p.throughRevision;
}

/**
 * One bounded step: process up to `maxRecords` history records from the cursor. For each,
 * remove the key's older versions; remove a delete itself. Returns whether work remains.
 */
export function compactStep(b: Backend, maxRecords: number): boolean {
  return b.transact(() => {
    const p = readCompactionProgress(b);
    if (!isPending(p)) return false;
    const batch = [
      ...b.history.getRange({
        start: revisionKey(p.cursorMain, p.cursorSub),
        end: revisionKey(p.throughRevision + 1, 0),
        limit: maxRecords,
      }),
    ];
    for (const { key, value } of batch) {
      const { main, sub } = readRevision(key as Uint8Array, 0);
      const record = decodeHistoryRecord(value);
      const older = [
        ...b.index.getKeys({
          start: keyRevisionStart(record.key),
          end: keyRevisionKey(record.key, main, sub),
        }),
      ];
      for (const indexKey of older) {
        const k = indexKey as Uint8Array;
        const at = readRevision(k, k.length - revisionKeyBytes);
        b.history.removeSync(revisionKey(at.main, at.sub));
        b.index.removeSync(k);
      }
      if (record.type === 'delete') {
        b.history.removeSync(key as Uint8Array);
        b.index.removeSync(keyRevisionKey(record.key, main, sub));
      }
    }
    const last = batch[batch.length - 1];
    const next: CompactionProgress =
      batch.length < maxRecords || last === undefined
        ? { ...p, cursorMain: p.throughRevision + 1, cursorSub: 0 }
        : (() => {
            const at = readRevision(last.key as Uint8Array, 0);
            return { ...p, cursorMain: at.main, cursorSub: at.sub + 1 };
          })();
    b.meta.putSync(compactionMetaKey, encodeCompactionProgress(next));
    return isPending(next);
  });
}

/**
 * Runs compaction steps one per event-loop turn while work remains, so applies and reads
 * interleave with it. `kick()` after a Compact is applied (and on open); `stop()` on close.
 */
export class Compactor {
  private readonly backend: () => Backend;
  private readonly maxRecordsPerStep: number;
  private readonly log: Logger;
  private scheduled: NodeJS.Immediate | undefined;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(backend: () => Backend, maxRecordsPerStep: number, log: Logger) {
    assert(maxRecordsPerStep >= 1, 'a compaction step processes at least one record');
    this.backend = backend;
    this.maxRecordsPerStep = maxRecordsPerStep;
    this.log = log;
  }

  get pending(): boolean {
    return this.scheduled !== undefined || isPending(readCompactionProgress(this.backend()));
  }

  kick(): void {
    if (this.stopped || this.scheduled !== undefined) return;
    if (!isPending(readCompactionProgress(this.backend()))) {
      this.wakeIdle();
      return;
    }
    this.scheduled = setImmediate(() => this.run());
  }

  private run(): void {
    this.scheduled = undefined;
    if (this.stopped) return;
    const more = compactStep(this.backend(), this.maxRecordsPerStep);
    if (more) {
      this.scheduled = setImmediate(() => this.run());
    } else {
      this.log.debug({ through: readCompactionProgress(this.backend()).throughRevision }, 'compaction done');
      this.wakeIdle();
    }
  }

  /** Resolves once no compaction work remains (or the compactor is stopped). */
  idle(): Promise<void> {
    if (this.stopped || !this.pending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.wakeIdle();
  }

  /** Start again after `stop()` (the backend was swapped by a restore). */
  resume(): void {
    this.stopped = false;
    this.kick();
  }

  private wakeIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/**
 * The revision to compact to for "keep the last `retainRevisions` revisions", or undefined
 * when nothing new would be compacted. The server calls it when it likes (after applies,
 * on a timer of its own) and proposes a Compact with the answer.
 */
export function autoCompactionRevision(
  status: Pick<StoreStatus, 'revision' | 'compactedRevision'>,
  retainRevisions: number,
): number | undefined {
  assert(Number.isSafeInteger(retainRevisions) && retainRevisions >= 1, 'retain at least one revision');
  const target = status.revision - retainRevisions + 1;
  return target > status.compactedRevision && target >= 1 ? target : undefined;
}
