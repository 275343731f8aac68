/**
 * The store on NATS: every member serves the same actor under two names, the cluster's
 * queue group `store.<cluster>` (any member) and `store.<cluster>.<member>` (that member,
 * which clients use to reach the leader directly). Writes go through Raft; reads are
 * linearizable (ReadIndex) unless the caller asks for serializable.
 */
import type { Ask, Stream } from '@flotilla/actor';
import type { ConfState, NodeId, NodeStatus } from '@flotilla/raft';
import type {
  Command,
  CommandResult,
  HashResult,
  KeyValue,
  LeaseRecord,
  RangeRequest,
  RangeResult,
  StoreStatus,
} from '../mvcc/types.ts';
import type { WatchRequest, WatchResponse } from '../watch/types.ts';

/** Who answered, who leads, at which term and revision: etcd's ResponseHeader. */
export type ResponseHeader = {
  readonly member: NodeId;
  readonly leader: NodeId | null;
  readonly raftTerm: number;
  readonly revision: number;
};

export type MemberStatus = {
  readonly header: ResponseHeader;
  readonly raft: NodeStatus;
  readonly store: StoreStatus;
};

export type LeaseTimeToLive = {
  readonly id: number;
  /** Seconds left, -1 when the lease does not exist (etcd's convention). */
  readonly ttlSeconds: number;
  readonly grantedTtlSeconds: number;
  readonly keys?: readonly Uint8Array[];
};

export type StoreProtocol = {
  range: Ask<
    { readonly request: RangeRequest; readonly serializable?: boolean },
    { readonly header: ResponseHeader; readonly result: RangeResult }
  >;
  /** put, deleteRange, txn, compact, leaseRevoke: anything but lease grants, expiries and checkpoints. */
  write: Ask<
    { readonly command: Command },
    { readonly header: ResponseHeader; readonly result: CommandResult }
  >;
  leaseGrant: Ask<
    { readonly ttlSeconds: number; readonly id?: number; readonly requestId: string },
    { readonly header: ResponseHeader; readonly id: number; readonly ttlSeconds: number }
  >;
  /** Leader only: renews the lease's deadline (not through the log, as in etcd). */
  leaseKeepAlive: Ask<
    { readonly id: number },
    { readonly header: ResponseHeader; readonly ttlSeconds: number }
  >;
  leaseTimeToLive: Ask<
    { readonly id: number; readonly keys?: boolean },
    { readonly header: ResponseHeader } & LeaseTimeToLive
  >;
  leases: Ask<null, { readonly header: ResponseHeader; readonly leases: readonly LeaseRecord[] }>;
  watch: Stream<WatchRequest, WatchResponse>;
  status: Ask<null, MemberStatus>;
  hash: Ask<{ readonly revision: number }, { readonly header: ResponseHeader } & HashResult>;
  members: Ask<null, { readonly header: ResponseHeader; readonly conf: ConfState }>;
  /** Leader only. */
  changeMembership: Ask<
    { readonly change: import('@flotilla/raft').ConfChange; readonly timeoutMs?: number },
    { readonly header: ResponseHeader; readonly conf: ConfState }
  >;
  /** Leader only: hand leadership to `to` (default: the most caught-up voter). */
  transferLeadership: Ask<{ readonly to?: NodeId }, { readonly leader: NodeId }>;
  /** A consistent copy of the whole backend, in chunks (for `flo snapshot save`). */
  snapshot: Stream<
    null,
    { readonly chunk: Uint8Array; readonly appliedIndex: number; readonly totalBytes: number }
  >;
};

export const storeActorName = (clusterId: string, member?: NodeId) =>
  member === undefined ? `store.${clusterId}` : `store.${clusterId}.${member}`;

/** A key's value history entry as the client sees it. */
export type { KeyValue };
