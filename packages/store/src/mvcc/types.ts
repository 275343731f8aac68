/**
 * The store's vocabulary: etcd's data model as plain data. Requests and commands are what
 * callers send, results are what apply and range return; all of it encodes with msgpackr.
 */

/** Keys and values are bytes, ordered byte-wise (as etcd orders them). */
export type Bytes = Uint8Array;

/** One version of one key, as etcd's mvccpb.KeyValue defines it. */
export type KeyValue = {
  readonly key: Bytes;
  readonly value: Bytes;
  /** Revision of the put that created this generation of the key (0 in a delete event). */
  readonly createRevision: number;
  /** Revision of the change that produced this version. */
  readonly modRevision: number;
  /** 1 after creation, +1 per put; a delete resets it (0 in a delete event). */
  readonly version: number;
  /** Lease the key is attached to, 0 for none. */
  readonly lease: number;
};

export type SortOrder = 'none' | 'ascend' | 'descend';
export type SortTarget = 'key' | 'version' | 'create' | 'mod' | 'value';

/**
 * etcd's range conventions: no `rangeEnd` reads the single `key`; `rangeEnd` = [0] reads
 * every key >= `key` (and `key` = [0] too reads all keys); otherwise [key, rangeEnd).
 */
export type RangeRequest = {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
  /** At most this many kvs (0 or absent: no limit). `count` still counts the whole range. */
  readonly limit?: number;
  /** Read at this revision (0 or absent: the current one). */
  readonly revision?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
};

export type RangeResult = {
  /** The store's current revision when the read was served (etcd's header revision). */
  readonly revision: number;
  readonly kvs: readonly KeyValue[];
  /** More keys in the range than `kvs` holds (the limit cut it). */
  readonly more: boolean;
  /** Keys in the range at the read revision, regardless of the limit. */
  readonly count: number;
};

export type PutRequest = {
  readonly key: Bytes;
  readonly value: Bytes;
  /** Attach the key to this lease (0 or absent: no lease; a put detaches the old one). */
  readonly lease?: number;
  readonly prevKv?: boolean;
  /** Keep the current value (the key must exist and `value` must be empty). */
  readonly ignoreValue?: boolean;
  /** Keep the current lease (the key must exist and `lease` must be 0). */
  readonly ignoreLease?: boolean;
};

export type DeleteRangeRequest = {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
  readonly prevKv?: boolean;
};

export type CompareResult = '=' | '!=' | '<' | '>';

/** What a compare looks at, and the operand it compares with. */
export type CompareTarget =
  | { readonly target: 'value'; readonly value: Bytes }
  | { readonly target: 'version'; readonly version: number }
  | { readonly target: 'create'; readonly createRevision: number }
  | { readonly target: 'mod'; readonly modRevision: number }
  | { readonly target: 'lease'; readonly lease: number };

/** A guard of a txn: every key of [key, rangeEnd) must satisfy `<field> <result> <operand>`. */
export type Compare = CompareTarget & {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
  readonly result: CompareResult;
};

export type TxnRequest = {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
};

export type RequestOp =
  | ({ readonly op: 'range' } & RangeRequest)
  | ({ readonly op: 'put' } & PutRequest)
  | ({ readonly op: 'deleteRange' } & DeleteRangeRequest)
  | ({ readonly op: 'txn' } & TxnRequest);

export type ResponseOp =
  | {
      readonly op: 'range';
      readonly kvs: readonly KeyValue[];
      readonly more: boolean;
      readonly count: number;
    }
  | { readonly op: 'put'; readonly prevKv?: KeyValue }
  | { readonly op: 'deleteRange'; readonly deleted: number; readonly prevKvs?: readonly KeyValue[] }
  | { readonly op: 'txn'; readonly succeeded: boolean; readonly responses: readonly ResponseOp[] };

export type LeaseCheckpoint = { readonly id: number; readonly remainingTtlSeconds: number };

/**
 * A write, as a Raft log entry carries it. `requestId` makes a retry return the first
 * result instead of applying again (see the dedup table).
 */
export type Command =
  | ({ readonly kind: 'put'; readonly requestId?: string } & PutRequest)
  | ({ readonly kind: 'deleteRange'; readonly requestId?: string } & DeleteRangeRequest)
  | ({ readonly kind: 'txn'; readonly requestId?: string } & TxnRequest)
  | { readonly kind: 'compact'; readonly requestId?: string; readonly revision: number }
  | {
      readonly kind: 'leaseGrant';
      readonly requestId?: string;
      readonly id: number;
      readonly ttlSeconds: number;
    }
  | { readonly kind: 'leaseRevoke'; readonly requestId?: string; readonly id: number }
  | {
      readonly kind: 'leaseCheckpoint';
      readonly requestId?: string;
      readonly checkpoints: readonly LeaseCheckpoint[];
    }
  | { readonly kind: 'leaseExpire'; readonly requestId?: string; readonly ids: readonly number[] };

