import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, type Logger, silentLogger } from '@flotilla/actor';
import type { SnapshotMeta } from '../core/types.ts';
import { checkMeta, sameMeta } from './codec.ts';
import { ensureDir, fsyncDir, writeFully } from './durable-fs.ts';
import {
  SnapshotChunkOffsetError,
  SnapshotCorruptionError,
  SnapshotInputError,
  SnapshotNotFoundError,
} from './errors.ts';
import { hex16 } from './segment-files.ts';
import {
  encodeSnapshotHeader,
  MAX_SNAPSHOT_HEADER_BYTES,
  MIN_SNAPSHOT_HEADER_BYTES,
  parseSnapshotHeader,
  SNAPSHOT_PREFIX_BYTES,
  type SnapshotHeader,
  snapshotHeaderBytes,
} from './snapshot-format.ts';

export type SnapshotStoreOptions = {
  /** Snapshots kept on disk; older ones are deleted after each new one is installed. */
  readonly keep?: number;
  readonly log?: Logger;
};

export const defaultKeepSnapshots = 3;
/** Largest `read` a `SnapshotReader` serves at once: a chunk, never a whole snapshot. */
export const maxSnapshotReadBytes = 16 * 1024 * 1024;
/** Bytes per read when hashing a data file. */
const hashReadBytes = 1024 * 1024;

/** A snapshot on disk whose checksums verified. */
export type StoredSnapshot = {
  readonly meta: SnapshotMeta;
  /** The data file, exactly as the state machine wrote it: what `restore` reads. */
  readonly path: string;
  readonly dataBytes: number;
};

const SNAPSHOT_DIR = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const DATA_FILE = 'data';
const HEADER_FILE = 'meta';

function snapshotDirName(index: number, term: number): string {
  return `${hex16(index)}-${hex16(term)}.snap`;
}

