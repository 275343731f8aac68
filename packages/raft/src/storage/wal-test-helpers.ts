import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Entry } from '../core/types.ts';

/** Test helpers shared by the storage tests (not part of the public surface). */

/** Entry data derived from index and term, so any recovered entry can be checked by itself. */
export function entryData(index: number, term: number, bytes = 64): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return data;
}

export function entry(index: number, term: number, bytes = 64): Entry {
  return { index, term, type: 'normal', data: entryData(index, term, bytes) };
}

export function entries(from: number, to: number, term: number, bytes = 64): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, bytes));
  return out;
}

/** `index/term` pairs, for readable comparisons. */
export function shape(list: readonly Entry[]): string[] {
  return list.map((e) => `${e.index}/${e.term}`);
}

export function segmentPaths(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => join(dir, n));
}

export function fileSize(path: string): number {
  return statSync(path).size;
}
