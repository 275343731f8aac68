import { writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';

/** Make a directory's entries (files created, renamed or removed in it) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Create `dir` (and missing parents) so that the new entries survive a crash. */
export async function ensureDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created === undefined) return;
  // Each new directory's entry lives in its parent: fsync from the first one created down.
  let level = created;
  const rest = relative(created, dir)
    .split(sep)
    .filter((part) => part !== '');
  await fsyncDir(dirname(level));
  for (const part of rest) {
    await fsyncDir(level);
    level = `${level}${sep}${part}`;
  }
}

/** Write every byte of `views` at `position`, continuing after short writes. */
export async function writeFully(
  handle: FileHandle,
  views: readonly Uint8Array[],
  position: number,
): Promise<void> {
  let remaining = views;
  let at = position;
  while (remaining.length > 0) {
    const { bytesWritten } = await handle.writev(remaining as Uint8Array[], at);
    if (bytesWritten <= 0) throw new Error(`write at byte ${at} made no progress`);
    at += bytesWritten;
    remaining = dropBytes(remaining, bytesWritten);
  }
}

export function writeFullySync(fd: number, views: readonly Uint8Array[], position: number): void {
  let remaining = views;
  let at = position;
  while (remaining.length > 0) {
    const bytesWritten = writevSync(fd, remaining as Uint8Array[], at);
    if (bytesWritten <= 0) throw new Error(`write at byte ${at} made no progress`);
    at += bytesWritten;
    remaining = dropBytes(remaining, bytesWritten);
  }
}

function dropBytes(views: readonly Uint8Array[], bytes: number): readonly Uint8Array[] {
  let skip = bytes;
  let i = 0;
  while (i < views.length && skip >= views[i]!.length) skip -= views[i++]!.length;
  if (i === views.length) return [];
  return [views[i]!.subarray(skip), ...views.slice(i + 1)];
}
