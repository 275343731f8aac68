import { describe, expect, it } from 'vitest';
import { check } from './check.ts';
import { CallAlreadyEndedError, HistoryFullError } from './errors.ts';
import { History } from './history.ts';
import { type KvInput, type KvOutput, kvModel } from './kv-model.ts';

/** A clock the test moves by hand. */
function manualClock() {
  let nowMs = 0;
  return {
    now: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

describe('History', () => {
  it('records call and return times from its clock, and each ending as it happened', () => {
    const clock = manualClock();
    const history = new History<KvInput, KvOutput>({ now: clock.now });
    const put = history.invoke('c1', { kind: 'put', key: 'k', value: 'a' });
    clock.advance(2);
    const get = history.invoke('c2', { kind: 'get', key: 'k' });
    clock.advance(3);
    put.complete({ kind: 'put' });
    get.complete({ kind: 'get', value: 'a' });
    const failed = history.invoke('c1', { kind: 'put', key: 'k', value: 'b' });
    clock.advance(1);
    failed.fail();
    const lost = history.invoke('c1', { kind: 'put', key: 'k', value: 'c' });
    lost.unknown();

    expect(history.operations()).toEqual([
      {
        kind: 'ok',
        client: 'c1',
        input: { kind: 'put', key: 'k', value: 'a' },
        output: { kind: 'put' },
        callMs: 0,
        returnMs: 5,
      },
      {
        kind: 'ok',
        client: 'c2',
        input: { kind: 'get', key: 'k' },
        output: { kind: 'get', value: 'a' },
        callMs: 2,
        returnMs: 5,
      },
      { kind: 'failed', client: 'c1', input: { kind: 'put', key: 'k', value: 'b' }, callMs: 5, returnMs: 6 },
      { kind: 'unknown', client: 'c1', input: { kind: 'put', key: 'k', value: 'c' }, callMs: 6 },
    ]);
    expect(history.counts()).toEqual({ ok: 2, failed: 1, unknown: 1, pending: 0 });
    expect(put.index).toBe(0);
    expect(lost.index).toBe(3);
  });

  it('reports calls still in flight as unknown, and can be checked directly', () => {
    const history = new History<KvInput, KvOutput>();
    history.invoke(1, { kind: 'put', key: 'k', value: 'a' }).complete({ kind: 'put' });
    history.invoke(2, { kind: 'put', key: 'k', value: 'b' });
    expect(history.counts()).toEqual({ ok: 1, failed: 0, unknown: 0, pending: 1 });
    expect(history.operations()[1]).toMatchObject({ kind: 'unknown', client: 2 });
    expect(check(kvModel, history).result).toBe('ok');
  });

  it('refuses to end a call twice and keeps the first ending', () => {
    const clock = manualClock();
    const history = new History<KvInput, KvOutput>({ now: clock.now });
    const call = history.invoke(1, { kind: 'get', key: 'k' });
    clock.advance(1);
    call.complete({ kind: 'get', value: null });
    const before = history.operations();
    clock.advance(1);
    expect(() => call.complete({ kind: 'get', value: 'x' })).toThrow(CallAlreadyEndedError);
    expect(() => call.fail()).toThrow(/operation #0 already ended as ok; fail\(\) changes nothing/);
    expect(() => call.unknown()).toThrow(CallAlreadyEndedError);
    expect(history.operations()).toEqual(before);
    expect(history.counts()).toEqual({ ok: 1, failed: 0, unknown: 0, pending: 0 });
  });

  it('holds at most maxOperations and refuses more without recording anything', () => {
    const history = new History<KvInput, KvOutput>({ maxOperations: 2 });
    history.invoke(1, { kind: 'get', key: 'k' });
    history.invoke(1, { kind: 'get', key: 'k' });
    expect(() => history.invoke(1, { kind: 'get', key: 'k' })).toThrow(HistoryFullError);
    expect(history.size).toBe(2);
  });

  it('hands out snapshots that later calls do not change', () => {
    const history = new History<KvInput, KvOutput>();
    const call = history.invoke(1, { kind: 'get', key: 'k' });
    const snapshot = history.operations();
    call.complete({ kind: 'get', value: null });
    expect(snapshot[0]?.kind).toBe('unknown');
    expect(history.operations()[0]?.kind).toBe('ok');
  });
});
