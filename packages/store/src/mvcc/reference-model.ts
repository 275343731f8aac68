import { assertNever } from '@flotilla/actor';
import type {
  Command,
  Compare,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from './types.ts';

/**
 * A deliberately naive in-memory model of the store's semantics, for the model-based test:
 * the whole history as a list, state at a revision by replaying it, keys as latin-1
 * strings (which compare exactly like bytes). It shares no code with the state machine.
 * Results come out "normalized": bytes as latin-1 strings, absent fields omitted.
 */

export type MKv = {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: number;
};

type Event = { readonly revision: number; readonly key: string; readonly kv: MKv | undefined };

/** A refusal: the model's version of an error result (compared by code). */
class Refused extends Error {
  readonly code: string;
  constructor(code: string) {
    super(code);
    this.code = code;
  }
}

export const latin1 = (u: Uint8Array): string => Buffer.from(u).toString('latin1');

type Range = { readonly start: string; readonly end: string | undefined; readonly single: boolean };

function toRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): Range {
  const start = latin1(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: undefined, single: true };
  const end = latin1(rangeEnd);
  return { start, end: end === '\0' ? undefined : end, single: false };
}

function inRange(k: string, r: Range): boolean {
  if (r.single) return k === r.start;
  return k >= r.start && (r.end === undefined || k < r.end);
}

type Normalized = unknown;

export class ReferenceKv {
  revision = 1;
  compactedRevision = 0;
  appliedIndex = 0;
  private events: Event[] = [];
  private live = new Map<string, MKv>();
  private leases = new Map<number, { ttlSeconds: number; remainingTtlSeconds: number }>();
  private dedup = new Map<string, { index: number; command: string; result: Normalized }>();
  private readonly dedupWindowEntries: number;

  constructor(dedupWindowEntries: number) {
    this.dedupWindowEntries = dedupWindowEntries;
  }

  clone(): ReferenceKv {
    const c = new ReferenceKv(this.dedupWindowEntries);
    c.revision = this.revision;
    c.compactedRevision = this.compactedRevision;
    c.appliedIndex = this.appliedIndex;
    c.events = [...this.events];
    c.live = new Map(this.live);
    c.leases = new Map([...this.leases].map(([id, l]) => [id, { ...l }]));
    c.dedup = new Map(this.dedup);
    return c;
  }

  stateAt(revision: number): Map<string, MKv> {
    const state = new Map<string, MKv>();
    for (const e of this.events) {
      if (e.revision > revision) break;
      if (e.kv === undefined) state.delete(e.key);
      else state.set(e.key, e.kv);
    }
    return state;
  }

  /** Leases as the store lists them, with their attached keys. */
  leaseView(): { id: number; ttlSeconds: number; remainingTtlSeconds: number; keys: string[] }[] {
    return [...this.leases.entries()]
      .sort(([a], [b]) => a - b)
      .map(([id, l]) => ({
        id,
        ...l,
        keys: [...this.live.values()]
          .filter((kv) => kv.lease === id)
          .map((kv) => kv.key)
          .sort(),
      }));
  }

  /** Apply a command as the next entry; `undefined` is an undecodable entry. */
  apply(command: Command | 'noop' | 'garbage'): Normalized {
    this.appliedIndex++;
    if (command === 'noop') return { kind: 'noop', revision: this.revision };
    if (command === 'garbage') return { kind: 'error', code: 'InvalidRequest' };
    const { requestId, ...rest } = command;
    if (requestId !== undefined) {
      for (const [id, d] of this.dedup)
        if (d.index <= this.appliedIndex - this.dedupWindowEntries) this.dedup.delete(id);
      const seen = this.dedup.get(requestId);
      const shape = JSON.stringify(rest, (_, v) => (v?.type === 'Buffer' ? latin1(Buffer.from(v.data)) : v));
      if (seen !== undefined) {
        return seen.command === shape ? seen.result : { kind: 'error', code: 'RequestIdReused' };
      }
      const result = this.execute(command);
      if ((result as { kind: string }).kind !== 'error') {
        this.dedup.set(requestId, { index: this.appliedIndex, command: shape, result });
      }
      return result;
    }
    return this.execute(command);
  }

  private execute(command: Command): Normalized {
    const before = {
      revision: this.revision,
      compactedRevision: this.compactedRevision,
      events: this.events.length,
      live: new Map(this.live),
      leases: new Map([...this.leases].map(([id, l]) => [id, { ...l }])),
    };
    try {
      return this.run(command);
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      // A refused command changes nothing.
      this.revision = before.revision;
      this.compactedRevision = before.compactedRevision;
      this.events.length = before.events;
      this.live = before.live;
      this.leases = before.leases;
      return { kind: 'error', code: err.code };
    }
  }

