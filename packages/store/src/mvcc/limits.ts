/**
 * Bounds that apply enforces. They are part of the state machine's definition, not
 * per-member settings: members with different limits would accept different entries and
 * diverge, so they are constants. The server can check the same limits before proposing.
 */
export type StoreLimits = {
  /**
   * Longest key. LMDB keys top out at 1,978 bytes and the history index stores a key with
   * each 0x00 byte escaped to two bytes plus 14 bytes of suffix: 960 always fits.
   */
  readonly maxKeyBytes: number;
  /** Longest value: etcd's default request bound (1.5 MiB). */
  readonly maxValueBytes: number;
  /** Largest encoded command (etcd: --max-request-bytes, 1.5 MiB), plus room for the key. */
  readonly maxRequestBytes: number;
  /** Compares, success ops or failure ops of one txn level (etcd: --max-txn-ops, 128). */
  readonly maxTxnOps: number;
  /** Txns nested in txns. etcd has no bound; the request size is ours plus this. */
  readonly maxTxnDepth: number;
  /** Lease ids in one expire command, checkpoints in one checkpoint command (etcd: 1,000). */
  readonly maxLeasesPerCommand: number;
  readonly maxRequestIdBytes: number;
  /** etcd's MaxLeaseTTL. */
  readonly maxLeaseTtlSeconds: number;
  /** A result bigger than this is not kept in the dedup table; a retry learns it was applied. */
  readonly maxDedupResultBytes: number;
};

export const storeLimits: StoreLimits = Object.freeze({
  maxKeyBytes: 960,
  maxValueBytes: 1.5 * 1024 * 1024,
  maxRequestBytes: 1.5 * 1024 * 1024 + 4096,
  maxTxnOps: 128,
  maxTxnDepth: 8,
  maxLeasesPerCommand: 1000,
  maxRequestIdBytes: 128,
  maxLeaseTtlSeconds: 9_000_000_000,
  maxDedupResultBytes: 64 * 1024,
});
