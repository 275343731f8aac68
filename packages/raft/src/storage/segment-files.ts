import type { FileHandle } from 'node:fs/promises';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, writeFully } from './durable-fs.ts';

/**
 * Segment files are named `<seq>-<first index>.wal`, both 16 hex digits, so that a directory
 * listing sorts them in log order. The sequence number is authoritative (a gap means a
 * missing segment); the index is for people reading the directory.
 */
const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const TEMP_SUFFIX = '.tmp';

export type SegmentFile = { readonly seq: number; readonly firstIndex: number; readonly name: string };

export function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function parseSegmentName(name: string): SegmentFile | null {
  const m = SEGMENT_NAME.exec(name);
  if (m === null) return null;
  return { seq: Number.parseInt(m[1]!, 16), firstIndex: Number.parseInt(m[2]!, 16), name };
}

/** Segments sorted by sequence number, and the leftovers of segments whose creation never finished. */
export async function listSegments(
  dir: string,
): Promise<{ readonly segments: readonly SegmentFile[]; readonly temporaries: readonly string[] }> {
  const names = await readdir(dir);
  const segments = names.flatMap((n) => parseSegmentName(n) ?? []).sort((a, b) => a.seq - b.seq);
  const temporaries = names.filter((n) => n.endsWith(`.wal${TEMP_SUFFIX}`));
  return { segments, temporaries };
}

export async function removeFiles(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) await unlink(join(dir, name));
  if (names.length > 0) await fsyncDir(dir);
}

/**
 * Create a segment whose head is `head`, atomically: written under a temporary name,
 * fdatasync'ed, renamed, then the directory fsync'ed. A crash leaves either no segment or a
 * complete head, never a segment that exists without one. Returns the open file, positioned
 * for appends after the head.
 */
export async function createSegment(dir: string, name: string, head: Uint8Array): Promise<FileHandle> {
  const path = join(dir, name);
  const temp = path + TEMP_SUFFIX;
  const handle = await open(temp, 'w+');
  try {
    await writeFully(handle, [head], 0);
    await handle.datasync();
    await rename(temp, path);
    await fsyncDir(dir);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}