  private run(command: Command): Normalized {
    const w = new Write(this, this.revision + 1);
    switch (command.kind) {
      case 'put': {
        this.checkPut(command);
        const prevKv = w.put(command);
        return { kind: 'put', revision: w.done(), ...(prevKv && { prevKv }) };
      }
      case 'deleteRange': {
        const { deleted, prevKvs } = w.deleteRange(command);
        return { kind: 'deleteRange', revision: w.done(), deleted, ...(command.prevKv && { prevKvs }) };
      }
      case 'txn': {
        const path = this.path(command);
        this.checkPath(path);
        const responses = this.runPath(path, w);
        return { kind: 'txn', revision: w.done(), succeeded: path.succeeded, responses };
      }
      case 'compact': {
        if (command.revision <= this.compactedRevision) throw new Refused('Compacted');
        if (command.revision > this.revision) throw new Refused('FutureRevision');
        this.compactedRevision = command.revision;
        return { kind: 'compact', revision: this.revision, compactedRevision: command.revision };
      }
      case 'leaseGrant': {
        if (this.leases.has(command.id)) throw new Refused('LeaseExists');
        this.leases.set(command.id, { ttlSeconds: command.ttlSeconds, remainingTtlSeconds: 0 });
        return {
          kind: 'leaseGrant',
          revision: this.revision,
          id: command.id,
          ttlSeconds: command.ttlSeconds,
        };
      }
      case 'leaseRevoke': {
        if (!this.leases.has(command.id)) throw new Refused('LeaseNotFound');
        const deletedKeys = this.revoke(command.id, w);
        return { kind: 'leaseRevoke', revision: w.done(), deletedKeys };
      }
      case 'leaseCheckpoint': {
        for (const cp of command.checkpoints) {
          const l = this.leases.get(cp.id);
          if (l) l.remainingTtlSeconds = cp.remainingTtlSeconds;
        }
        return { kind: 'leaseCheckpoint', revision: this.revision };
      }
      case 'leaseExpire': {
        const expired: number[] = [];
        for (const id of new Set(command.ids)) {
          if (!this.leases.has(id)) continue;
          this.revoke(id, w);
          expired.push(id);
        }
        return { kind: 'leaseExpire', revision: w.done(), expired };
      }
      default:
        return assertNever(command, 'command');
    }
  }

  private revoke(id: number, w: Write): number {
    const keys = [...this.live.values()]
      .filter((kv) => kv.lease === id)
      .map((kv) => kv.key)
      .sort();
    for (const k of keys) w.deleteKey(k);
    this.leases.delete(id);
    return keys.length;
  }

  private checkPut(req: PutRequest): void {
    const k = latin1(req.key);
    if ((req.ignoreValue || req.ignoreLease) && !this.live.has(k)) throw new Refused('KeyNotFound');
    if (req.lease && !this.leases.has(req.lease)) throw new Refused('LeaseNotFound');
  }

  private compare(c: Compare): boolean {
    const r = toRange(c.key, c.rangeEnd);
    const kvs = [...this.live.values()].filter((kv) => inRange(kv.key, r));
    const one = (kv: MKv | undefined): boolean => {
      let a: number | string;
      let b: number | string;
      switch (c.target) {
        case 'value':
          if (kv === undefined) return false;
          a = kv.value;
          b = latin1(c.value);
          break;
        case 'version':
          a = kv?.version ?? 0;
          b = c.version;
          break;
        case 'create':
          a = kv?.createRevision ?? 0;
          b = c.createRevision;
          break;
        case 'mod':
          a = kv?.modRevision ?? 0;
          b = c.modRevision;
          break;
        case 'lease':
          a = kv?.lease ?? 0;
          b = c.lease;
          break;
        default:
          return assertNever(c, 'compare target');
      }
      switch (c.result) {
        case '=':
          return a === b;
        case '!=':
          return a !== b;
        case '<':
          return a < b;
        case '>':
          return a > b;
        default:
          return assertNever(c.result, 'compare result');
      }
    };
    return kvs.length === 0 ? one(undefined) : kvs.every(one);
  }

  private path(txn: TxnRequest): ModelPath {
    const succeeded = txn.compare.every((c) => this.compare(c));
    const ops = succeeded ? txn.success : txn.failure;
    return { succeeded, ops, nested: ops.filter((o) => o.op === 'txn').map((o) => this.path(o)) };
  }

  private checkPath(path: ModelPath): void {
    let n = 0;
    for (const op of path.ops) {
      if (op.op === 'put') this.checkPut(op);
      if (op.op === 'range') this.checkRevision(op.revision ?? 0);
      if (op.op === 'txn') this.checkPath(path.nested[n++]!);
    }
  }

  checkRevision(revision: number): void {
    if (revision > this.revision) throw new Refused('FutureRevision');
    if (revision > 0 && revision < this.compactedRevision) throw new Refused('Compacted');
  }

