import { join } from 'node:path';
import { tempDir } from '@flotilla/testkit';
import { describe, expect, it } from 'vitest';
import { Backend } from './backend.ts';
import { encodeCommand } from './commands.ts';
import { autoCompactionRevision, compactStep, readCompactionProgress } from './compaction.ts';
import { readRevision } from './keys.ts';
import { readRange } from './kv-read.ts';
import { StateMachine } from './state-machine.ts';
import type { Command } from './types.ts';

const b = (s: string) => Buffer.from(s, 'utf8');
const str = (u: Uint8Array) => Buffer.from(u).toString('utf8');
const put = (key: string, value: string): Command => ({ kind: 'put', key: b(key), value: b(value) });
const del = (key: string): Command => ({ kind: 'deleteRange', key: b(key) });

describe('physical compaction', () => {
  it('keeps each key’s latest version below the compacted revision unless it is a delete, one step at a time', async () => {
    const dir = tempDir('store-compaction');
    const sm = StateMachine.open({ dir });
    const history = [
      put('a', '1'), // 2
      put('b', '1'), // 3
      put('a', '2'), // 4
      del('b'), // 5
      put('c', '1'), // 6
      put('a', '3'), // 7
      del('c'), // 8
      put('b', '2'), // 9
      { kind: 'compact', revision: 8 } as Command,
    ];
    sm.applyBatch(history.map((c, i) => ({ index: i + 1, data: encodeCommand(c) })));
    await sm.close(); // before the compactor's first step

    const backend = Backend.open(join(dir, 'state.mdb'));
    try {
      const view = { revision: 9, compactedRevision: 8 };
      const all = { key: b('\0'), rangeEnd: b('\0') };
      const readAt = (revision: number) =>
        readRange(backend, { ...all, revision }, view).kvs.map(
          (kv) => `${str(kv.key)}=${str(kv.value)}@${kv.modRevision}`,
        );
      const expected = { 8: readAt(8), 9: readAt(9) };
      expect(expected).toEqual({ 8: ['a=3@7'], 9: ['a=3@7', 'b=2@9'] });
      let steps = 0;
      while (compactStep(backend, 1)) {
        steps++;
        expect({ 8: readAt(8), 9: readAt(9) }).toEqual(expected);
      }
      expect(steps).toBeGreaterThanOrEqual(6);
      expect({ 8: readAt(8), 9: readAt(9) }).toEqual(expected);
      const revisions = [...backend.history.getKeys({})].map((k) => readRevision(k as Uint8Array, 0).main);
      expect(revisions).toEqual([6, 7, 8, 9]);
      expect(backend.index.getCount({})).toBe(4);
      expect(readCompactionProgress(backend)).toEqual({ throughRevision: 7, cursorMain: 8, cursorSub: 0 });
      expect(compactStep(backend, 1)).toBe(false);
    } finally {
      await backend.close();
    }

    // Watching from the compacted revision still has every event there, with prevKv.
    const again = StateMachine.open({ dir });
    try {
      const events = again
        .readHistory(8, 10)
        .map((r) => r.events.map((e) => `${r.revision} ${e.type} ${str(e.kv.key)}`));
      expect(events).toEqual([['8 delete c'], ['9 put b']]);
      const [delC] = again.readHistory(8, 1)[0]!.events;
      expect(str(again.kvAt(delC!.prev!).value)).toBe('1');
    } finally {
      await again.close();
    }
  });

  it('resumes after a restart and finishes on its own', async () => {
    const dir = tempDir('store-compaction');
    const sm = StateMachine.open({ dir, compactionRecordsPerStep: 3 });
    const writes = Array.from({ length: 40 }, (_, i) => put(`k${i % 4}`, `${i}`));
    sm.applyBatch(
      [...writes, { kind: 'compact', revision: 35 } as Command].map((c, i) => ({
        index: i + 1,
        data: encodeCommand(c),
      })),
    );
    await sm.close();
    const again = StateMachine.open({ dir, compactionRecordsPerStep: 3 });
    try {
      expect(again.status().compactionPending).toBe(true);
      await again.compactionIdle();
      expect(again.status().compactionPending).toBe(false);
      expect(
        again.range({ key: b('k'), rangeEnd: b('l'), revision: 35 }).kvs.map((kv) => str(kv.value)),
      ).toEqual(['32', '33', '30', '31']);
    } finally {
      await again.close();
    }
  });

  it('auto compaction keeps the last N revisions', () => {
    expect(autoCompactionRevision({ revision: 100, compactedRevision: 0 }, 10)).toBe(91);
    expect(autoCompactionRevision({ revision: 100, compactedRevision: 91 }, 10)).toBeUndefined();
    expect(autoCompactionRevision({ revision: 5, compactedRevision: 0 }, 10)).toBeUndefined();
    expect(autoCompactionRevision({ revision: 10, compactedRevision: 0 }, 10)).toBe(1);
  });
});
