import { join } from 'node:path';
import { assertNever } from '@flotilla/actor';
import { tempDir } from '@flotilla/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommand } from './commands.ts';
import { StoreError } from './errors.ts';
import { normalize, ReferenceKv } from './reference-model.ts';
import { StateMachine } from './state-machine.ts';
import type { Command, Compare, RangeRequest, RequestOp } from './types.ts';

/**
 * Model-based test: random sequences of writes, reads at random revisions, compactions,
 * lease operations, retries, reopen and snapshot/restore, each applied to the state machine
 * and to the naive reference model, with results and whole states compared after every step.
 */

const dedupWindowEntries = 6;
const keyNames = ['a', 'a\0', 'a\0b', 'ab', 'b', 'c', '\xff'];

type Model = {
  ref: ReferenceKv;
  /** Commands issued with a request id, for retries. */
  issued: Command[];
  nextRequestId: number;
  snapshots: { path: string; ref: ReferenceKv }[];
};
type Real = { sm: StateMachine; step: number };

const bytes = (s: string) => Buffer.from(s, 'latin1');
const all = { key: bytes('\0'), rangeEnd: bytes('\0') };

function checkState(m: Model, r: Real): void {
  const { sm } = r;
  r.step++;
  expect({ applied: sm.appliedIndex, revision: sm.revision, compacted: sm.compactedRevision }).toEqual({
    applied: m.ref.appliedIndex,
    revision: m.ref.revision,
    compacted: m.ref.compactedRevision,
  });
  expect(normalize(sm.range(all))).toEqual(m.ref.range(all));
  const low = Math.max(m.ref.compactedRevision, 1);
  const span = m.ref.revision - low + 1;
  for (const rev of new Set([low, m.ref.revision - 1, low + (r.step % span)])) {
    if (rev < low) continue;
    expect(normalize(sm.range({ ...all, revision: rev })), `range at revision ${rev}`).toEqual(
      m.ref.range({ ...all, revision: rev }),
    );
  }
  const leases = sm
    .leases()
    .map((l) => ({ ...l, keys: sm.lease(l.id)!.keys.map((k) => Buffer.from(k).toString('latin1')) }));
  expect(leases).toEqual(m.ref.leaseView());
}

function applyBoth(m: Model, r: Real, command: Command | 'noop' | 'garbage'): void {
  const data =
    command === 'noop'
      ? new Uint8Array(0)
      : command === 'garbage'
        ? Uint8Array.of(0x93, 1)
        : encodeCommand(command);
  const got = normalize(r.sm.apply(r.sm.appliedIndex + 1, data));
  const want = m.ref.apply(command);
  expect(
    got,
    JSON.stringify(command === 'noop' || command === 'garbage' ? command : normalize(command)),
  ).toEqual(want);
  checkState(m, r);
}

class ApplyCmd implements fc.AsyncCommand<Model, Real> {
  readonly command: Command;
  readonly withRequestId: boolean;
  constructor(command: Command, withRequestId: boolean) {
    this.command = command;
    this.withRequestId = withRequestId;
  }
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    let command = this.command;
    if (this.withRequestId) {
      command = { ...command, requestId: `req-${m.nextRequestId++}` };
      m.issued.push(command);
    }
    applyBoth(m, r, command);
  }
  toString = () => `apply(${JSON.stringify(normalize(this.command))}${this.withRequestId ? ', id' : ''})`;
}

/** Compact to this many revisions back from the current one. */
class CompactCmd implements fc.AsyncCommand<Model, Real> {
  readonly back: number;
  constructor(back: number) {
    this.back = back;
  }
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    applyBoth(m, r, { kind: 'compact', revision: Math.max(1, m.ref.revision - this.back) });
  }
  toString = () => `compact(back ${this.back})`;
}

class RetryCmd implements fc.AsyncCommand<Model, Real> {
  readonly pick: number;
  constructor(pick: number) {
    this.pick = pick;
  }
  check = (m: Readonly<Model>) => m.issued.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    applyBoth(m, r, m.issued[this.pick % m.issued.length]!);
  }
  toString = () => `retry(${this.pick})`;
}

