import { FlotillaError } from '@flotilla/actor';
import { prefixEnd } from '../mvcc/keys.ts';
import type { KeyValue } from '../mvcc/types.ts';
import { bytesToString, type StoreClient, toBytes } from './store-client.ts';

/** More candidates than an election scans at once. */
const maxCandidates = 1_000;

export class NotElectedError extends FlotillaError {
  constructor(message = 'this session is not the elected one') {
    super('NotElected', message);
  }
}

/**
 * Leader election on the store, as etcd's concurrency package does it: each candidate
 * writes `<prefix>/<lease id>` attached to its lease; the candidate whose key has the
 * lowest create revision leads; the others each wait for the deletion of the key just
 * before theirs (no thundering herd). A candidate that dies loses its lease, so its key
 * goes and the next one leads.
 */
export class Election {
  private readonly client: StoreClient;
  private readonly prefix: string;
  private ownKey: string | undefined;
  private ownRevision = 0;

  constructor(client: StoreClient, prefix: string) {
    this.client = client;
    this.prefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  /** Resolves once this candidate (on lease `leaseId`) leads. `signal` aborts the wait. */
  async campaign(value: string, leaseId: number, signal?: AbortSignal): Promise<void> {
    const key = `${this.prefix}${leaseId.toString(16)}`;
    const k = toBytes(key);
    const r = await this.client.txn({
      compare: [{ key: k, target: 'create', createRevision: 0, result: '=' }],
      success: [{ op: 'put', key: k, value: toBytes(value), lease: leaseId }],
      failure: [{ op: 'range', key: k }],
    });
    this.ownKey = key;
    if (r.succeeded) this.ownRevision = r.revision;
    else {
      const existing = r.responses[0];
      const kv = existing?.op === 'range' ? existing.kvs[0] : undefined;
      this.ownRevision = kv?.createRevision ?? r.revision;
      if (kv && bytesToString(kv.value) !== value) await this.proclaim(value);
    }
    await this.waitForPredecessors(signal);
  }

  /** Change the leader's value (only while leading). */
  async proclaim(value: string): Promise<void> {
    if (!this.ownKey) throw new NotElectedError();
    const k = toBytes(this.ownKey);
    const r = await this.client.txn({
      compare: [{ key: k, target: 'create', createRevision: this.ownRevision, result: '=' }],
      success: [{ op: 'put', key: k, value: toBytes(value), ignoreLease: true }],
      failure: [],
    });
    if (!r.succeeded) throw new NotElectedError('the campaign key is gone (lease lost?)');
  }

  /** Give up leadership (or candidacy). */
  async resign(): Promise<void> {
    if (!this.ownKey) return;
    await this.client.delete(this.ownKey);
    this.ownKey = undefined;
    this.ownRevision = 0;
  }

  /** The current leader's key and value, if there is one. */
  async leader(): Promise<KeyValue | undefined> {
    const r = await this.client.getPrefix(this.prefix, {
      sortTarget: 'create',
      sortOrder: 'ascend',
      limit: 1,
    });
    return r.kvs[0];
  }

  /**
   * The leader's value each time it changes (undefined while there is none), until the
   * iterator is closed.
   */
  async *observe(signal?: AbortSignal): AsyncGenerator<string | undefined> {
    // Keep the candidates locally from one read plus the watch from that revision, so
    // every leader value is seen, even one that lasts a single revision.
    const key = toBytes(this.prefix);
    const first = await this.client.range({ key, rangeEnd: prefixEnd(key), limit: maxCandidates });
    const candidates = new Map<string, { createRevision: number; value: string }>();
    for (const kv of first.kvs)
      candidates.set(bytesToString(kv.key), {
        createRevision: kv.createRevision,
        value: bytesToString(kv.value),
      });
    const leaderValue = () => {
      let best: { createRevision: number; value: string } | undefined;
      for (const c of candidates.values()) if (!best || c.createRevision < best.createRevision) best = c;
      return best?.value;
    };
    const w = this.client.watchPrefix(this.prefix, { startRevision: first.revision + 1 });
    signal?.addEventListener('abort', () => w.cancel(), { once: true });
    try {
      let last = leaderValue();
      yield last;
      for await (const r of w) {
        if (r.kind !== 'events') continue;
        for (const e of r.events) {
          const k = bytesToString(e.kv.key);
          if (e.type === 'delete') candidates.delete(k);
          else candidates.set(k, { createRevision: e.kv.createRevision, value: bytesToString(e.kv.value) });
        }
        const value = leaderValue();
        if (value !== last) {
          last = value;
          yield value;
        }
      }
    } finally {
      w.cancel();
    }
  }

  private async waitForPredecessors(signal?: AbortSignal): Promise<void> {
    const key = toBytes(this.prefix);
    for (;;) {
      signal?.throwIfAborted();
      const r = await this.client.range({
        key,
        rangeEnd: prefixEnd(key),
        sortTarget: 'create',
        sortOrder: 'ascend',
        limit: maxCandidates,
      });
      const before = r.kvs.filter((kv) => kv.createRevision < this.ownRevision);
      const own = r.kvs.find((kv) => kv.createRevision === this.ownRevision);
      if (!own) throw new NotElectedError('the campaign key is gone (lease lost?)');
      const predecessor = before.at(-1);
      if (!predecessor) return;
      // Wait for that one key to go; from the revision we read at, so no deletion is missed.
      const w = this.client.watch({ key: predecessor.key, startRevision: r.revision + 1 });
      const onAbort = () => w.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const resp of w) {
          if (resp.kind === 'events' && resp.events.some((e) => e.type === 'delete')) break;
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
        w.cancel();
      }
    }
  }
}

/** A distributed lock: an election whose value does not matter. */
export class Mutex {
  private readonly election: Election;

  constructor(client: StoreClient, prefix: string) {
    this.election = new Election(client, prefix);
  }

  lock(leaseId: number, signal?: AbortSignal): Promise<void> {
    return this.election.campaign('', leaseId, signal);
  }

  unlock(): Promise<void> {
    return this.election.resign();
  }
}
