import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { assert } from '@flotilla/actor';

export type PayloadFile = { readonly data: Buffer; readonly mode: number };
/** Relative path (may contain `/`) → content. */
export type Payload = ReadonlyMap<string, PayloadFile>;

const dataLink = '..data';
const dataLinkTmp = '..data_tmp';

/** Whether a payload path stays inside its volume: relative, no `..`, no leading dot-dot tricks. */
export function isSafePayloadPath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.startsWith('..')) return false;
  const n = normalize(path);
  return n === path && !n.split('/').includes('..');
}

/**
 * Writes a configMap/secret/downwardAPI volume so a reader never sees a half-updated
 * set of files: the files go into a fresh timestamped directory, then the `..data`
 * symlink is swapped to it with one rename, and each top-level name is a symlink
 * through `..data` (kubelet's AtomicWriter). Unchanged payloads are not rewritten.
 * Returns whether anything changed.
 */
export async function writePayload(
  dir: string,
  payload: Payload,
  nowMs: number = Date.now(),
): Promise<boolean> {
  for (const path of payload.keys()) assert(isSafePayloadPath(path), `unsafe volume path ${path}`);
  await mkdir(dir, { recursive: true });
  if (await sameAsCurrent(dir, payload)) return false;

  const stamp = `..${new Date(nowMs).toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '')}_${process.hrtime.bigint() % 1_000_000n}`;
  const dataDir = join(dir, stamp);
  await mkdir(dataDir);
  for (const [path, file] of payload) {
    const target = join(dataDir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.data);
    await chmod(target, file.mode);
  }
  await chmod(dataDir, 0o755);
  const old = await readlinkOrUndefined(join(dir, dataLink));
  await rm(join(dir, dataLinkTmp), { force: true });
  await symlink(stamp, join(dir, dataLinkTmp));
  await rename(join(dir, dataLinkTmp), join(dir, dataLink));

  const topLevel = new Set([...payload.keys()].map((p) => p.split('/')[0] as string));
  for (const name of topLevel) {
    const link = join(dir, name);
    if ((await readlinkOrUndefined(link)) !== join(dataLink, name)) {
      await rm(link, { force: true, recursive: true });
      await symlink(join(dataLink, name), link);
    }
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..')) {
      if (entry !== dataLink && entry !== stamp) await rm(join(dir, entry), { recursive: true, force: true });
    } else if (!topLevel.has(entry)) {
      await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
  if (old !== undefined && old !== stamp) await rm(join(dir, old), { recursive: true, force: true });
  return true;
}

async function sameAsCurrent(dir: string, payload: Payload): Promise<boolean> {
  const current = await readlinkOrUndefined(join(dir, dataLink));
  if (current === undefined) return false;
  const base = join(dir, current);
  const existing = await listFiles(base, '');
  if (existing.length !== payload.size) return false;
  for (const rel of existing) {
    const want = payload.get(rel);
    if (want === undefined) return false;
    const path = join(base, rel);
    const [data, stat] = await Promise.all([readFile(path), lstat(path)]);
    if (!data.equals(want.data) || (stat.mode & 0o7777) !== want.mode) return false;
  }
  return true;
}

async function listFiles(base: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(join(base, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listFiles(base, path)));
    else out.push(path);
  }
  return out;
}

async function readlinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch {
    return undefined;
  }
}