class ReuseCmd implements fc.AsyncCommand<Model, Real> {
  readonly pick: number;
  constructor(pick: number) {
    this.pick = pick;
  }
  check = (m: Readonly<Model>) => m.issued.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const requestId = m.issued[this.pick % m.issued.length]!.requestId!;
    applyBoth(m, r, { kind: 'put', key: bytes('b'), value: bytes(`reuse-${m.nextRequestId++}`), requestId });
  }
  toString = () => `reuse(${this.pick})`;
}

class EntryCmd implements fc.AsyncCommand<Model, Real> {
  readonly entry: 'noop' | 'garbage';
  constructor(entry: 'noop' | 'garbage') {
    this.entry = entry;
  }
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    applyBoth(m, r, this.entry);
  }
  toString = () => this.entry;
}

/** Entries the driver does not hand over (no-ops, configuration changes): only the index moves. */
class GapCmd implements fc.AsyncCommand<Model, Real> {
  readonly entries: number;
  constructor(entries: number) {
    this.entries = entries;
  }
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    expect(r.sm.applyBatch([], r.sm.appliedIndex + this.entries)).toEqual([]);
    m.ref.appliedIndex += this.entries;
    checkState(m, r);
  }
  toString = () => `gap(${this.entries})`;
}

class RangeCmd implements fc.AsyncCommand<Model, Real> {
  readonly req: RangeRequest;
  /** Read this many revisions back from the current one (absolute `req.revision` if undefined). */
  readonly back: number | undefined;
  constructor(req: RangeRequest, back: number | undefined) {
    this.req = req;
    this.back = back;
  }
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const req =
      this.back === undefined ? this.req : { ...this.req, revision: Math.max(1, m.ref.revision - this.back) };
    let want: unknown;
    try {
      want = m.ref.range(req);
    } catch (err) {
      want = { error: (err as { code: string }).code };
    }
    let got: unknown;
    try {
      got = normalize(r.sm.range(req));
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      got = { error: err.code };
    }
    expect(got).toEqual(want);
  }
  toString = () => `range(${JSON.stringify(normalize(this.req))}, back ${this.back})`;
}

/** Let physical compaction run a few steps between operations. */
class YieldCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    checkState(m, r);
  }
  toString = () => 'yield';
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const dir = r.sm.dir;
    await r.sm.close();
    r.sm = StateMachine.open({ dir, dedupWindowEntries, compactionRecordsPerStep: 2 });
    checkState(m, r);
  }
  toString = () => 'reopen';
}

/** Snapshot, then carry on with a fresh member restored from it (same hashes). */
class SnapshotCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const path = join(tempDir('store-model-snap'), 'snap');
    const info = await r.sm.snapshot(path);
    expect(info.appliedIndex).toBe(m.ref.appliedIndex);
    m.snapshots.push({ path, ref: m.ref.clone() });
    const fresh = StateMachine.open({ dir: tempDir('store-model'), compactionRecordsPerStep: 2 });
    await fresh.restore(path);
    for (const rev of [0, Math.max(1, m.ref.compactedRevision)])
      expect(fresh.hash(rev)).toEqual(r.sm.hash(rev));
    await r.sm.close();
    r.sm = fresh;
    checkState(m, r);
  }
  toString = () => 'snapshot';
}

/** Restore an earlier snapshot into the running state machine: the state goes back to it. */
class RollbackCmd implements fc.AsyncCommand<Model, Real> {
  readonly pick: number;
  constructor(pick: number) {
    this.pick = pick;
  }
  check = (m: Readonly<Model>) => m.snapshots.length > 0;
  async run(m: Model, r: Real): Promise<void> {
    const snap = m.snapshots[this.pick % m.snapshots.length]!;
    await r.sm.restore(snap.path);
    m.ref = snap.ref.clone();
    checkState(m, r);
  }
  toString = () => `rollback(${this.pick})`;
}

