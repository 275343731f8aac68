import { join } from 'node:path';
import { tempDir } from '@flotilla/testkit';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand } from '../mvcc/commands.ts';
import { CompactedError, WatchCancelledError } from '../mvcc/errors.ts';
import { prefixEnd, rangeEndAll } from '../mvcc/keys.ts';
import { StateMachine } from '../mvcc/state-machine.ts';
import type { ApplyResult, Command } from '../mvcc/types.ts';
import type { WatchResponse } from './types.ts';
import { WatchHub, type WatchHubOptions } from './watch-hub.ts';
import type { Watcher } from './watcher.ts';

const b = (s: string) => Buffer.from(s, 'utf8');
const str = (u: Uint8Array) => Buffer.from(u).toString('utf8');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(options: WatchHubOptions = {}): { sm: StateMachine; hub: WatchHub } {
  const sm = StateMachine.open({ dir: tempDir('store-watch') });
  const hub = new WatchHub(sm, options);
  cleanups.push(() => sm.close());
  cleanups.push(() => hub.close());
  return { sm, hub };
}

function apply(sm: StateMachine, ...commands: Command[]): void {
  sm.applyBatch(commands.map((c, i) => ({ index: sm.appliedIndex + 1 + i, data: encodeCommand(c) })));
}

const put = (key: string, value: string): Command => ({ kind: 'put', key: b(key), value: b(value) });

/** One line per event: "rev type key=value" (and "<prev" with a prevKv). */
function lines(r: WatchResponse): string[] {
  if (r.kind === 'progress') return [`${r.revision} progress`];
  return r.events.map(
    (e) =>
      `${r.revision} ${e.type} ${str(e.kv.key)}=${str(e.kv.value)}${e.prevKv ? ` <${str(e.prevKv.value)}` : ''}`,
  );
}

async function take(w: Watcher, n: number): Promise<WatchResponse[]> {
  const out: WatchResponse[] = [];
  for (let i = 0; i < n; i++) {
    const r = await w.next();
    if (r === undefined) break;
    out.push(r);
  }
  return out;
}