export type CommandKind = Command['kind'];

/** What applying a command produced; `revision` is the store's revision right after it. */
export type CommandResult =
  | { readonly kind: 'put'; readonly revision: number; readonly prevKv?: KeyValue }
  | {
      readonly kind: 'deleteRange';
      readonly revision: number;
      readonly deleted: number;
      readonly prevKvs?: readonly KeyValue[];
    }
  | {
      readonly kind: 'txn';
      readonly revision: number;
      readonly succeeded: boolean;
      readonly responses: readonly ResponseOp[];
    }
  | { readonly kind: 'compact'; readonly revision: number; readonly compactedRevision: number }
  | {
      readonly kind: 'leaseGrant';
      readonly revision: number;
      readonly id: number;
      readonly ttlSeconds: number;
    }
  | { readonly kind: 'leaseRevoke'; readonly revision: number; readonly deletedKeys: number }
  | { readonly kind: 'leaseCheckpoint'; readonly revision: number }
  | { readonly kind: 'leaseExpire'; readonly revision: number; readonly expired: readonly number[] };

/** A command that failed validation: nothing changed but the applied index. */
export type ErrorResult = {
  readonly kind: 'error';
  readonly code: string;
  readonly message: string;
  readonly data?: unknown;
};

export type ApplyResult =
  | CommandResult
  | ErrorResult
  /** An empty entry (a Raft no-op or a configuration change): only the applied index moved. */
  | { readonly kind: 'noop'; readonly revision: number }
  /** The entry's index is at or below the stored applied index: already applied, ignored. */
  | { readonly kind: 'alreadyApplied' };

/** A committed Raft entry as the driver hands it over. */
export type LogEntry = { readonly index: number; readonly data: Bytes };

export type LeaseRecord = {
  readonly id: number;
  /** TTL the lease was granted with. */
  readonly ttlSeconds: number;
  /** Remaining TTL at the last checkpoint; 0 when none is recorded (the full TTL applies). */
  readonly remainingTtlSeconds: number;
};

/** Where a key's previous version lives in the history, for prevKv. */
export type RevisionPointer = { readonly main: number; readonly sub: number };

/** One change of one key, as apply produced it and watchers receive it. */
export type KvEvent = {
  readonly type: 'put' | 'delete';
  /** For a delete: the key with `modRevision` set and everything else empty (as etcd does). */
  readonly kv: KeyValue;
  /** The key's previous live version, if it had one. */
  readonly prev: RevisionPointer | undefined;
};

/** Every change made at one revision, in the order apply made them. */
export type RevisionEvents = { readonly revision: number; readonly events: readonly KvEvent[] };

/** What a lease-related entry changed, told to the lessor after commit. */
export type LeaseChange =
  | { readonly kind: 'granted'; readonly id: number; readonly ttlSeconds: number }
  | { readonly kind: 'revoked'; readonly id: number }
  | { readonly kind: 'checkpointed'; readonly id: number; readonly remainingTtlSeconds: number };

/**
 * Told to listeners after each commit of applied entries, when a restore ends (the state
 * was replaced, or kept if the file was refused; reads were unavailable meanwhile), and
 * when the store closes.
 */
export type CommitNotice =
  | {
      readonly kind: 'applied';
      readonly appliedIndex: number;
      readonly revision: number;
      readonly compactedRevision: number;
      readonly revisions: readonly RevisionEvents[];
      readonly leaseChanges: readonly LeaseChange[];
    }
  | {
      readonly kind: 'restored';
      readonly appliedIndex: number;
      readonly revision: number;
      readonly compactedRevision: number;
    }
  /** The store was closed: watchers end, the lessor stops. */
  | { readonly kind: 'closed' };

export type StoreStatus = {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactedRevision: number;
  /** Size of the backend file on disk. */
  readonly dbSizeBytes: number;
  /** Bytes of the file in use by live pages (the rest is free space LMDB reuses). */
  readonly dbSizeInUseBytes: number;
  /** Physical compaction has not caught up with `compactedRevision` yet. */
  readonly compactionPending: boolean;
};

export type HashResult = {
  readonly revision: number;
  readonly compactedRevision: number;
  /** SHA-256 (hex) of the key space at `revision`. */
  readonly hash: string;
  readonly keys: number;
};

export type SnapshotInfo = {
  readonly path: string;
  readonly appliedIndex: number;
  readonly revision: number;
  readonly bytes: number;
  /** SHA-256 (hex) of the backend copy the file holds. */
  readonly sha256: string;
};