const key = fc.constantFrom(...keyNames).map(bytes);
const rangeEnd = fc.option(fc.constantFrom(...keyNames, '\0').map(bytes), { nil: undefined });
const value = fc.string({ maxLength: 3 }).map((s) => bytes(s));
const lease = fc.constantFrom(0, 0, 0, 0, 0, 0, 1, 2, 3);
const revision = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 45 }));

const putOp = fc
  .record({
    key,
    value,
    lease,
    prevKv: fc.boolean(),
    ignore: fc.constantFrom(...Array(10).fill('none'), 'value', 'lease'),
  })
  .map(({ ignore, ...p }) =>
    ignore === 'value'
      ? { key: p.key, value: new Uint8Array(0), lease: p.lease, prevKv: p.prevKv, ignoreValue: true }
      : ignore === 'lease'
        ? { key: p.key, value: p.value, prevKv: p.prevKv, ignoreLease: true }
        : p,
  );
const deleteOp = fc.record({ key, rangeEnd, prevKv: fc.boolean() });
const rangeReq: fc.Arbitrary<RangeRequest> = fc.record({
  key,
  rangeEnd,
  limit: fc.nat(3),
  revision,
  keysOnly: fc.boolean(),
  countOnly: fc.boolean(),
  sortOrder: fc.constantFrom('none', 'ascend', 'descend'),
  sortTarget: fc.constantFrom('key', 'key', 'version', 'create', 'mod', 'value'),
});
const compare: fc.Arbitrary<Compare> = fc
  .record({
    key,
    rangeEnd: fc.option(fc.constantFrom('b', 'c', '\0').map(bytes), { nil: undefined }),
    result: fc.constantFrom('=', '!=', '<', '>'),
    target: fc.constantFrom('value', 'version', 'create', 'mod', 'lease'),
    n: fc.nat(6),
    v: value,
  })
  .map(({ target, n, v, ...rest }): Compare => {
    switch (target) {
      case 'value':
        return { ...rest, target, value: v };
      case 'version':
        return { ...rest, target, version: n };
      case 'create':
        return { ...rest, target, createRevision: n };
      case 'mod':
        return { ...rest, target, modRevision: n };
      case 'lease':
        return { ...rest, target, lease: n % 4 };
      default:
        return assertNever(target, 'compare target');
    }
  });

const leafOp: fc.Arbitrary<RequestOp> = fc.oneof(
  putOp.map((p) => ({ op: 'put' as const, ...p })),
  deleteOp.map((d) => ({ op: 'deleteRange' as const, ...d })),
  rangeReq.map((q) => ({ op: 'range' as const, ...q })),
);
const nestedOp: fc.Arbitrary<RequestOp> = fc
  .record({
    compare: fc.array(compare, { maxLength: 2 }),
    success: fc.array(leafOp, { maxLength: 2 }),
    failure: fc.array(leafOp, { maxLength: 2 }),
  })
  .map((t) => ({ op: 'txn' as const, ...t }));

/** Drop ops that would break etcd's one-version-per-key rule (a stricter rule than the store's). */
function distinctKeys(
  ops: readonly RequestOp[],
  seen = { puts: new Set<string>(), dels: [] as RequestOp[] },
): RequestOp[] {
  const out: RequestOp[] = [];
  const covers = (d: RequestOp, k: string) => {
    if (d.op !== 'deleteRange') return false;
    const start = Buffer.from(d.key).toString('latin1');
    const end = d.rangeEnd && Buffer.from(d.rangeEnd).toString('latin1');
    return end === undefined ? k === start : k >= start && (end === '\0' || k < end);
  };
  const putKeys = (o: RequestOp): string[] =>
    o.op === 'put'
      ? [Buffer.from(o.key).toString('latin1')]
      : o.op === 'txn'
        ? [...o.success, ...o.failure].flatMap(putKeys)
        : [];
  const dels = (o: RequestOp): RequestOp[] =>
    o.op === 'deleteRange' ? [o] : o.op === 'txn' ? [...o.success, ...o.failure].flatMap(dels) : [];
  for (const op of ops) {
    const keys = putKeys(op);
    const newDels = dels(op);
    const clash =
      keys.some((k) => seen.puts.has(k) || seen.dels.some((d) => covers(d, k))) ||
      new Set(keys).size !== keys.length ||
      newDels.some((d) => [...seen.puts, ...keys].some((k) => covers(d, k)));
    if (clash) continue;
    for (const k of keys) seen.puts.add(k);
    seen.dels.push(...newDels);
    out.push(op);
  }
  return out;
}