describe('watch hub', () => {
  it('catches up from history then goes live, with no gap and no duplicate', async () => {
    const { sm, hub } = setup({ catchUpRecordsPerStep: 3 });
    // 20 revisions before the watch: a/ keys watched, b/ keys not.
    for (let i = 0; i < 10; i++) apply(sm, put(`a/${i}`, `v${i}`), put(`b/${i}`, 'x'));
    const w = hub.watch({ key: b('a/'), rangeEnd: prefixEnd(b('a/')), startRevision: 2 });
    const seen: string[] = [];
    // Keep writing while the watcher catches up, so live events race the history reads.
    for (let i = 10; i < 25; i++) {
      apply(sm, put(`a/${i}`, `v${i}`), put(`b/${i}`, 'x'));
      seen.push(...lines((await w.next())!));
    }
    while (seen.length < 25) seen.push(...lines((await w.next())!));
    const expected = Array.from({ length: 25 }, (_, i) => `${2 + 2 * i} put a/${i}=v${i}`);
    expect(seen).toEqual(expected);
    apply(sm, { kind: 'deleteRange', key: b('a/'), rangeEnd: prefixEnd(b('a/')) });
    const del = (await w.next())!;
    expect(del.kind === 'events' && del.events.length).toBe(25);
    expect(del.revision).toBe(sm.revision);
  });

  it('delivers each revision once, all its events together, in order', async () => {
    const { sm, hub } = setup();
    const w = hub.watch({ key: b('k'), rangeEnd: b('l') });
    apply(sm, {
      kind: 'txn',
      compare: [],
      success: [
        { op: 'put', key: b('k1'), value: b('1') },
        { op: 'put', key: b('zz'), value: b('not watched') },
        { op: 'put', key: b('k2'), value: b('2') },
      ],
      failure: [],
    });
    apply(sm, put('k1', 'again'));
    expect((await take(w, 2)).map(lines)).toEqual([['2 put k1=1', '2 put k2=2'], ['3 put k1=again']]);
  });

  it('watches a single key, from now, or from a future revision', async () => {
    const { sm, hub } = setup();
    apply(sm, put('k', 'old'));
    const now = hub.watch({ key: b('k') });
    const future = hub.watch({ key: b('k'), startRevision: 4 });
    const all = hub.watch({ key: rangeEndAll, rangeEnd: rangeEndAll, startRevision: 1 });
    apply(sm, put('k', 'x'), put('kk', 'y'), put('k', 'z'));
    expect((await take(now, 2)).flatMap(lines)).toEqual(['3 put k=x', '5 put k=z']);
    expect((await take(future, 1)).flatMap(lines)).toEqual(['5 put k=z']);
    expect((await take(all, 4)).flatMap(lines)).toEqual([
      '2 put k=old',
      '3 put k=x',
      '4 put kk=y',
      '5 put k=z',
    ]);
  });

  it('attaches previous values, live and from history', async () => {
    const { sm, hub } = setup();
    apply(sm, put('k', '1'), put('k', '2'));
    const w = hub.watch({ key: b('k'), startRevision: 2, prevKv: true });
    apply(sm, { kind: 'deleteRange', key: b('k') }, put('k', '3'));
    expect((await take(w, 4)).flatMap(lines)).toEqual([
      '2 put k=1',
      '3 put k=2 <1',
      '4 delete k= <2',
      '5 put k=3',
    ]);
  });

  it('refuses a start below the compacted revision; allows it at the compacted revision', async () => {
    const { sm, hub } = setup();
    apply(sm, put('k', '1'), put('k', '2'), put('k', '3'), { kind: 'compact', revision: 3 });
    await sm.compactionIdle();
    expect(() => hub.watch({ key: b('k'), startRevision: 2 })).toThrow(CompactedError);
    const w = hub.watch({ key: b('k'), startRevision: 3, prevKv: true });
    expect((await take(w, 2)).flatMap(lines)).toEqual(['3 put k=2 <1', '4 put k=3 <2']);
  });

  it('fails an unsynced watcher that compaction overtakes, with the compacted error', async () => {
    const { sm, hub } = setup({ catchUpRecordsPerStep: 1 });
    for (let i = 0; i < 6; i++) apply(sm, put('k', `${i}`));
    const w = hub.watch({ key: b('k'), startRevision: 2 });
    expect((await take(w, 1)).flatMap(lines)).toEqual(['2 put k=0']);
    apply(sm, { kind: 'compact', revision: 5 });
    const err = await w.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CompactedError);
    expect((err as CompactedError).data).toEqual({ revision: 3, compactedRevision: 5 });
    expect(hub.size).toBe(0);
  });

  it('cancels a slow watcher with a reason and where to resume, never skipping ahead', async () => {
    const { sm, hub } = setup();
    const w = hub.watch({ key: b('k'), rangeEnd: b('l'), maxPendingEvents: 3 });
    apply(sm, put('k1', '1'));
    expect((await take(w, 1)).flatMap(lines)).toEqual(['2 put k1=1']);
    for (let i = 0; i < 5; i++) apply(sm, put(`k${i}`, 'x'));
    const err = await w.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WatchCancelledError);
    expect((err as WatchCancelledError).data).toMatchObject({ reason: 'slow', nextRevision: 3 });
    expect(hub.size).toBe(0);
    // Resuming from where it was cancelled loses nothing.
    const again = hub.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 3 });
    expect((await take(again, 5)).map((r) => r.revision)).toEqual([3, 4, 5, 6, 7]);
  });

  it('counts bytes too, and always takes one revision into an empty backlog', async () => {
    const { sm, hub } = setup();
    const w = hub.watch({ key: b('k'), rangeEnd: b('l'), maxPendingEvents: 2, maxPendingBytes: 1000 });
    apply(sm, ...Array.from({ length: 5 }, (_, i) => put(`k${i}`, 'v')));
    apply(sm, {
      kind: 'txn',
      compare: [],
      success: Array.from({ length: 5 }, (_, i) => ({ op: 'put' as const, key: b(`k${i}`), value: b('w') })),
      failure: [],
    });
    // Five revisions of one event each overflow a 2-event backlog...
    await expect(w.next()).rejects.toThrow(WatchCancelledError);
    // ...but a revision of five events is delivered whole to an empty one.
    const big = hub.watch({ key: b('k'), rangeEnd: b('l'), startRevision: 7, maxPendingEvents: 2 });
    expect((await take(big, 1)).flatMap(lines)).toHaveLength(5);
    const wide = hub.watch({ key: b('k'), rangeEnd: b('l'), maxPendingBytes: 500 });
    for (let i = 0; i < 3; i++) apply(sm, put('k1', 'x'.repeat(300)));
    await expect(wide.next()).rejects.toMatchObject({ data: { reason: 'slow' } });
  });

  it('sends progress on request once earlier events are queued, and periodic progress to those who asked', async () => {
    const { sm, hub } = setup({ catchUpRecordsPerStep: 1 });
    apply(sm, put('k', '1'), put('other', '1'), put('k', '2'));
    const w = hub.watch({ key: b('k'), startRevision: 2 });
    w.requestProgress();
    expect((await take(w, 3)).flatMap(lines)).toEqual(['2 put k=1', '4 put k=2', '4 progress']);
    apply(sm, put('other', '2'));
    w.requestProgress();
    expect((await take(w, 1)).flatMap(lines)).toEqual(['5 progress']);
    const periodic = hub.watch({ key: b('x'), progressNotify: true });
    const quiet = hub.watch({ key: b('x') });
    hub.notifyProgress();
    apply(sm, put('x', '1'));
    expect((await take(periodic, 2)).flatMap(lines)).toEqual(['5 progress', '6 put x=1']);
    expect((await take(quiet, 1)).flatMap(lines)).toEqual(['6 put x=1']);
  });

  it('a close ends the watch; a hub close cancels every watch', async () => {
    const { sm, hub } = setup();
    const w = hub.watch({ key: b('k') });
    const pending = w.next();
    w.close();
    expect(await pending).toBeUndefined();
    const iterated: string[] = [];
    const v = hub.watch({ key: b('k') });
    const loop = (async () => {
      for await (const r of v) iterated.push(...lines(r));
    })();
    apply(sm, put('k', '1'));
    await new Promise((resolve) => setImmediate(resolve));
    hub.close();
    await expect(loop).rejects.toMatchObject({ data: { reason: 'closing' } });
    expect(iterated).toEqual(['2 put k=1']);
    expect(hub.size).toBe(0);
  });

  it('closing the store ends every watch', async () => {
    const { sm, hub } = setup();
    const w = hub.watch({ key: b('k') });
    const pending = w.next();
    await sm.close();
    await expect(pending).rejects.toMatchObject({ data: { reason: 'closing' } });
    expect(hub.size).toBe(0);
  });

  it('a catch-up waiting during a restore resumes when it ends, refused or not', async () => {
    const { sm, hub } = setup({ catchUpRecordsPerStep: 1 });
    for (let i = 0; i < 30; i++) apply(sm, put(`other${i}`, 'x'));
    apply(sm, put('k', 'found'));
    const dir = tempDir('store-watch');
    const path = join(dir, 'snap');
    await sm.snapshot(path);
    for (const file of [join(dir, 'missing'), path]) {
      const w = hub.watch({ key: b('k'), startRevision: 2 });
      const pending = w.next();
      const restored = sm.restore(file).catch(() => 'refused');
      expect(lines((await pending)!)).toEqual(['32 put k=found']);
      await restored;
      w.close();
    }
  });

  it('after a restore, watchers read history again; one ahead of the restored state is reset', async () => {
    const { sm, hub } = setup();
    apply(sm, put('k', '1'));
    const path = join(tempDir('store-watch'), 'snap');
    await sm.snapshot(path); // revision 2
    apply(sm, put('k', '2'), put('k', '3'));
    const ahead = hub.watch({ key: b('k'), startRevision: 2 });
    expect((await take(ahead, 3)).map((r) => r.revision)).toEqual([2, 3, 4]);
    const behind = hub.watch({ key: b('k'), startRevision: 2, maxPendingEvents: 1 });
    expect((await take(behind, 1)).map((r) => r.revision)).toEqual([2]);
    await sm.restore(path);
    await expect(ahead.next()).rejects.toMatchObject({ data: { reason: 'reset' } });
    apply(sm, put('k', 'after'));
    expect((await take(behind, 1)).flatMap(lines)).toEqual(['3 put k=after']);
  });
});