/** Names of stored snapshot directories, newest (highest index, then term) first. */
async function listSnapshotDirs(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((n) => SNAPSHOT_DIR.test(n))
    .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

/**
 * Snapshots as directories `<index>-<term>.snap/` holding `data` (written by the state
 * machine, never held in memory here) and `meta` (the header of snapshot-format.ts: metadata,
 * data size and SHA-256). A snapshot is built in a temporary directory, every file fsync'ed,
 * then renamed into place and the parent fsync'ed: it appears whole or not at all.
 */
export class SnapshotStore {
  readonly dir: string;
  private readonly keep: number;
  private readonly log: Logger;
  /** Snapshots verified by this process, by directory name: their files never change. */
  private readonly verified = new Map<string, StoredSnapshot>();
  /** Installs and prunes run one at a time. */
  private installing: Promise<unknown> = Promise.resolve();
  private receiving: SnapshotReceiver | null = null;
  private tempCounter = 0;

  private constructor(dir: string, keep: number, log: Logger) {
    this.dir = dir;
    this.keep = keep;
    this.log = log;
  }

  /** Open the store in `dir`, removing what an interrupted save or receive left. */
  static async open(dir: string, options: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    const keep = options.keep ?? defaultKeepSnapshots;
    if (!Number.isSafeInteger(keep) || keep < 1) {
      throw new SnapshotInputError(`keep must be an integer >= 1, got ${keep}`);
    }
    const log = (options.log ?? silentLogger()).child({ component: 'snapshot-store' });
    await ensureDir(dir);
    const leftovers = (await readdir(dir)).filter((n) => n.endsWith('.tmp'));
    if (leftovers.length > 0) {
      log.info({ dir, leftovers }, 'removing unfinished snapshots');
      for (const name of leftovers) await rm(join(dir, name), { recursive: true, force: true });
      await fsyncDir(dir);
    }
    return new SnapshotStore(dir, keep, log);
  }

  /**
   * Store a snapshot: `writeInto(path)` must create `path` and write the state machine's data
   * there (and may take its time: nothing is held in memory). The store hashes it, writes the
   * header, makes both durable and installs the snapshot atomically; it is durable when this
   * resolves, so a WAL marker for it may follow. Keeps the newest `keep` snapshots.
   */
  async save(meta: SnapshotMeta, writeInto: (path: string) => Promise<void>): Promise<StoredSnapshot> {
    checkSnapshotMeta(meta);
    const temp = await this.makeTempDir(meta);
    const dataPath = join(temp, DATA_FILE);
    try {
      await writeInto(dataPath);
      const { sha256, bytes } = await hashFile(dataPath).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new SnapshotInputError(`the state machine did not write its snapshot to ${dataPath}`);
        }
        throw err;
      });
      const data = await open(dataPath, 'r');
      try {
        await data.datasync();
      } finally {
        await data.close();
      }
      await writeDurably(join(temp, HEADER_FILE), encodeSnapshotHeader({ meta, dataBytes: bytes, sha256 }));
      await fsyncDir(temp);
      return await this.install(temp, meta, bytes);
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * The newest snapshot whose checksums verify, or null. A damaged newer one is skipped
   * (and logged), and the one before it is used.
   */
  async latest(): Promise<StoredSnapshot | null> {
    for (const name of await listSnapshotDirs(this.dir)) {
      const checked = await this.verify(name);
      if (checked === null) continue; // pruned meanwhile
      if (typeof checked !== 'string') return checked;
      this.log.warn(
        { snapshot: join(this.dir, name), reason: checked },
        'snapshot is damaged; falling back to an older one',
      );
    }
    return null;
  }

  /** The stored snapshot with `meta`'s index and term, if it is there and verifies. */
  async get(meta: Pick<SnapshotMeta, 'index' | 'term'>): Promise<StoredSnapshot | null> {
    const checked = await this.verify(snapshotDirName(meta.index, meta.term));
    return typeof checked === 'string' ? null : checked;
  }

  /** Read the snapshot `meta` by chunks, for sending: header then data, `size` bytes in all. */
  async openReader(meta: Pick<SnapshotMeta, 'index' | 'term'>): Promise<SnapshotReader> {
    const dir = join(this.dir, snapshotDirName(meta.index, meta.term));
    const headerBytes = await readFile(join(dir, HEADER_FILE)).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new SnapshotNotFoundError(meta.index, meta.term);
      throw err;
    });
    const header = parseSnapshotHeader(headerBytes);
    if (typeof header === 'string') throw new SnapshotCorruptionError(dir, header);
    const data = await open(join(dir, DATA_FILE), 'r');
    return new SnapshotReader(header.meta, headerBytes, header.dataBytes, data);
  }

  /**
   * Receive a snapshot of `totalBytes` (header then data, as a `SnapshotReader` of the
   * sender produces them). Asking again for the same snapshot and size while a receive is
   * unfinished resumes it at its `expectedOffset`; any other snapshot replaces it.
   */
  async beginReceive(meta: SnapshotMeta, totalBytes: number): Promise<SnapshotReceiver> {
    checkSnapshotMeta(meta);
    if (!Number.isSafeInteger(totalBytes) || totalBytes < MIN_SNAPSHOT_HEADER_BYTES) {
      throw new SnapshotInputError(`a snapshot of ${totalBytes} bytes cannot even hold its header`);
    }
    const current = this.receiving;
    if (current?.isOpen && current.size === totalBytes && sameMeta(current.meta, meta)) {
      return current;
    }
    if (current !== null) await current.abort();
    const temp = await this.makeTempDir(meta);
    const data = await open(join(temp, DATA_FILE), 'wx');
    const receiver = new SnapshotReceiver(meta, totalBytes, temp, data, {
      install: (dataBytes) => this.install(temp, meta, dataBytes),
      ended: (r) => {
        if (this.receiving === r) this.receiving = null;
      },
    });
    this.receiving = receiver;
    this.log.info({ index: meta.index, term: meta.term, bytes: totalBytes }, 'receiving a snapshot');
    return receiver;
  }

  /** Abort an unfinished receive (its partial data is dropped). Saves in flight complete. */
  async close(): Promise<void> {
    await this.receiving?.abort();
    await this.installing;
  }

  private async makeTempDir(meta: SnapshotMeta): Promise<string> {
    const name = `${snapshotDirName(meta.index, meta.term)}.${process.pid}-${++this.tempCounter}.tmp`;
    const temp = join(this.dir, name);
    await mkdir(temp);
    return temp;
  }

  /** Move the complete snapshot in `temp` into place, then prune. */
  private install(temp: string, meta: SnapshotMeta, dataBytes: number): Promise<StoredSnapshot> {
    const run = this.installing.then(async () => {
      const name = snapshotDirName(meta.index, meta.term);
      const final = join(this.dir, name);
      const existing = await this.verify(name);
      if (existing !== null && typeof existing !== 'string') {
        // Same index and term means the same state (Raft's Log Matching): keep the one we have.
        await rm(temp, { recursive: true, force: true });
        return existing;
      }
      if (typeof existing === 'string') {
        this.log.warn({ snapshot: final, reason: existing }, 'replacing a damaged copy of this snapshot');
        await removeSnapshotDir(final);
      }
      await rename(temp, final);
      await fsyncDir(this.dir);
      const stored: StoredSnapshot = { meta, path: join(final, DATA_FILE), dataBytes };
      this.verified.set(name, stored);
      this.log.info({ index: meta.index, term: meta.term, bytes: dataBytes }, 'snapshot installed');
      await this.prune();
      return stored;
    });
    this.installing = run.catch(() => {});
    return run;
  }

  private async prune(): Promise<void> {
    for (const name of (await listSnapshotDirs(this.dir)).slice(this.keep)) {
      await removeSnapshotDir(join(this.dir, name));
      this.verified.delete(name);
      this.log.info({ snapshot: name }, 'removed an old snapshot');
    }
  }

  /** The stored snapshot in directory `name`, why it does not verify, or null when it is not there. */
  private async verify(name: string): Promise<StoredSnapshot | string | null> {
    const known = this.verified.get(name);
    if (known !== undefined) return known;
    const dir = join(this.dir, name);
    const headerPath = join(dir, HEADER_FILE);
    const headerStat = await stat(headerPath).catch(() => null);
    if (headerStat === null) {
      return (await stat(dir).catch(() => null)) === null ? null : 'its header file is missing';
    }
    if (headerStat.size > MAX_SNAPSHOT_HEADER_BYTES) return `its header is ${headerStat.size} bytes`;
    const header = parseSnapshotHeader(await readFile(headerPath));
    if (typeof header === 'string') return header;
    const m = SNAPSHOT_DIR.exec(name)!;
    if (header.meta.index !== Number.parseInt(m[1]!, 16) || header.meta.term !== Number.parseInt(m[2]!, 16)) {
      return `its header is for index ${header.meta.index}, term ${header.meta.term}`;
    }
    const path = join(dir, DATA_FILE);
    const actual = await hashFile(path).catch(() => null);
    if (actual === null) return 'its data file is missing';
    if (actual.bytes !== header.dataBytes)
      return `data is ${actual.bytes} bytes, the header says ${header.dataBytes}`;
    if (!actual.sha256.equals(header.sha256)) return 'data checksum mismatch';
    const stored: StoredSnapshot = { meta: header.meta, path, dataBytes: header.dataBytes };
    this.verified.set(name, stored);
    return stored;
  }
}

