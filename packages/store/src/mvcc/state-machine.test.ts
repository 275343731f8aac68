import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssertionError, createRegistry } from '@flotilla/actor';
import { tempDir } from '@flotilla/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeCommand, encodeResult } from './commands.ts';
import {
  CompactedError,
  FutureRevisionError,
  InvalidRequestError,
  resultOrThrow,
  SnapshotInvalidError,
  StoreUnavailableError,
} from './errors.ts';
import { prefixEnd, rangeEndAll } from './keys.ts';
import { RevisionWriter } from './kv-write.ts';
import { storeLimits } from './limits.ts';
import { StateMachine, type StateMachineOptions } from './state-machine.ts';
import type { ApplyResult, Command, CommandResult, KeyValue, RangeRequest } from './types.ts';

const b = (s: string) => Buffer.from(s, 'utf8');
const str = (u: Uint8Array) => Buffer.from(u).toString('utf8');

const open: StateMachine[] = [];
afterEach(async () => {
  for (const sm of open.splice(0)) await sm.close();
});

function fresh(options: Partial<StateMachineOptions> = {}): StateMachine {
  const sm = StateMachine.open({ dir: tempDir('store-sm'), ...options });
  open.push(sm);
  return sm;
}

/** Apply commands one per entry, continuing the state machine's log. */
function applyAll(sm: StateMachine, ...commands: Command[]): ApplyResult[] {
  return commands.map((c) => sm.apply(sm.appliedIndex + 1, encodeCommand(c)));
}

function ok<K extends CommandResult['kind']>(
  sm: StateMachine,
  command: Command & { kind: K },
): Extract<CommandResult, { kind: K }> {
  const r = resultOrThrow(applyAll(sm, command)[0]!);
  expect(r.kind).toBe(command.kind);
  return r as Extract<CommandResult, { kind: K }>;
}