const txnCommand = fc
  .record({
    compare: fc.array(compare, { maxLength: 2 }),
    success: fc.array(fc.oneof({ weight: 4, arbitrary: leafOp }, { weight: 1, arbitrary: nestedOp }), {
      maxLength: 3,
    }),
    failure: fc.array(leafOp, { maxLength: 3 }),
  })
  .map(
    (t): Command => ({
      kind: 'txn',
      compare: t.compare,
      success: distinctKeys(t.success),
      failure: distinctKeys(t.failure),
    }),
  );

const writeCommand: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: putOp.map((p): Command => ({ kind: 'put', ...p })) },
  { weight: 2, arbitrary: deleteOp.map((d): Command => ({ kind: 'deleteRange', ...d })) },
  { weight: 3, arbitrary: txnCommand },
  {
    weight: 2,
    arbitrary: fc
      .record({ id: fc.integer({ min: 1, max: 3 }), ttl: fc.integer({ min: 1, max: 100 }) })
      .map(({ id, ttl }): Command => ({ kind: 'leaseGrant', id, ttlSeconds: ttl })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 4 }).map((id): Command => ({ kind: 'leaseRevoke', id })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.record({ id: fc.integer({ min: 1, max: 4 }), remainingTtlSeconds: fc.nat(100) }), {
        maxLength: 2,
      })
      .map((checkpoints): Command => ({ kind: 'leaseCheckpoint', checkpoints })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 })
      .map((ids): Command => ({ kind: 'leaseExpire', ids })),
  },
);

const apply = fc
  .tuple(writeCommand, fc.boolean())
  .map(([c, id]): fc.AsyncCommand<Model, Real> => new ApplyCmd(c, id));
const commands = fc.commands(
  [
    fc.oneof(
      { weight: 20, arbitrary: apply },
      {
        weight: 4,
        arbitrary: fc
          .tuple(rangeReq, fc.option(fc.nat(8), { nil: undefined }))
          .map(([q, back]) => new RangeCmd(q, back)),
      },
      { weight: 2, arbitrary: fc.nat(6).map((n) => new CompactCmd(n)) },
      { weight: 2, arbitrary: fc.nat().map((n) => new RetryCmd(n)) },
      { weight: 1, arbitrary: fc.nat().map((n) => new ReuseCmd(n)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('noop', 'garbage').map((e) => new EntryCmd(e as 'noop' | 'garbage')),
      },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => new GapCmd(n)) },
      { weight: 2, arbitrary: fc.constant(new YieldCmd()) },
      { weight: 1, arbitrary: fc.constant(new ReopenCmd()) },
      { weight: 1, arbitrary: fc.constant(new SnapshotCmd()) },
      { weight: 1, arbitrary: fc.nat().map((n) => new RollbackCmd(n)) },
    ),
  ],
  { maxCommands: 80, size: 'max' },
);

describe('state machine against the reference model', () => {
  it('agrees on every result and every state, through reopen and snapshot/restore', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const real: Real = {
          sm: StateMachine.open({
            dir: tempDir('store-model'),
            dedupWindowEntries,
            compactionRecordsPerStep: 2,
          }),
          step: 0,
        };
        const model: Model = {
          ref: new ReferenceKv(dedupWindowEntries),
          issued: [],
          nextRequestId: 1,
          snapshots: [],
        };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // Every retained revision, once more, at the end.
          for (let rev = Math.max(1, model.ref.compactedRevision); rev <= model.ref.revision; rev++) {
            expect(normalize(real.sm.range({ ...all, revision: rev }))).toEqual(
              model.ref.range({ ...all, revision: rev }),
            );
          }
        } finally {
          await real.sm.close();
        }
      }),
      { numRuns: 25 },
    );
  }, 180_000);
});