/** Reads a stored snapshot by chunks: its header, then its data (`size` bytes in all). */
export class SnapshotReader {
  readonly meta: SnapshotMeta;
  readonly size: number;
  private readonly header: Buffer;
  private readonly data: FileHandle;

  constructor(meta: SnapshotMeta, header: Buffer, dataBytes: number, data: FileHandle) {
    this.meta = meta;
    this.header = header;
    this.data = data;
    this.size = header.length + dataBytes;
  }

  /** Up to `length` bytes from `offset` (fewer only at the end). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.size) {
      throw new SnapshotInputError(`read offset ${offset} outside 0..${this.size}`);
    }
    if (!Number.isSafeInteger(length) || length < 0 || length > maxSnapshotReadBytes) {
      throw new SnapshotInputError(`read length ${length} outside 0..${maxSnapshotReadBytes}`);
    }
    const out = Buffer.allocUnsafe(Math.min(length, this.size - offset));
    let filled = 0;
    if (offset < this.header.length) filled = this.header.copy(out, 0, offset, offset + out.length);
    while (filled < out.length) {
      const position = offset + filled - this.header.length;
      const { bytesRead } = await this.data.read(out, filled, out.length - filled, position);
      if (bytesRead === 0) {
        throw new SnapshotCorruptionError(`snapshot ${this.meta.index}`, `data ends before byte ${position}`);
      }
      filled += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.data.close();
  }
}

type ReceiverHooks = {
  readonly install: (dataBytes: number) => Promise<StoredSnapshot>;
  readonly ended: (receiver: SnapshotReceiver) => void;
};

type ReceiverState = 'receiving' | 'writing' | 'finishing' | 'installed' | 'aborted' | 'failed';

/**
 * One snapshot arriving by chunks, in order. Memory stays bounded: data chunks go to the
 * file as they come and into a running SHA-256; only the header (at most 1 MiB) is buffered.
 */
export class SnapshotReceiver {
  readonly meta: SnapshotMeta;
  readonly size: number;
  private readonly temp: string;
  private readonly data: FileHandle;
  private readonly hooks: ReceiverHooks;
  private state: ReceiverState = 'receiving';
  private received = 0;
  private readonly prefix = Buffer.alloc(SNAPSHOT_PREFIX_BYTES);
  private headerBuf: Buffer | null = null;
  private header: SnapshotHeader | null = null;
  private readonly hash: Hash = createHash('sha256');