function failed(sm: StateMachine, command: Command): { code: string; message: string } {
  const r = applyAll(sm, command)[0]!;
  if (r.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(r)}`);
  return r;
}

type PutCommand = Extract<Command, { kind: 'put' }>;
const put = (key: string, value: string, more: Partial<PutCommand> = {}): PutCommand => ({
  kind: 'put',
  key: b(key),
  value: b(value),
  ...more,
});

function view(kvs: readonly KeyValue[]) {
  return kvs.map((kv) => ({
    key: str(kv.key),
    value: str(kv.value),
    c: kv.createRevision,
    m: kv.modRevision,
    v: kv.version,
    l: kv.lease,
  }));
}

function rangeView(sm: StateMachine, req: RangeRequest) {
  const r = sm.range(req);
  return { kvs: view(r.kvs), more: r.more, count: r.count };
}

describe('state machine: revisions and versions (etcd semantics)', () => {
  it('starts at revision 1; each put bumps the revision; versions count puts', () => {
    const sm = fresh();
    expect(sm.revision).toBe(1);
    expect(ok(sm, put('a', '1')).revision).toBe(2);
    expect(ok(sm, put('a', '2')).revision).toBe(3);
    expect(ok(sm, put('b', '1')).revision).toBe(4);
    expect(rangeView(sm, { key: b('a'), rangeEnd: b('c') }).kvs).toEqual([
      { key: 'a', value: '2', c: 2, m: 3, v: 2, l: 0 },
      { key: 'b', value: '1', c: 4, m: 4, v: 1, l: 0 },
    ]);
  });

  it('a delete bumps the revision once; re-creating resets version and create revision', () => {
    const sm = fresh();
    applyAll(sm, put('k', '1'), put('k', '2'), put('j', '1'));
    const del = ok(sm, { kind: 'deleteRange', key: b('j'), rangeEnd: b('l') });
    expect(del).toEqual({ kind: 'deleteRange', revision: 5, deleted: 2 });
    expect(sm.range({ key: b('k') }).count).toBe(0);
    ok(sm, put('k', '3'));
    expect(rangeView(sm, { key: b('k') }).kvs).toEqual([{ key: 'k', value: '3', c: 6, m: 6, v: 1, l: 0 }]);
  });

  it('a delete that deletes nothing changes no revision', () => {
    const sm = fresh();
    ok(sm, put('a', '1'));
    expect(ok(sm, { kind: 'deleteRange', key: b('zz') })).toEqual({
      kind: 'deleteRange',
      revision: 2,
      deleted: 0,
    });
    expect(sm.revision).toBe(2);
  });

  it('put returns the previous kv on request; delete returns the deleted ones', () => {
    const sm = fresh();
    expect(ok(sm, put('a', '1', { prevKv: true })).prevKv).toBeUndefined();
    const second = ok(sm, put('a', '2', { prevKv: true }));
    expect(view([second.prevKv!])).toEqual([{ key: 'a', value: '1', c: 2, m: 2, v: 1, l: 0 }]);
    const del = ok(sm, { kind: 'deleteRange', key: b('a'), prevKv: true });
    expect(view(del.prevKvs!)).toEqual([{ key: 'a', value: '2', c: 2, m: 3, v: 2, l: 0 }]);
  });

  it('ignoreValue keeps the value, ignoreLease keeps the lease; both need the key', () => {
    const sm = fresh();
    ok(sm, { kind: 'leaseGrant', id: 7, ttlSeconds: 60 });
    ok(sm, put('a', 'v', { lease: 7 }));
    ok(sm, { kind: 'put', key: b('a'), value: new Uint8Array(0), ignoreValue: true, lease: 0 });
    expect(rangeView(sm, { key: b('a') }).kvs).toEqual([{ key: 'a', value: 'v', c: 2, m: 3, v: 2, l: 0 }]);
    ok(sm, put('a', 'w', { lease: 7 }));
    ok(sm, put('a', 'x', { ignoreLease: true }));
    expect(rangeView(sm, { key: b('a') }).kvs).toEqual([{ key: 'a', value: 'x', c: 2, m: 5, v: 4, l: 7 }]);
    expect(
      failed(sm, { kind: 'put', key: b('nope'), value: new Uint8Array(0), ignoreValue: true }).code,
    ).toBe('KeyNotFound');
    expect(failed(sm, put('a', 'y', { ignoreValue: true })).code).toBe('InvalidRequest');
    expect(failed(sm, put('a', '', { ignoreLease: true, lease: 7 })).code).toBe('InvalidRequest');
  });
});

describe('state machine: range', () => {
  function seeded(): StateMachine {
    const sm = fresh();
    // revisions 2..6: a=1, b=1, c=1, a=2, d=1; then delete c at 7
    applyAll(sm, put('a', '1'), put('b', '1'), put('c', '1'), put('a', '2'), put('d', '1'));
    ok(sm, { kind: 'deleteRange', key: b('c') });
    return sm;
  }

  it('single key, [key, end), prefix, and everything from a key', () => {
    const sm = seeded();
    sm.apply(sm.appliedIndex + 1, encodeCommand(put('da', 'x')));
    const keys = (req: RangeRequest) => sm.range(req).kvs.map((kv) => str(kv.key));
    expect(keys({ key: b('a') })).toEqual(['a']);
    expect(keys({ key: b('a'), rangeEnd: b('d') })).toEqual(['a', 'b']);
    expect(keys({ key: b('d'), rangeEnd: prefixEnd(b('d')) })).toEqual(['d', 'da']);
    expect(keys({ key: b('b'), rangeEnd: rangeEndAll })).toEqual(['b', 'd', 'da']);
    expect(keys({ key: rangeEndAll, rangeEnd: rangeEndAll })).toEqual(['a', 'b', 'd', 'da']);
    expect(keys({ key: b('d'), rangeEnd: b('a') })).toEqual([]);
  });

  it('limit cuts kvs but count covers the range; more says so', () => {
    const sm = seeded();
    expect(rangeView(sm, { key: b('a'), rangeEnd: rangeEndAll, limit: 2 })).toMatchObject({
      more: true,
      count: 3,
    });
    expect(sm.range({ key: b('a'), rangeEnd: rangeEndAll, limit: 3 }).more).toBe(false);
    expect(sm.range({ key: b('a'), rangeEnd: rangeEndAll, limit: 2, revision: 5 })).toMatchObject({
      more: true,
      count: 3,
    });
  });

  it('count-only and keys-only', () => {
    const sm = seeded();
    expect(sm.range({ key: b('a'), rangeEnd: rangeEndAll, countOnly: true })).toEqual({
      revision: 7,
      kvs: [],
      more: false,
      count: 3,
    });
    const keysOnly = rangeView(sm, { key: b('a'), rangeEnd: b('b'), keysOnly: true }).kvs;
    expect(keysOnly).toEqual([{ key: 'a', value: '', c: 2, m: 5, v: 2, l: 0 }]);
  });

  it('reads at past revisions see the history', () => {
    const sm = seeded();
    const at = (revision: number) =>
      sm
        .range({ key: b('a'), rangeEnd: rangeEndAll, revision })
        .kvs.map((kv) => `${str(kv.key)}=${str(kv.value)}`);
    expect(at(1)).toEqual([]);
    expect(at(2)).toEqual(['a=1']);
    expect(at(4)).toEqual(['a=1', 'b=1', 'c=1']);
    expect(at(5)).toEqual(['a=2', 'b=1', 'c=1']);
    expect(at(6)).toEqual(['a=2', 'b=1', 'c=1', 'd=1']);
    expect(at(7)).toEqual(['a=2', 'b=1', 'd=1']);
    expect(sm.range({ key: b('c'), revision: 6 }).kvs.map((kv) => kv.modRevision)).toEqual([4]);
    expect(sm.range({ key: b('c'), revision: 7 }).count).toBe(0);
  });

  it('sorts by key descending, and by other targets', () => {
    const sm = seeded();
    const keys = (req: Partial<RangeRequest>) =>
      sm.range({ key: b('a'), rangeEnd: rangeEndAll, ...req }).kvs.map((kv) => str(kv.key));
    expect(keys({ sortOrder: 'descend' })).toEqual(['d', 'b', 'a']);
    expect(keys({ sortOrder: 'descend', limit: 2 })).toEqual(['d', 'b']);
    expect(keys({ sortOrder: 'descend', revision: 6 })).toEqual(['d', 'c', 'b', 'a']);
    expect(keys({ sortTarget: 'mod' })).toEqual(['b', 'a', 'd']);
    expect(keys({ sortTarget: 'mod', sortOrder: 'descend', limit: 1 })).toEqual(['d']);
    expect(keys({ sortTarget: 'version', sortOrder: 'descend', limit: 1 })).toEqual(['a']);
    expect(keys({ sortTarget: 'create', revision: 6 })).toEqual(['a', 'b', 'c', 'd']);
    expect(keys({ sortTarget: 'value', sortOrder: 'descend', keysOnly: true })).toEqual(['a', 'b', 'd']);
  });

  it('refuses future and compacted revisions and malformed requests with typed errors', () => {
    const sm = seeded();
    expect(() => sm.range({ key: b('a'), revision: 8 })).toThrow(FutureRevisionError);
    ok(sm, { kind: 'compact', revision: 5 });
    expect(() => sm.range({ key: b('a'), revision: 4 })).toThrow(CompactedError);
    expect(sm.range({ key: b('a'), revision: 5 }).kvs.map((kv) => str(kv.value))).toEqual(['2']);
    expect(() => sm.range({ key: new Uint8Array(0) })).toThrow(InvalidRequestError);
    expect(() => sm.range({ key: b('a'), limit: -1 })).toThrow(InvalidRequestError);
    expect(() => sm.range({ key: b('a'), sortOrder: 'sideways' as never })).toThrow(InvalidRequestError);
  });
});

describe('state machine: txn', () => {
  it('compares version, create, mod, value and lease with =, !=, <, >', () => {
    const sm = fresh();
    ok(sm, { kind: 'leaseGrant', id: 3, ttlSeconds: 30 });
    applyAll(sm, put('k', 'v1'), put('k', 'v2', { lease: 3 }));
    const check = (compare: Extract<Command, { kind: 'txn' }>['compare'][number]) =>
      ok(sm, { kind: 'txn', compare: [compare], success: [], failure: [] }).succeeded;
    const k = b('k');
    expect(check({ key: k, target: 'version', version: 2, result: '=' })).toBe(true);
    expect(check({ key: k, target: 'version', version: 2, result: '!=' })).toBe(false);
    expect(check({ key: k, target: 'version', version: 3, result: '<' })).toBe(true);
    expect(check({ key: k, target: 'create', createRevision: 2, result: '=' })).toBe(true);
    expect(check({ key: k, target: 'mod', modRevision: 2, result: '>' })).toBe(true);
    expect(check({ key: k, target: 'value', value: b('v2'), result: '=' })).toBe(true);
    expect(check({ key: k, target: 'value', value: b('v3'), result: '<' })).toBe(true);
    expect(check({ key: k, target: 'lease', lease: 3, result: '=' })).toBe(true);
    // A missing key compares as version/create/mod/lease 0; its value compare always fails.
    const missing = b('missing');
    expect(check({ key: missing, target: 'version', version: 0, result: '=' })).toBe(true);
    expect(check({ key: missing, target: 'create', createRevision: 0, result: '=' })).toBe(true);
    expect(check({ key: missing, target: 'value', value: new Uint8Array(0), result: '=' })).toBe(false);
    expect(check({ key: missing, target: 'value', value: b('x'), result: '!=' })).toBe(false);
    // With a range end every key in the range must satisfy the compare.
    applyAll(sm, put('k2', 'x'));
    expect(check({ key: k, rangeEnd: b('l'), target: 'version', version: 0, result: '>' })).toBe(true);
    expect(check({ key: k, rangeEnd: b('l'), target: 'version', version: 1, result: '>' })).toBe(false);
  });

  it('runs one branch, all its writes at one revision, ranges seeing earlier writes', () => {
    const sm = fresh();
    ok(sm, put('a', '1'));
    const r = ok(sm, {
      kind: 'txn',
      compare: [{ key: b('a'), target: 'value', value: b('1'), result: '=' }],
      success: [
        { op: 'put', key: b('b'), value: b('2') },
        { op: 'put', key: b('a'), value: b('3'), prevKv: true },
        { op: 'range', key: b('a'), rangeEnd: b('c') },
        { op: 'range', key: b('a'), rangeEnd: b('c'), revision: 2 },
        { op: 'deleteRange', key: b('x'), rangeEnd: b('z') },
      ],
      failure: [{ op: 'put', key: b('f'), value: b('no') }],
    });
    expect(r.succeeded).toBe(true);
    expect(r.revision).toBe(3);
    expect(sm.revision).toBe(3);
    const [p1, p2, r1, r2, d] = r.responses;
    expect(p1).toEqual({ op: 'put' });
    expect(p2?.op === 'put' && view([p2.prevKv!])).toEqual([
      { key: 'a', value: '1', c: 2, m: 2, v: 1, l: 0 },
    ]);
    expect(r1?.op === 'range' && view(r1.kvs)).toEqual([
      { key: 'a', value: '3', c: 2, m: 3, v: 2, l: 0 },
      { key: 'b', value: '2', c: 3, m: 3, v: 1, l: 0 },
    ]);
    expect(r2?.op === 'range' && view(r2.kvs).map((kv) => kv.value)).toEqual(['1']);
    expect(d).toEqual({ op: 'deleteRange', deleted: 0 });
    expect(sm.range({ key: b('f') }).count).toBe(0);
    const failure = ok(sm, {
      kind: 'txn',
      compare: [{ key: b('a'), target: 'value', value: b('1'), result: '=' }],
      success: [],
      failure: [{ op: 'range', key: b('a') }],
    });
    expect(failure).toMatchObject({ succeeded: false, revision: 3 });
  });

  it('nested txns decide their branch on the state before the txn', () => {
    const sm = fresh();
    const r = ok(sm, {
      kind: 'txn',
      compare: [],
      success: [
        { op: 'put', key: b('a'), value: b('1') },
        {
          op: 'txn',
          compare: [{ key: b('a'), target: 'version', version: 0, result: '=' }],
          success: [{ op: 'put', key: b('b'), value: b('a was missing') }],
          failure: [{ op: 'put', key: b('b'), value: b('a existed') }],
        },
      ],
      failure: [],
    });
    expect(r.responses[1]).toEqual({ op: 'txn', succeeded: true, responses: [{ op: 'put' }] });
    expect(sm.range({ key: b('b') }).kvs.map((kv) => str(kv.value))).toEqual(['a was missing']);
  });

  it('refuses duplicate keys in a branch (etcd checkIntervals), but not across nested branches', () => {
    const sm = fresh();
    const txn = (success: Extract<Command, { kind: 'txn' }>['success']): Command => ({
      kind: 'txn',
      compare: [],
      success,
      failure: [],
    });
    expect(
      failed(
        sm,
        txn([
          { op: 'put', key: b('a'), value: b('1') },
          { op: 'put', key: b('a'), value: b('2') },
        ]),
      ).code,
    ).toBe('DuplicateKey');
    expect(
      failed(
        sm,
        txn([
          { op: 'deleteRange', key: b('a'), rangeEnd: b('c') },
          { op: 'put', key: b('b'), value: b('2') },
        ]),
      ).code,
    ).toBe('DuplicateKey');
    const nested = txn([
      {
        op: 'txn',
        compare: [],
        success: [{ op: 'put', key: b('a'), value: b('1') }],
        failure: [{ op: 'put', key: b('a'), value: b('2') }],
      },
    ]);
    expect(applyAll(sm, nested)[0]!.kind).toBe('txn');
    expect(sm.revision).toBe(2);
  });

  it('refuses more ops than the limit, a missing lease or a bad range anywhere on its path, changing nothing', () => {
    const sm = fresh();
    ok(sm, put('a', '1'));
    const many = Array.from({ length: storeLimits.maxTxnOps + 1 }, (_, i) => ({
      op: 'put' as const,
      key: b(`k${i}`),
      value: b('v'),
    }));
    expect(failed(sm, { kind: 'txn', compare: [], success: many, failure: [] }).code).toBe('TooManyTxnOps');
    const laterBad: Command = {
      kind: 'txn',
      compare: [],
      success: [
        { op: 'put', key: b('x'), value: b('1') },
        { op: 'put', key: b('y'), value: b('1'), lease: 99 },
      ],
      failure: [],
    };
    expect(failed(sm, laterBad).code).toBe('LeaseNotFound');
    const futureRange: Command = {
      kind: 'txn',
      compare: [],
      success: [
        { op: 'put', key: b('x'), value: b('1') },
        { op: 'range', key: b('x'), revision: 3 },
      ],
      failure: [],
    };
    expect(failed(sm, futureRange).code).toBe('FutureRevision');
    expect(sm.revision).toBe(2);
    expect(sm.range({ key: b('x') }).count).toBe(0);
  });
});

describe('state machine: compaction', () => {
  it('refuses compacting at or below the compacted revision, or in the future', () => {
    const sm = fresh();
    applyAll(sm, put('a', '1'), put('a', '2'), put('a', '3'));
    expect(failed(sm, { kind: 'compact', revision: 5 }).code).toBe('FutureRevision');
    expect(ok(sm, { kind: 'compact', revision: 3 })).toEqual({
      kind: 'compact',
      revision: 4,
      compactedRevision: 3,
    });
    expect(failed(sm, { kind: 'compact', revision: 3 }).code).toBe('Compacted');
    expect(failed(sm, { kind: 'compact', revision: 2 }).code).toBe('Compacted');
    expect(sm.compactedRevision).toBe(3);
  });

  it('removes superseded versions and tombstones but keeps every read at or above the compacted revision', async () => {
    const sm = fresh({ compactionRecordsPerStep: 2 });
    applyAll(
      sm,
      put('a', '1'), // 2
      put('b', '1'), // 3
      put('a', '2'), // 4
      { kind: 'deleteRange', key: b('b') }, // 5
      put('c', '1'), // 6
      put('a', '3'), // 7
      put('b', '2'), // 8
    );
    const reads = (from: number) =>
      Array.from({ length: sm.revision - from + 1 }, (_, i) =>
        sm
          .range({ key: b('a'), rangeEnd: rangeEndAll, revision: from + i })
          .kvs.map((kv) => `${str(kv.key)}=${str(kv.value)}@${kv.modRevision}/${kv.version}`),
      );
    const before = reads(6);
    const sizeBefore = sm.status().dbSizeInUseBytes;
    ok(sm, { kind: 'compact', revision: 6 });
    await sm.compactionIdle();
    expect(sm.status().compactionPending).toBe(false);
    expect(reads(6)).toEqual(before);
    // Only versions from revision 5 on are left (5 is the latest at compacted revision - 1).
    expect(sm.readHistory(6, 100).map((r) => r.revision)).toEqual([6, 7, 8]);
    expect(sm.status().dbSizeInUseBytes).toBeLessThanOrEqual(sizeBefore);
  });
});

describe('state machine: leases', () => {
  it('grant, attach by put, revoke deletes the keys in one revision', () => {
    const sm = fresh();
    ok(sm, { kind: 'leaseGrant', id: 1, ttlSeconds: 10 });
    expect(failed(sm, { kind: 'leaseGrant', id: 1, ttlSeconds: 10 }).code).toBe('LeaseExists');
    applyAll(sm, put('a', '1', { lease: 1 }), put('b', '1', { lease: 1 }), put('c', '1'));
    expect(sm.lease(1)?.keys.map(str)).toEqual(['a', 'b']);
    // A put without the lease detaches the key.
    ok(sm, put('b', '2'));
    expect(sm.lease(1)?.keys.map(str)).toEqual(['a']);
    ok(sm, put('c', '2', { lease: 1 }));
    const revoked = ok(sm, { kind: 'leaseRevoke', id: 1 });
    expect(revoked).toEqual({ kind: 'leaseRevoke', revision: 7, deletedKeys: 2 });
    expect(sm.range({ key: b('a'), rangeEnd: rangeEndAll }).kvs.map((kv) => str(kv.key))).toEqual(['b']);
    expect(sm.lease(1)).toBeUndefined();
    expect(failed(sm, { kind: 'leaseRevoke', id: 1 }).code).toBe('LeaseNotFound');
    expect(failed(sm, put('z', '1', { lease: 1 })).code).toBe('LeaseNotFound');
  });

  it('checkpoints record the remaining TTL; expire revokes what still exists, in one revision', () => {
    const sm = fresh();
    ok(sm, { kind: 'leaseGrant', id: 1, ttlSeconds: 100 });
    ok(sm, { kind: 'leaseGrant', id: 2, ttlSeconds: 100 });
    applyAll(sm, put('a', '1', { lease: 1 }), put('b', '1', { lease: 2 }));
    ok(sm, {
      kind: 'leaseCheckpoint',
      checkpoints: [
        { id: 1, remainingTtlSeconds: 42 },
        { id: 9, remainingTtlSeconds: 1 },
      ],
    });
    expect(sm.leases()).toEqual([
      { id: 1, ttlSeconds: 100, remainingTtlSeconds: 42 },
      { id: 2, ttlSeconds: 100, remainingTtlSeconds: 0 },
    ]);
    const expired = ok(sm, { kind: 'leaseExpire', ids: [1, 2, 3, 2] });
    expect(expired).toEqual({ kind: 'leaseExpire', revision: 4, expired: [1, 2] });
    expect(sm.leases()).toEqual([]);
    expect(sm.range({ key: b('a'), rangeEnd: rangeEndAll }).count).toBe(0);
    expect(sm.readHistory(4, 10)).toHaveLength(1);
  });

  it('validates ids and TTLs', () => {
    const sm = fresh();
    expect(failed(sm, { kind: 'leaseGrant', id: 0, ttlSeconds: 10 }).code).toBe('InvalidRequest');
    expect(failed(sm, { kind: 'leaseGrant', id: 1, ttlSeconds: 0 }).code).toBe('InvalidRequest');
    expect(failed(sm, { kind: 'leaseGrant', id: 1.5, ttlSeconds: 1 }).code).toBe('InvalidRequest');
    expect(
      failed(sm, {
        kind: 'leaseExpire',
        ids: Array.from({ length: storeLimits.maxLeasesPerCommand + 1 }, (_, i) => i + 1),
      }).code,
    ).toBe('InvalidRequest');
  });
});

describe('state machine: dedup table', () => {
  it('a retried request id returns the first result without applying again', () => {
    const sm = fresh();
    const first = applyAll(sm, put('a', '1', { requestId: 'r1', prevKv: true }))[0];
    applyAll(sm, put('a', '2'));
    const retry = applyAll(sm, put('a', '1', { requestId: 'r1', prevKv: true }))[0];
    expect(retry).toEqual(first);
    expect(sm.range({ key: b('a') }).kvs.map((kv) => str(kv.value))).toEqual(['2']);
    expect(sm.revision).toBe(3);
  });

  it('a request id reused for another command is refused', () => {
    const sm = fresh();
    applyAll(sm, put('a', '1', { requestId: 'r1' }));
    expect(failed(sm, put('a', 'other', { requestId: 'r1' })).code).toBe('RequestIdReused');
    expect(sm.range({ key: b('a') }).kvs.map((kv) => str(kv.value))).toEqual(['1']);
  });

  it('errors are not remembered: a fixed retry applies', () => {
    const sm = fresh();
    expect(failed(sm, put('a', '1', { requestId: 'r1', lease: 5 })).code).toBe('LeaseNotFound');
    ok(sm, { kind: 'leaseGrant', id: 5, ttlSeconds: 10 });
    expect(ok(sm, put('a', '1', { requestId: 'r1', lease: 5 })).revision).toBe(2);
  });

  it('evicts by applied index: a retry within the window dedups, after it applies again', () => {
    const sm = fresh({ dedupWindowEntries: 5 });
    applyAll(sm, put('a', '1', { requestId: 'r1' })); // index 1
    const noops = (n: number) =>
      sm.applyBatch(
        Array.from({ length: n }, (_, i) => ({ index: sm.appliedIndex + 1 + i, data: new Uint8Array(0) })),
      );
    noops(3); // indexes 2..4
    expect(applyAll(sm, put('a', '1', { requestId: 'r1' }))[0]).toEqual({ kind: 'put', revision: 2 }); // index 5
    expect(sm.revision).toBe(2);
    noops(1); // index 6 evicts index 1
    expect(applyAll(sm, put('a', '1', { requestId: 'r1' }))[0]).toEqual({ kind: 'put', revision: 3 });
  });

  it('the window is fixed when the backend is created', async () => {
    const dir = tempDir('store-sm');
    const a = StateMachine.open({ dir, dedupWindowEntries: 2 });
    await a.close();
    const sm = StateMachine.open({ dir, dedupWindowEntries: 1000 });
    open.push(sm);
    applyAll(sm, put('a', '1', { requestId: 'r1' }));
    sm.applyBatch([2, 3].map((index) => ({ index, data: new Uint8Array(0) })));
    expect(applyAll(sm, put('a', '1', { requestId: 'r1' }))[0]).toEqual({ kind: 'put', revision: 3 });
  });

  it('a result too large to keep is answered with ResultNotKept, never applied twice', () => {
    const sm = fresh();
    const big = 'x'.repeat(storeLimits.maxDedupResultBytes + 1);
    ok(sm, put('a', big));
    applyAll(sm, put('a', '2', { requestId: 'r1', prevKv: true }));
    expect(failed(sm, put('a', '2', { requestId: 'r1', prevKv: true })).code).toBe('ResultNotKept');
    expect(sm.revision).toBe(3);
  });
});

describe('state machine: apply discipline', () => {
  it('undecodable and invalid commands give typed errors, change nothing but the applied index', () => {
    const sm = fresh();
    ok(sm, put('a', '1'));
    const before = sm.hash();
    const bad: Uint8Array[] = [
      Uint8Array.of(0xc1),
      Uint8Array.of(1, 2, 3),
      encodeResult({ kind: 'noop', revision: 1 }),
      encodeCommand({ kind: 'put', key: new Uint8Array(0), value: b('x') }),
      encodeCommand({ kind: 'put', key: b('a'.repeat(storeLimits.maxKeyBytes + 1)), value: b('x') }),
      encodeCommand({ kind: 'put', key: b('a'), value: Buffer.alloc(storeLimits.maxValueBytes + 1) }),
      encodeCommand({ kind: 'put', key: b('a'), value: 'text' as never }),
      encodeCommand({ kind: 'deleteRange', key: 5 as never }),
      encodeCommand({
        kind: 'txn',
        compare: [{ key: b('a'), target: 'size' } as never],
        success: [],
        failure: [],
      }),
      encodeCommand({ kind: 'put', key: b('a'), value: b('x'), requestId: 'r'.repeat(200) }),
    ];
    const codes = bad.map((data) => {
      const r = sm.apply(sm.appliedIndex + 1, data);
      return r.kind === 'error' ? r.code : r.kind;
    });
    expect(codes).toEqual([
      'InvalidRequest',
      'InvalidRequest',
      'InvalidRequest',
      'InvalidRequest',
      'KeyTooLarge',
      'ValueTooLarge',
      'InvalidRequest',
      'InvalidRequest',
      'InvalidRequest',
      'InvalidRequest',
    ]);
    expect(sm.appliedIndex).toBe(1 + bad.length);
    expect(sm.hash()).toEqual(before);
    const huge = new Uint8Array(storeLimits.maxRequestBytes + 1);
    expect(sm.apply(sm.appliedIndex + 1, huge)).toMatchObject({ kind: 'error', code: 'RequestTooLarge' });
  });

  it('empty entries only advance the applied index; replayed entries are ignored', () => {
    const sm = fresh();
    expect(sm.apply(1, new Uint8Array(0))).toEqual({ kind: 'noop', revision: 1 });
    expect(sm.apply(2, encodeCommand(put('a', '1')))).toEqual({ kind: 'put', revision: 2 });
    expect(sm.apply(2, encodeCommand(put('a', 'again')))).toEqual({ kind: 'alreadyApplied' });
    expect(
      sm.applyBatch([
        { index: 1, data: new Uint8Array(0) },
        { index: 2, data: encodeCommand(put('a', 'again')) },
        { index: 3, data: encodeCommand(put('b', '1')) },
      ]),
    ).toEqual([{ kind: 'alreadyApplied' }, { kind: 'alreadyApplied' }, { kind: 'put', revision: 3 }]);
    expect(sm.range({ key: b('a') }).kvs.map((kv) => str(kv.value))).toEqual(['1']);
  });

  it('a batch is all or nothing: a failure in the middle leaves none of it applied', () => {
    const sm = fresh();
    ok(sm, put('a', '1'));
    const before = { ...sm.status(), hash: sm.hash() };
    // A bug striking after the batch's first writes (injected: the second put throws).
    const original = RevisionWriter.prototype.put;
    let calls = 0;
    const spy = vi.spyOn(RevisionWriter.prototype, 'put').mockImplementation(function (
      this: RevisionWriter,
      req,
    ) {
      if (++calls === 2) throw new Error('injected failure');
      return original.call(this, req);
    });
    try {
      expect(() =>
        sm.applyBatch([
          { index: 2, data: encodeCommand(put('a', '2')) },
          { index: 3, data: encodeCommand(put('b', '2')) },
        ]),
      ).toThrow('injected failure');
    } finally {
      spy.mockRestore();
    }
    expect({ ...sm.status(), hash: sm.hash() }).toEqual(before);
    expect(sm.apply(2, encodeCommand(put('c', '1')))).toEqual({ kind: 'put', revision: 3 });
    expect(() =>
      sm.applyBatch([
        { index: 4, data: encodeCommand(put('a', '2')) },
        { index: 4, data: encodeCommand(put('b', '2')) },
      ]),
    ).toThrow(AssertionError);
  });

  it('gaps stand for entries with nothing to apply; the batch records its last index', () => {
    const sm = fresh({ dedupWindowEntries: 4 });
    expect(
      sm.applyBatch(
        [
          { index: 2, data: encodeCommand(put('a', '1', { requestId: 'r' })) },
          { index: 5, data: encodeCommand(put('b', '1')) },
        ],
        7,
      ),
    ).toEqual([
      { kind: 'put', revision: 2 },
      { kind: 'put', revision: 3 },
    ]);
    expect(sm.appliedIndex).toBe(7);
    expect(sm.applyBatch([], 9)).toEqual([]);
    expect(sm.appliedIndex).toBe(9);
    // Index 2's request id was evicted across the gaps (at index 6): it applies again.
    expect(sm.apply(10, encodeCommand(put('a', '1', { requestId: 'r' })))).toEqual({
      kind: 'put',
      revision: 4,
    });
    expect(sm.applyBatch([{ index: 9, data: encodeCommand(put('z', '1')) }], 9)).toEqual([
      { kind: 'alreadyApplied' },
    ]);
  });

  it('a batch takes one transaction and keeps every entry result', () => {
    const sm = fresh();
    const results = sm.applyBatch(
      [put('a', '1'), put('a', '2'), { kind: 'deleteRange', key: b('a') } as Command, put('b', '1')].map(
        (c, i) => ({ index: i + 1, data: encodeCommand(c) }),
      ),
    );
    expect(
      results.map((r) => (r.kind === 'error' ? r.code : `${r.kind}@${'revision' in r ? r.revision : ''}`)),
    ).toEqual(['put@2', 'put@3', 'deleteRange@4', 'put@5']);
  });

  it('state survives close and reopen without replaying anything', async () => {
    const dir = tempDir('store-sm');
    const sm = StateMachine.open({ dir });
    applyAll(sm, put('a', '1'), put('b', '2'), { kind: 'leaseGrant', id: 4, ttlSeconds: 9 });
    const before = { status: sm.status(), hash: sm.hash(), leases: sm.leases() };
    await sm.close();
    expect(() => sm.range({ key: b('a') })).toThrow(StoreUnavailableError);
    const again = StateMachine.open({ dir });
    open.push(again);
    expect({ status: again.status(), hash: again.hash(), leases: again.leases() }).toEqual(before);
    expect(again.apply(3, encodeCommand(put('x', '1')))).toEqual({ kind: 'alreadyApplied' });
  });

  it('reports metrics on the registry it is given', async () => {
    const registry = createRegistry();
    const sm = fresh({ registry, member: 'm1' });
    applyAll(sm, put('a', '1'), put('b', '1'));
    const text = await registry.metrics();
    expect(text).toMatch(/flotilla_store_applied_index\{member="m1"\} 2/);
    expect(text).toMatch(/flotilla_store_revision\{member="m1"\} 3/);
    expect(text).toMatch(/flotilla_store_db_size_bytes\{member="m1"\} [1-9]/);
    expect(text).toMatch(/flotilla_store_apply_batch_duration_seconds_count\{member="m1"\} 2/);
  });
});

describe('state machine: snapshot, restore, hash', () => {
  it('a snapshot restores into another state machine with the same hash, leases and dedup table', async () => {
    const sm = fresh();
    ok(sm, { kind: 'leaseGrant', id: 1, ttlSeconds: 30 });
    applyAll(sm, put('a', '1', { lease: 1, requestId: 'q' }), put('b', '2'), put('a', '3', { lease: 1 }));
    const path = join(tempDir('store-snap'), 'snap.db');
    const info = await sm.snapshot(path);
    expect(info).toMatchObject({ appliedIndex: 4, revision: 4 });
    const other = fresh();
    applyAll(other, put('zzz', 'to be replaced'));
    await other.restore(path);
    expect(other.hash()).toEqual(sm.hash());
    expect(other.hash(3)).toEqual(sm.hash(3));
    expect(other.status()).toMatchObject({ appliedIndex: 4, revision: 4, compactedRevision: 0 });
    expect(other.leases()).toEqual(sm.leases());
    expect(other.apply(5, encodeCommand(put('a', '1', { lease: 1, requestId: 'q' })))).toEqual({
      kind: 'put',
      revision: 2,
    });
    expect(sm.hash()).not.toEqual(fresh().hash());
  });

  it('a damaged or foreign file is refused and the state is kept', async () => {
    const sm = fresh();
    ok(sm, put('a', '1'));
    const dir = tempDir('store-snap');
    const path = join(dir, 'snap.db');
    await sm.snapshot(path);
    const before = sm.hash();
    const text = join(dir, 'text');
    writeFileSync(text, 'not a snapshot'.repeat(1000));
    await expect(sm.restore(text)).rejects.toThrow(SnapshotInvalidError);
    await expect(sm.restore(join(dir, 'missing'))).rejects.toThrow(SnapshotInvalidError);
    const damaged = join(dir, 'damaged');
    const bytes = (await import('node:fs')).readFileSync(path);
    bytes[9000] = (bytes[9000]! + 1) & 0xff;
    writeFileSync(damaged, bytes);
    await expect(sm.restore(damaged)).rejects.toThrow(/checksum/);
    expect(sm.hash()).toEqual(before);
    expect(existsSync(join(sm.dir, 'state.mdb.restore'))).toBe(false);
    expect(sm.apply(2, encodeCommand(put('b', '1')))).toEqual({ kind: 'put', revision: 3 });
  });

  it('is unavailable while restoring, and a close waits for the restore', async () => {
    const sm = fresh();
    ok(sm, put('a', '1'));
    const path = join(tempDir('store-snap'), 'snap.db');
    await sm.snapshot(path);
    ok(sm, put('a', '2'));
    const restoring = sm.restore(path);
    expect(sm.available).toBe(false);
    expect(() => sm.range({ key: b('a') })).toThrow(StoreUnavailableError);
    expect(() => sm.status()).toThrow(/being restored/);
    await restoring;
    expect(sm.available).toBe(true);
    expect(sm.range({ key: b('a') }).kvs.map((kv) => str(kv.value))).toEqual(['1']);
    const again = sm.restore(path);
    await sm.close();
    await again;
    expect(() => sm.range({ key: b('a') })).toThrow(/is closed/);
  });

  it('a hash at a revision does not change as later revisions are written', () => {
    const sm = fresh();
    ok(sm, { kind: 'leaseGrant', id: 2, ttlSeconds: 50 });
    applyAll(sm, put('a', '1'), put('b\0x', '2', { lease: 2 }), put('a', '3'));
    const then = sm.hash();
    expect(then).toMatchObject({ revision: 4, keys: 2 });
    applyAll(sm, put('c', '1'), { kind: 'deleteRange', key: b('a') }, put('b\0x', '9'));
    expect(sm.hash(4)).toEqual(then);
    expect(sm.hash().hash).not.toEqual(then.hash);
  });

  it('closing (or restoring) during a snapshot waits for the copy', async () => {
    const sm = fresh();
    applyAll(sm, ...Array.from({ length: 50 }, (_, i) => put(`k${i}`, 'x'.repeat(1000))));
    const dir = tempDir('store-snap');
    const first = sm.snapshot(join(dir, 'one'));
    const restored = first.then(() => sm.restore(join(dir, 'one')));
    const second = sm.snapshot(join(dir, 'two'));
    await Promise.all([restored, second]);
    const third = sm.snapshot(join(dir, 'three'));
    await sm.close();
    expect((await third).appliedIndex).toBe(50);
  });

  it('hash refuses compacted and future revisions', () => {
    const sm = fresh();
    applyAll(sm, put('a', '1'), put('a', '2'), { kind: 'compact', revision: 3 });
    expect(() => sm.hash(2)).toThrow(CompactedError);
    expect(() => sm.hash(4)).toThrow(FutureRevisionError);
    expect(sm.hash(3).keys).toBe(1);
  });
});
