import { statSync } from 'node:fs';
import { type Database, open, type RootDatabase } from 'lmdb';

/**
 * The LMDB environment that holds the applied state: one file, several named databases,
 * every write in a synchronous transaction that commits (with a data fsync; the meta page
 * is not synced, see `open`) before it returns.
 *
 * - `meta`: the applied index, revision and compacted revision ('state'), physical
 *   compaction progress ('compaction'), and what the file was created with ('format').
 * - `keys`: user key → the key's current state (live keys only): where its latest
 *   version lives and its create revision, version and lease.
 * - `history`: revision {main, sub} → one version of one key (puts and tombstones).
 * - `index`: escaped user key + revision → 0 (put) or 1 (delete): every key's versions
 *   in key order, for reads at past revisions and for compaction.
 * - `leases`: lease id → granted TTL and the remaining TTL at the last checkpoint.
 * - `leaseKeys`: lease id + user key → 0: the keys attached to each lease.
 * - `dedup`: request id → its first outcome; `dedupByIndex`: applied index → request id,
 *   so the oldest entries are evicted in log order.
 */
export class Backend {
  readonly path: string;
  readonly env: RootDatabase<Buffer, string>;
  readonly meta: Database<Buffer, string>;
  readonly keys: Database<Buffer, Uint8Array>;
  readonly history: Database<Buffer, Uint8Array>;
  readonly index: Database<Buffer, Uint8Array>;
  readonly leases: Database<Buffer, Uint8Array>;
  readonly leaseKeys: Database<Buffer, Uint8Array>;
  readonly dedup: Database<Buffer, string>;
  readonly dedupByIndex: Database<Buffer, Uint8Array>;

  private constructor(path: string, env: RootDatabase<Buffer, string>) {
    this.path = path;
    this.env = env;
    const binary = { encoding: 'binary', keyEncoding: 'binary' } as const;
    this.meta = env.openDB<Buffer, string>({ name: 'meta', encoding: 'binary' });
    this.keys = env.openDB<Buffer, Uint8Array>({ name: 'keys', ...binary });
    this.history = env.openDB<Buffer, Uint8Array>({ name: 'history', ...binary });
    this.index = env.openDB<Buffer, Uint8Array>({ name: 'index', ...binary });
    this.leases = env.openDB<Buffer, Uint8Array>({ name: 'leases', ...binary });
    this.leaseKeys = env.openDB<Buffer, Uint8Array>({ name: 'leaseKeys', ...binary });
    this.dedup = env.openDB<Buffer, string>({ name: 'dedup', encoding: 'binary' });
    this.dedupByIndex = env.openDB<Buffer, Uint8Array>({ name: 'dedupByIndex', ...binary });
  }

  /** Open (creating if needed) the backend file at `path`. */
  static open(path: string, options: { readonly readOnly?: boolean } = {}): Backend {
    const env = open<Buffer, string>({
      path,
      noSubdir: true,
      maxDbs: 12,
      encoding: 'binary',
      readOnly: options.readOnly ?? false,
      // One fsync per commit instead of two. A system crash may undo the last commit but
      // leaves the file intact; the Raft log still holds that entry and applies it again.
      noMetaSync: true,
    });
    return new Backend(path, env);
  }

  /**
   * Run `fn` in one write transaction, committed and synced to disk before this returns;
   * if `fn` throws, nothing it wrote is kept.
   */
  transact<T>(fn: () => T): T {
    return this.env.transactionSync(fn);
  }

  /** Bytes of the file on disk. */
  fileBytes(): number {
    return statSync(this.path).size;
  }

  /** Bytes of the pages that the databases' trees use now. */
  inUseBytes(): number {
    const dbs = [
      this.meta,
      this.keys,
      this.history,
      this.index,
      this.leases,
      this.leaseKeys,
      this.dedup,
      this.dedupByIndex,
    ];
    let pages = 2; // the two meta pages
    let pageSize = 4096;
    for (const db of dbs) {
      const s = db.getStats() as {
        pageSize: number;
        treeBranchPageCount: number;
        treeLeafPageCount: number;
        overflowPages: number;
      };
      pageSize = s.pageSize;
      pages += s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
    }
    return pages * pageSize;
  }

  /** A consistent copy of the whole file (LMDB's mdb_env_copy, compacting free pages). */
  copyTo(path: string): Promise<void> {
    return this.env.backup(path, true);
  }

  close(): Promise<void> {
    return this.env.close();
  }
}