  constructor(meta: SnapshotMeta, size: number, temp: string, data: FileHandle, hooks: ReceiverHooks) {
    this.meta = meta;
    this.size = size;
    this.temp = temp;
    this.data = data;
    this.hooks = hooks;
  }

  /** The only offset `write` accepts next. */
  get expectedOffset(): number {
    return this.received;
  }

  /** Still accepting chunks (not finished, aborted or failed). */
  get isOpen(): boolean {
    return this.state === 'receiving' || this.state === 'writing';
  }

  /**
   * Write the chunk at `offset`, which must be `expectedOffset` (else
   * `SnapshotChunkOffsetError`, nothing written). Await each write before the next.
   */
  async write(offset: number, chunk: Uint8Array): Promise<void> {
    if (this.state !== 'receiving') {
      throw new SnapshotInputError(`cannot write to a snapshot receiver that is ${this.state}`);
    }
    if (offset !== this.received) throw new SnapshotChunkOffsetError(offset, this.received);
    if (offset + chunk.length > this.size) {
      throw new SnapshotInputError(
        `chunk ${offset}+${chunk.length} runs past the snapshot's ${this.size} bytes`,
      );
    }
    this.state = 'writing';
    try {
      const used = this.takeHeaderBytes(chunk);
      if (used < chunk.length) {
        const data = chunk.subarray(used);
        assert(this.headerBuf !== null, 'data follows a complete header');
        await writeFully(this.data, [data], offset + used - this.headerBuf.length);
        this.hash.update(data);
      }
      this.received += chunk.length;
      this.state = 'receiving';
    } catch (err) {
      await this.fail();
      throw err;
    }
  }