  private runPath(path: ModelPath, w: Write): Normalized[] {
    let n = 0;
    return path.ops.map((op: RequestOp): Normalized => {
      switch (op.op) {
        case 'put': {
          const prevKv = w.put(op);
          return { op: 'put', ...(prevKv && { prevKv }) };
        }
        case 'deleteRange': {
          const { deleted, prevKvs } = w.deleteRange(op);
          return { op: 'deleteRange', deleted, ...(op.prevKv && { prevKvs }) };
        }
        case 'range': {
          const state = op.revision ? this.stateAt(op.revision) : this.live;
          return { op: 'range', ...rangeOf(state, op) };
        }
        case 'txn': {
          const sub = path.nested[n++]!;
          return { op: 'txn', succeeded: sub.succeeded, responses: this.runPath(sub, w) };
        }
        default:
          return assertNever(op, 'request op');
      }
    });
  }

  /** Range as the store serves it (throws Refused like the store's typed errors). */
  range(req: RangeRequest): Normalized {
    this.checkRevision(req.revision ?? 0);
    const state = req.revision ? this.stateAt(req.revision) : this.live;
    return { revision: this.revision, ...rangeOf(state, req) };
  }

  /** Internal access for Write. */
  record(e: Event): void {
    this.events.push(e);
    if (e.kv === undefined) this.live.delete(e.key);
    else this.live.set(e.key, e.kv);
  }

  get liveState(): ReadonlyMap<string, MKv> {
    return this.live;
  }
}

type ModelPath = { succeeded: boolean; ops: readonly RequestOp[]; nested: ModelPath[] };

/** The writes of one entry, all at revision `revision` (taken only if something is written). */
class Write {
  private readonly m: ReferenceKv;
  readonly revision: number;
  private wrote = false;
  constructor(m: ReferenceKv, revision: number) {
    this.m = m;
    this.revision = revision;
  }

  put(req: PutRequest): MKv | undefined {
    const key = latin1(req.key);
    const prev = this.m.liveState.get(key);
    const kv: MKv = {
      key,
      value: req.ignoreValue ? prev!.value : latin1(req.value),
      createRevision: prev?.createRevision ?? this.revision,
      modRevision: this.revision,
      version: (prev?.version ?? 0) + 1,
      lease: req.ignoreLease ? prev!.lease : (req.lease ?? 0),
    };
    this.m.record({ revision: this.revision, key, kv });
    this.wrote = true;
    return req.prevKv ? prev : undefined;
  }

  deleteRange(req: DeleteRangeRequest): { deleted: number; prevKvs: MKv[] } {
    const r = toRange(req.key, req.rangeEnd);
    const victims = [...this.m.liveState.values()].filter((kv) => inRange(kv.key, r)).sort(byKey);
    for (const kv of victims) this.deleteKey(kv.key);
    return { deleted: victims.length, prevKvs: victims };
  }

  deleteKey(key: string): void {
    this.m.record({ revision: this.revision, key, kv: undefined });
    this.wrote = true;
  }

  /** The store's revision after this entry. */
  done(): number {
    if (this.wrote) this.m.revision = this.revision;
    return this.m.revision;
  }
}

function byKey(a: MKv, b: MKv): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function rangeOf(
  state: ReadonlyMap<string, MKv>,
  req: RangeRequest,
): { kvs: MKv[]; more: boolean; count: number } {
  const r = toRange(req.key, req.rangeEnd);
  const all = [...state.values()].filter((kv) => inRange(kv.key, r)).sort(byKey);
  if (req.countOnly) return { kvs: [], more: false, count: all.length };
  const target = req.sortTarget ?? 'key';
  const dir = req.sortOrder === 'descend' ? -1 : 1;
  const field = (kv: MKv): number | string =>
    target === 'key'
      ? kv.key
      : target === 'value'
        ? kv.value
        : target === 'version'
          ? kv.version
          : target === 'create'
            ? kv.createRevision
            : kv.modRevision;
  const sorted = [...all].sort((a, b) => {
    const x = field(a);
    const y = field(b);
    return (x < y ? -1 : x > y ? 1 : 0) * dir;
  });
  const limited = req.limit ? sorted.slice(0, req.limit) : sorted;
  const kvs = req.keysOnly ? limited.map((kv) => ({ ...kv, value: '' })) : limited;
  return { kvs, more: limited.length < all.length, count: all.length };
}

/** Bytes to latin-1 strings and undefined fields dropped, for comparing with the model. */
export function normalize(x: unknown): unknown {
  if (x instanceof Uint8Array) return latin1(x);
  if (Array.isArray(x)) return x.map(normalize);
  if (typeof x === 'object' && x !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) {
      if (v === undefined) continue;
      if (k === 'message' || k === 'data') continue; // errors compare by code
      out[k] = normalize(v);
    }
    return out;
  }
  return x;
}
