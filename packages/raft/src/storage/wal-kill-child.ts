/**
 * Child process of wal-kill.test.ts: appends entries to the WAL in `argv[2]` as fast as it
 * can, several syncs in flight, and prints `acked <index>` once a sync covering that index
 * has resolved. The test SIGKILLs it at a random moment and checks that every acknowledged
 * entry is recovered intact. Bounded: stops by itself after `argv[3]` batches.
 */
import { writeSync } from 'node:fs';
import type { Entry } from '../core/types.ts';
import { Wal } from './wal.ts';
import { entryData } from './wal-test-helpers.ts';

const dir = process.argv[2]!;
const maxBatches = Number(process.argv[3]);
const maxInflightSyncs = 4;

const { wal, recovered } = await Wal.open(dir, { segmentBytes: 64 * 1024 });
let last = recovered.entries.at(-1) ?? { index: 0, term: 0 };
const term = Math.max(recovered.hardState.term, last.term) + 1;
writeSync(1, `started at ${last.index} term ${term}\n`);
const inflight = new Set<Promise<void>>();
for (let batch = 0; batch < maxBatches; batch++) {
  const size = 1 + (batch % 23);
  const entries: Entry[] = [];
  for (let i = 1; i <= size; i++) {
    entries.push({ index: last.index + i, term, type: 'normal', data: entryData(last.index + i, term, 256) });
  }
  wal.append(entries, { term, vote: null, commit: last.index });
  last = entries.at(-1)!;
  const acked = last.index;
  const sync = wal.sync().then(() => void writeSync(1, `acked ${acked}\n`));
  inflight.add(sync);
  void sync.finally(() => inflight.delete(sync));
  if (inflight.size >= maxInflightSyncs) await Promise.race(inflight);
}
await wal.close();
writeSync(1, 'done\n');