  /**
   * Verify the data's checksum against the header's, make it durable and install it
   * atomically. Once this resolves, `store.get(meta)` has it for the state machine to restore.
   */
  async finish(): Promise<void> {
    if (this.state !== 'receiving') {
      throw new SnapshotInputError(`cannot finish a snapshot receiver that is ${this.state}`);
    }
    if (this.received !== this.size) {
      throw new SnapshotInputError(`snapshot incomplete: ${this.received} of ${this.size} bytes received`);
    }
    const header = this.header;
    assert(header !== null && this.headerBuf !== null, 'a complete snapshot has its header');
    this.state = 'finishing';
    try {
      if (!this.hash.digest().equals(header.sha256)) {
        throw new SnapshotCorruptionError(this.temp, 'data checksum mismatch after transfer');
      }
      await this.data.datasync();
      await this.data.close();
      await writeDurably(join(this.temp, HEADER_FILE), this.headerBuf);
      await fsyncDir(this.temp);
      await this.hooks.install(header.dataBytes);
      this.state = 'installed';
      this.hooks.ended(this);
    } catch (err) {
      await this.fail();
      throw err;
    }
  }

  /** Drop what was received. Harmless after `finish` or a failure. */
  async abort(): Promise<void> {
    if (this.state === 'installed' || this.state === 'aborted' || this.state === 'failed') return;
    this.state = 'aborted';
    await this.cleanUp();
  }

  /** Copy header bytes from the front of `chunk` while the header is incomplete; returns how many. */
  private takeHeaderBytes(chunk: Uint8Array): number {
    let used = 0;
    if (this.received < SNAPSHOT_PREFIX_BYTES) {
      used = Math.min(SNAPSHOT_PREFIX_BYTES - this.received, chunk.length);
      this.prefix.set(chunk.subarray(0, used), this.received);
      if (this.received + used < SNAPSHOT_PREFIX_BYTES) return used;
      const length = snapshotHeaderBytes(this.prefix);
      if (typeof length === 'string') throw new SnapshotCorruptionError(this.temp, length);
      if (length > this.size)
        throw new SnapshotCorruptionError(this.temp, `header of ${length} bytes in ${this.size}`);
      this.headerBuf = Buffer.alloc(length);
      this.prefix.copy(this.headerBuf);
    }
    const headerBuf = this.headerBuf;
    assert(headerBuf !== null, 'the header length is known after the prefix');
    const at = this.received + used;
    if (at >= headerBuf.length) return used;
    const take = Math.min(headerBuf.length - at, chunk.length - used);
    headerBuf.set(chunk.subarray(used, used + take), at);
    used += take;
    if (at + take === headerBuf.length) {
      const header = parseSnapshotHeader(headerBuf);
      if (typeof header === 'string') throw new SnapshotCorruptionError(this.temp, header);
      if (!sameMeta(header.meta, this.meta)) {
        throw new SnapshotCorruptionError(this.temp, 'the header describes another snapshot than announced');
      }
      if (headerBuf.length + header.dataBytes !== this.size) {
        throw new SnapshotCorruptionError(
          this.temp,
          `header + ${header.dataBytes} data bytes != the ${this.size} bytes announced`,
        );
      }
      this.header = header;
    }
    return used;
  }

  private async fail(): Promise<void> {
    if (this.state === 'aborted' || this.state === 'failed') return;
    this.state = 'failed';
    await this.cleanUp();
  }

  private async cleanUp(): Promise<void> {
    this.hooks.ended(this);
    await this.data.close().catch(() => {});
    await rm(this.temp, { recursive: true, force: true });
  }
}

export async function openSnapshotStore(
  dir: string,
  options: SnapshotStoreOptions = {},
): Promise<SnapshotStore> {
  return SnapshotStore.open(dir, options);
}

function checkSnapshotMeta(meta: SnapshotMeta): void {
  const problem = checkMeta(meta);
  if (problem !== null) throw new SnapshotInputError(problem);
}

async function hashFile(path: string): Promise<{ readonly sha256: Buffer; readonly bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: hashReadBytes })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest(), bytes };
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await writeFully(handle, [bytes], 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** A crash half-way leaves a directory missing a file, which no longer verifies and is pruned later. */
async function removeSnapshotDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  await fsyncDir(join(path, '..'));
}
