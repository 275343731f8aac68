/**
 * API objects in the store: JSON values under the keys of keys.ts, the resourceVersion of
 * an object being its key's mod revision (never stored in the value), reads at the latest
 * revision (linearizable), at any (serializable) or at a given revision, pages of a
 * collection at one revision, transactions, and watches. Store errors leave as Status.
 */
import type { KubeObject } from '@flotilla/api';
import { requestEntityTooLarge } from '@flotilla/api';
import type {
  Compare,
  KeyValue,
  RangeResult,
  RequestOp,
  ResponseOp,
  StoreClient,
  StoreWatch,
} from '@flotilla/store';
import { FutureRevisionError, prefixEnd, toBytes } from '@flotilla/store';
import { statusOfStoreError } from './store-errors.ts';

/** An object as stored, with the revision it was written at. */
export type StoredObject = {
  readonly object: KubeObject;
  readonly modRevision: number;
  /** Bytes of the stored value: what the object costs in a reply. */
  readonly bytes: number;
};

/** How current a read must be. */
export type ReadMode =
  /** The latest revision, confirmed by the Raft leader (ReadIndex). */
  | { readonly kind: 'linearizable' }
  /** Whatever the member that answers has applied. */
  | { readonly kind: 'serializable' }
  /** Exactly this past revision (410 below the compacted revision). */
  | { readonly kind: 'at'; readonly revision: number };

export const linearizable: ReadMode = { kind: 'linearizable' };
export const serializable: ReadMode = { kind: 'serializable' };

/** An object of a page, with its key relative to the collection's prefix. */
export type PageItem = StoredObject & { readonly key: string };

export type Page = {
  readonly items: readonly PageItem[];
  /** The revision the page was read at. */
  readonly revision: number;
  /** More keys follow the page in the range. */
  readonly more: boolean;
  /** Keys in the range from the page's start, at that revision. */
  readonly count: number;
};

export type TxnOutcome = {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly responses: readonly ResponseOp[];
};

export type ObjectStoreOptions = {
  readonly client: StoreClient;
  /** Encoded objects larger than this are refused with 413 before reaching the store. */
  readonly maxObjectBytes: number;
};

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class ObjectStore {
  readonly client: StoreClient;
  readonly maxObjectBytes: number;

  constructor(options: ObjectStoreOptions) {
    this.client = options.client;
    this.maxObjectBytes = options.maxObjectBytes;
  }

  /** The stored form of an object: its JSON without resourceVersion (that is the revision). */
  encode(object: KubeObject): Uint8Array {
    const { resourceVersion: _, ...metadata } = object.metadata;
    const bytes = encoder.encode(JSON.stringify({ ...object, metadata }));
    if (bytes.byteLength > this.maxObjectBytes) throw requestEntityTooLarge(this.maxObjectBytes);
    return bytes;
  }

  /** An object from a key-value, its resourceVersion set from `revision` (the mod revision by default). */
  decode(kv: KeyValue, revision = kv.modRevision): StoredObject {
    const object = JSON.parse(decoder.decode(kv.value)) as KubeObject;
    return {
      object: { ...object, metadata: { ...object.metadata, resourceVersion: String(revision) } },
      modRevision: kv.modRevision,
      bytes: kv.value.byteLength,
    };
  }

  /** A key's value as stored (for records that are not API objects, such as allocator bitmaps). */
  async raw(key: string, mode: ReadMode = linearizable): Promise<KeyValue | undefined> {
    return (await this.rawAt(key, mode)).kv;
  }

  /** A key's value as stored, and the revision it was read at. */
  async rawAt(
    key: string,
    mode: ReadMode,
  ): Promise<{ readonly kv: KeyValue | undefined; readonly revision: number }> {
    const result = await this.range({ key: toBytes(key) }, mode);
    return { kv: result.kvs[0], revision: mode.kind === 'at' ? mode.revision : result.revision };
  }

  async get(key: string, mode: ReadMode = linearizable): Promise<StoredObject | undefined> {
    return (await this.read(key, mode)).stored;
  }

  /** An object and the revision of the store it was read at. */
  async read(
    key: string,
    mode: ReadMode = linearizable,
  ): Promise<{ readonly stored: StoredObject | undefined; readonly revision: number }> {
    const result = await this.range({ key: toBytes(key) }, mode);
    const kv = result.kvs[0];
    return {
      stored: kv === undefined ? undefined : this.decode(kv),
      revision: mode.kind === 'at' ? mode.revision : result.revision,
    };
  }

  /**
   * Up to `limitKeys` objects of a collection, in key order, starting after `after`
   * (relative to the prefix). Every page of one list passes the revision of the first.
   */
  async page(prefix: string, after: string | undefined, limitKeys: number, mode: ReadMode): Promise<Page> {
    const start = after === undefined ? toBytes(prefix) : toBytes(`${prefix}${after}\u0000`);
    const result = await this.range(
      { key: start, rangeEnd: prefixEnd(toBytes(prefix)), limit: limitKeys },
      mode,
    );
    const items = result.kvs.map((kv) => ({
      ...this.decode(kv),
      key: decoder.decode(kv.key).slice(prefix.length),
    }));
    return {
      items,
      revision: mode.kind === 'at' ? mode.revision : result.revision,
      more: result.more,
      count: result.count,
    };
  }

  /** The store's current revision, as the answering member knows it. */
  async currentRevision(mode: ReadMode = linearizable): Promise<number> {
    const result = await this.range({ key: toBytes('\u0000'), countOnly: true }, mode);
    return result.revision;
  }

  async txn(compare: readonly Compare[], success: readonly RequestOp[], failure: readonly RequestOp[]) {
    try {
      const r = await this.client.txn({ compare, success, failure });
      return { succeeded: r.succeeded, revision: r.revision, responses: r.responses } satisfies TxnOutcome;
    } catch (err) {
      throw statusOfStoreError(err, this.maxObjectBytes);
    }
  }

  /** A watch of every key under `prefix` from `startRevision`, with previous values. */
  watch(prefix: string, startRevision: number, progressNotify: boolean): StoreWatch {
    return this.client.watchPrefix(prefix, { startRevision, prevKv: true, progressNotify });
  }

  private async range(request: Parameters<StoreClient['range']>[0], mode: ReadMode): Promise<RangeResult> {
    try {
      if (mode.kind !== 'at') {
        return await this.client.range(request, { serializable: mode.kind === 'serializable' });
      }
      const at = { ...request, revision: mode.revision };
      try {
        // A revision the store has reached reads the same on every member: no ReadIndex needed.
        return await this.client.range(at, { serializable: true });
      } catch (err) {
        // That member lags behind the revision: ask the leader.
        if (err instanceof FutureRevisionError) return await this.client.range(at, { serializable: false });
        throw err;
      }
    } catch (err) {
      throw statusOfStoreError(err, this.maxObjectBytes);
    }
  }
}

/** The range response of a txn branch's op at `index`, or undefined. */
export function rangeResponse(outcome: TxnOutcome, index: number): readonly KeyValue[] | undefined {
  const r = outcome.responses[index];
  return r?.op === 'range' ? r.kvs : undefined;
}

export const keyBytes = toBytes;