type Op =
  | { readonly kind: 'put'; readonly key: number; readonly value: number }
  | { readonly kind: 'pair'; readonly key: number }
  | { readonly kind: 'delete'; readonly key: number }
  | { readonly kind: 'pull' }
  | { readonly kind: 'compact'; readonly back: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('put' as const), key: fc.nat(4), value: fc.nat(99) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pair' as const), key: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(4) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'pull' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.integer({ min: 2, max: 12 }) }),
  },
);

describe('watch hub under random interleavings', () => {
  it('delivers exactly the history of its range, resuming after slow cancellations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 5, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(6),
        async (ops, catchUpRecordsPerStep, maxPendingEvents, warmup) => {
          const { sm, hub } = setup({ catchUpRecordsPerStep });
          // Keys w0..w4 are watched (w/ prefix), x0..x4 are noise.
          const expected: string[] = [];
          const live = new Set<string>();
          const write = (c: Command, events: (revision: number) => string[]) => {
            const r: ApplyResult = sm.apply(sm.appliedIndex + 1, encodeCommand(c));
            if (r.kind === 'error' || r.kind === 'alreadyApplied')
              throw new Error(`unexpected ${JSON.stringify(r)}`);
            expected.push(...events(r.revision));
          };
          const putW = (k: string, v: string) => (rev: number) => {
            live.add(k);
            return [`${rev} put ${k}=${v}`];
          };
          for (let i = 0; i < warmup; i++) write(put(`w${i % 5}`, `pre${i}`), putW(`w${i % 5}`, `pre${i}`));
          let start = Math.max(1, sm.revision - 3);
          let w = hub.watch({
            key: b('w'),
            rangeEnd: prefixEnd(b('w')),
            startRevision: start,
            maxPendingEvents,
          });
          const from = start;
          const got: string[] = [];
          let pending: Promise<WatchResponse | undefined> | undefined;
          let compactedAway = false;
          const pull = async (): Promise<'empty' | 'got' | 'ended'> => {
            pending ??= w.next();
            const tick = new Promise<'empty'>((resolve) =>
              setImmediate(() => setImmediate(() => resolve('empty'))),
            );
            let r: WatchResponse | undefined | 'empty';
            try {
              r = await Promise.race([pending, tick]);
            } catch (err) {
              pending = undefined;
              if (err instanceof WatchCancelledError && err.data.reason === 'slow') {
                start = err.data.nextRevision;
                if (start < sm.compactedRevision) {
                  compactedAway = true;
                  return 'ended';
                }
                w = hub.watch({
                  key: b('w'),
                  rangeEnd: prefixEnd(b('w')),
                  startRevision: start,
                  maxPendingEvents,
                });
                return 'got';
              }
              if (err instanceof CompactedError) {
                compactedAway = true;
                return 'ended';
              }
              throw err;
            }
            if (r === 'empty') return 'empty';
            pending = undefined;
            if (r !== undefined) got.push(...lines(r));
            return 'got';
          };
          for (const o of ops) {
            if (compactedAway) break;
            switch (o.kind) {
              case 'put':
                write(put(`w${o.key}`, `${o.value}`), putW(`w${o.key}`, `${o.value}`));
                break;
              case 'pair':
                write(
                  {
                    kind: 'txn',
                    compare: [],
                    success: [
                      { op: 'put', key: b(`x${o.key}`), value: b('noise') },
                      { op: 'put', key: b(`w${o.key}`), value: b('pair') },
                      { op: 'put', key: b(`w${o.key + 1}`), value: b('pair') },
                    ],
                    failure: [],
                  },
                  (rev) => [...putW(`w${o.key}`, 'pair')(rev), ...putW(`w${o.key + 1}`, 'pair')(rev)],
                );
                break;
              case 'delete':
                write({ kind: 'deleteRange', key: b(`w${o.key}`) }, (rev) => {
                  if (!live.delete(`w${o.key}`)) return [];
                  return [`${rev} delete w${o.key}=`];
                });
                break;
              case 'pull':
                if ((await pull()) === 'ended') compactedAway = true;
                break;
              case 'compact': {
                const target = sm.revision - o.back;
                if (target > sm.compactedRevision) write({ kind: 'compact', revision: target }, () => []);
                break;
              }
            }
          }
          // Drain what is left (bounded: one response per pull, at most one per event).
          for (let i = 0; !compactedAway && i < expected.length + 20; i++) {
            const r = await pull();
            if (r === 'ended') break;
            if (r === 'empty' && w.synced && w.pendingEvents === 0) break;
          }
          const want = expected.filter((line) => Number(line.split(' ')[0]) >= from);
          if (compactedAway) {
            // A watcher overtaken by compaction stops, but what it got is a gapless prefix.
            expect(want.slice(0, got.length)).toEqual(got);
          } else {
            expect(got).toEqual(want);
          }
          hub.close();
          await sm.close();
          cleanups.length = 0;
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});
