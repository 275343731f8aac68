/**
 * The local copy of one resource an informer keeps, with secondary indexes (client-go's
 * thread-safe store and Indexer): objects by key, and for each index a map from an index
 * value to the keys of the objects that produce it, so "pods on node n1" or "pods owned
 * by ReplicaSet uid u" is a lookup instead of a scan.
 */
import type { KubeObject } from '@flotilla/api';
import { keyOf } from '../resources.ts';

/** The values an object files under in one index (none to leave it out). */
export type IndexFunc<T> = (obj: T) => readonly string[];

export const namespaceIndex = 'namespace';

export class Cache<T extends KubeObject> {
  private readonly objects = new Map<string, T>();
  private readonly indexFuncs = new Map<string, IndexFunc<T>>();
  private readonly indexes = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Readonly<Record<string, IndexFunc<T>>> = {}) {
    this.addIndex(namespaceIndex, (o) => (o.metadata.namespace ? [o.metadata.namespace] : []));
    for (const [name, fn] of Object.entries(indexers)) this.addIndex(name, fn);
  }

  get size(): number {
    return this.objects.size;
  }

  /** Adds an index (a no-op if one of that name exists); existing objects are filed at once. */
  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexFuncs.has(name)) return;
    this.indexFuncs.set(name, fn);
    const index = new Map<string, Set<string>>();
    this.indexes.set(name, index);
    for (const [key, obj] of this.objects) this.file(index, fn(obj), key);
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  has(key: string): boolean {
    return this.objects.has(key);
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  values(): IterableIterator<T> {
    return this.objects.values();
  }

  /** The objects filed under `value` in index `name`. */
  byIndex(name: string, value: string): T[] {
    const keys = this.indexes.get(name)?.get(value);
    if (keys === undefined) return [];
    const out: T[] = [];
    for (const k of keys) {
      const o = this.objects.get(k);
      if (o !== undefined) out.push(o);
    }
    return out;
  }

  /** How many objects are filed under `value` in index `name`. */
  countByIndex(name: string, value: string): number {
    return this.indexes.get(name)?.get(value)?.size ?? 0;
  }

  /** Every value of index `name` that some object files under. */
  indexValues(name: string): string[] {
    return [...(this.indexes.get(name)?.keys() ?? [])];
  }

  /** Stores `obj`, returning what it replaced. */
  set(obj: T): T | undefined {
    const key = keyOf(obj);
    const prev = this.objects.get(key);
    if (prev !== undefined) this.unfileAll(prev, key);
    this.objects.set(key, obj);
    for (const [name, fn] of this.indexFuncs) this.file(this.indexes.get(name)!, fn(obj), key);
    return prev;
  }

  delete(key: string): T | undefined {
    const prev = this.objects.get(key);
    if (prev === undefined) return undefined;
    this.unfileAll(prev, key);
    this.objects.delete(key);
    return prev;
  }

  clear(): void {
    this.objects.clear();
    for (const index of this.indexes.values()) index.clear();
  }

  private file(index: Map<string, Set<string>>, values: readonly string[], key: string): void {
    for (const v of values) {
      let keys = index.get(v);
      if (keys === undefined) {
        keys = new Set();
        index.set(v, keys);
      }
      keys.add(key);
    }
  }

  private unfileAll(obj: T, key: string): void {
    for (const [name, fn] of this.indexFuncs) {
      const index = this.indexes.get(name)!;
      for (const v of fn(obj)) {
        const keys = index.get(v);
        if (keys === undefined) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(v);
      }
    }
  }
}
