/**
 * The messages Raft members exchange. Plain data, a union discriminated on `type`, every
 * field always present (null where there is nothing to say), so a message survives msgpack
 * unchanged. Every message carries its sender's current term (Raft §5.1).
 */
import { decodeConfEntry, isConfState, isNodeId } from './conf.ts';
import type { Entry, NodeId, SnapshotMeta } from './types.ts';

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** "Would you vote for me?" (thesis §9.6), or a real vote request (Raft §5.2). */
export interface VoteRequest extends Envelope {
  readonly type: 'preVote' | 'vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** The campaign follows a leadership transfer: receivers skip the leader lease (thesis §3.10). */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'preVoteResp' | 'voteResp';
  readonly granted: boolean;
}

/** AppendEntries (Raft §5.3). An empty `entries` still carries `commit` and checks consistency. */
export interface Append extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends Envelope {
  readonly type: 'appendResp';
  /** The follower's log does not contain an entry at the append's `prevIndex` with its `prevTerm`. */
  readonly reject: boolean;
  /** Accepted: the highest index now known to match the leader's log. Rejected: the append's `prevIndex`. */
  readonly index: number;
  /**
   * On rejection, where the leader should look next: the follower's last index at or below
   * `prevIndex` whose term is at most `prevTerm`, and that term (0 when unknown). The leader
   * skips whole terms that cannot match instead of backing off one entry at a time.
   */
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** The leader is alive; also the round that confirms leadership for ReadIndex (thesis §6.4). */
export interface Heartbeat extends Envelope {
  readonly type: 'heartbeat';
  /** The leader's commit index, capped at what this follower is known to hold. */
  readonly commit: number;
  /** The newest pending read's context, echoed in the response; null when no read waits. */
  readonly context: string | null;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeatResp';
  readonly context: string | null;
}

/**
 * InstallSnapshot (Raft §7), metadata only: the driver streams the bytes and steps this
 * message into the receiver's core once they are on the receiver's disk.
 */
export interface InstallSnapshot extends Envelope {
  readonly type: 'snapshot';
  readonly snapshot: SnapshotMeta;
}

/** Start an election now, skipping PreVote and the lease: the leader hands over (thesis §3.10). */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeoutNow';
}

/** A proposal a follower forwards to the leader it knows. */
export interface ForwardedProposal extends Envelope {
  readonly type: 'propose';
  readonly data: Uint8Array;
}

/** A follower asks the leader for a read index on behalf of its client (thesis §6.4). */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'readIndex';
  readonly context: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'readIndexResp';
  readonly context: string;
  readonly index: number;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | Append
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | TimeoutNow
  | ForwardedProposal
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

/**
 * What an entry costs in a message or in memory: its payload plus a fixed allowance for the
 * index, term and type fields around it, so that empty entries are not free.
 */
export const entryOverheadBytes = 16;

export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + entryOverheadBytes;
}

// ---- validation ---------------------------------------------------------------------------
// Messages come off the network: the core checks every field before it looks at one, and
// ignores (and counts) a message that is not well formed.

/** The longest ReadIndex context accepted, from a client or a peer. */
export const maxReadContextLength = 1024;

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isContext(x: unknown): x is string {
  return typeof x === 'string' && x.length <= maxReadContextLength;
}

/**
 * Why `entries` is not a valid run of log entries following (`prevIndex`, `prevTerm`) with
 * terms no newer than `maxTerm`, or null when it is one.
 */
export function checkEntryList(
  entries: unknown,
  prevIndex: number,
  prevTerm: number,
  maxTerm: number,
): string | null {
  if (!Array.isArray(entries)) return 'entries is not an array';
  let index = prevIndex;
  let term = prevTerm;
  for (const e of entries as unknown[]) {
    if (typeof e !== 'object' || e === null) return 'entry is not an object';
    const entry = e as Record<string, unknown>;
    if (entry.index !== index + 1) return `entry index ${String(entry.index)} does not follow ${index}`;
    if (!isCount(entry.term) || entry.term < term || entry.term > maxTerm)
      return `entry ${index + 1} has term ${String(entry.term)} outside [${term}, ${maxTerm}]`;
    if (!(entry.data instanceof Uint8Array)) return `entry ${index + 1} data is not bytes`;
    if (entry.type === 'conf') {
      if (decodeConfEntry(entry.data) === null) return `entry ${index + 1} is not a configuration`;
    } else if (entry.type !== 'normal') return `entry ${index + 1} has unknown type ${String(entry.type)}`;
    index = entry.index;
    term = entry.term;
  }
  return null;
}

export function checkSnapshotMeta(x: unknown): string | null {
  if (typeof x !== 'object' || x === null) return 'snapshot is not an object';
  const s = x as Record<string, unknown>;
  if (!isCount(s.index) || s.index === 0 || !isCount(s.term) || s.term === 0)
    return 'snapshot index or term is invalid';
  if (!isConfState(s.conf) || s.conf.voters.length === 0) return 'snapshot conf is invalid';
  return null;
}

/** Why `x` is not a well-formed message addressed to `self`, or null when it is one. */
export function checkMessage(x: unknown, self: NodeId): string | null {
  if (typeof x !== 'object' || x === null) return 'not an object';
  const m = x as Record<string, unknown>;
  if (m.to !== self) return `addressed to ${String(m.to)}`;
  if (!isNodeId(m.from) || m.from === self) return 'bad sender';
  if (!isCount(m.term)) return 'bad term';
  switch (m.type as MessageType) {
    case 'preVote':
    case 'vote':
      if (m.term === 0 || !isCount(m.lastIndex) || !isCount(m.lastTerm) || m.lastTerm > m.term)
        return 'bad vote request';
      return typeof m.transfer === 'boolean' ? null : 'bad transfer flag';
    case 'preVoteResp':
    case 'voteResp':
      return typeof m.granted === 'boolean' ? null : 'bad granted flag';
    case 'append':
      if (!isCount(m.prevIndex) || !isCount(m.prevTerm) || !isCount(m.commit) || m.prevTerm > m.term)
        return 'bad append header';
      return checkEntryList(m.entries, m.prevIndex, m.prevTerm, m.term);
    case 'appendResp':
      return typeof m.reject === 'boolean' && isCount(m.index) && isCount(m.hintIndex) && isCount(m.hintTerm)
        ? null
        : 'bad append response';
    case 'heartbeat':
      return isCount(m.commit) && (m.context === null || isContext(m.context)) ? null : 'bad heartbeat';
    case 'heartbeatResp':
      return m.context === null || isContext(m.context) ? null : 'bad heartbeat response';
    case 'snapshot':
      return checkSnapshotMeta(m.snapshot);
    case 'timeoutNow':
      return null;
    case 'propose':
      return m.data instanceof Uint8Array ? null : 'proposal data is not bytes';
    case 'readIndex':
      return isContext(m.context) ? null : 'bad read context';
    case 'readIndexResp':
      return isContext(m.context) && isCount(m.index) ? null : 'bad read index response';
    default:
      return `unknown type ${String(m.type)}`;
  }
}
