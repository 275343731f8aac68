/**
 * Cluster membership: the changes a leader may propose, what a `conf` log entry carries, and
 * the pure functions that check and apply a change.
 *
 * Changes are one at a time (Ongaro's thesis §4.1): adding or removing a single voter moves
 * the majority by at most one member, so any majority of the old configuration overlaps any
 * majority of the new one, and no joint configuration is needed. A configuration takes
 * effect on each member as soon as its entry is in that member's log, committed or not; the
 * log is the single source of truth, so a truncated entry takes its configuration with it.
 */
import type { ConfState, NodeId } from './types.ts';

export type ConfChange =
  /** A new member that receives the log but neither votes nor counts toward any quorum. */
  | { readonly type: 'addLearner'; readonly node: NodeId }
  /** A new voting member straight away (prefer addLearner, then promote once it has caught up). */
  | { readonly type: 'addVoter'; readonly node: NodeId }
  /** A learner becomes a voter; the leader accepts this only once the learner has caught up. */
  | { readonly type: 'promote'; readonly node: NodeId }
  /** A voter or learner leaves. A leader that removes itself steps down once the entry commits. */
  | { readonly type: 'remove'; readonly node: NodeId };

export type ConfChangeType = ConfChange['type'];

/** The payload of a `conf` entry: why the configuration changed, and the whole configuration it now is. */
export interface ConfEntryData {
  readonly change: ConfChange | { readonly type: 'bootstrap' };
  /**
   * The resulting configuration in full, so a member that sees this entry knows the whole
   * membership without the entries (or snapshot) before it.
   */
  readonly conf: ConfState;
}

export const emptyConf: ConfState = { voters: [], learners: [] };

const changeTypes: ReadonlySet<string> = new Set<ConfChangeType>([
  'addLearner',
  'addVoter',
  'promote',
  'remove',
]);

export function isNodeId(x: unknown): x is NodeId {
  return typeof x === 'string' && x.length > 0 && x.length <= 255;
}

/** A well-formed change (shape only; whether it fits the current configuration is `checkConfChange`). */
export function isConfChange(x: unknown): x is ConfChange {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  return typeof c.type === 'string' && changeTypes.has(c.type) && isNodeId(c.node);
}

/** Sorted, duplicate-free id lists with no member both voter and learner. Empty is allowed. */
export function isConfState(x: unknown): x is ConfState {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  if (!Array.isArray(c.voters) || !Array.isArray(c.learners)) return false;
  if (!c.voters.every(isNodeId) || !c.learners.every(isNodeId)) return false;
  const all = new Set<string>([...c.voters, ...c.learners]);
  return all.size === c.voters.length + c.learners.length;
}

/** The canonical form: ids sorted, so that equal configurations compare and encode equally. */
export function normalizeConf(conf: ConfState): ConfState {
  return { voters: [...conf.voters].sort(), learners: [...conf.learners].sort() };
}

export function confEquals(a: ConfState, b: ConfState): boolean {
  return sameIds(a.voters, b.voters) && sameIds(a.learners, b.learners);
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isMember(conf: ConfState, node: NodeId): boolean {
  return conf.voters.includes(node) || conf.learners.includes(node);
}

/** Why `change` cannot apply to `conf`, or null when it can. */
export function checkConfChange(conf: ConfState, change: ConfChange): string | null {
  const voter = conf.voters.includes(change.node);
  const learner = conf.learners.includes(change.node);
  switch (change.type) {
    case 'addLearner':
    case 'addVoter':
      return voter || learner ? `${change.node} is already a ${voter ? 'voter' : 'learner'}` : null;
    case 'promote':
      return learner ? null : `${change.node} is not a learner`;
    case 'remove':
      if (!voter && !learner) return `${change.node} is not a member`;
      return voter && conf.voters.length === 1 ? `${change.node} is the last voter` : null;
  }
}

/** The configuration after `change`; the change must have passed `checkConfChange`. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const others = (ids: readonly NodeId[]) => ids.filter((id) => id !== change.node);
  switch (change.type) {
    case 'addLearner':
      return normalizeConf({ voters: conf.voters, learners: [...conf.learners, change.node] });
    case 'addVoter':
      return normalizeConf({ voters: [...conf.voters, change.node], learners: conf.learners });
    case 'promote':
      return normalizeConf({ voters: [...conf.voters, change.node], learners: others(conf.learners) });
    case 'remove':
      return { voters: others(conf.voters), learners: others(conf.learners) };
  }
}

// Conf entries are encoded as JSON text: readable in a hex dump of the WAL, and the core may
// not depend on a codec package. Keys are written in a fixed order so equal data encodes equally.
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeConfEntry(data: ConfEntryData): Uint8Array {
  const change =
    data.change.type === 'bootstrap'
      ? { type: 'bootstrap' }
      : { type: data.change.type, node: data.change.node };
  const conf = normalizeConf(data.conf);
  return encoder.encode(JSON.stringify({ change, conf: { voters: conf.voters, learners: conf.learners } }));
}

/** The payload of a conf entry, or null when the bytes are not one (bad input from a peer or a disk). */
export function decodeConfEntry(bytes: Uint8Array): ConfEntryData | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { change, conf } = parsed as Record<string, unknown>;
  if (!isConfState(conf) || conf.voters.length === 0) return null;
  const isBootstrap =
    typeof change === 'object' && change !== null && (change as Record<string, unknown>).type === 'bootstrap';
  if (!isBootstrap && !isConfChange(change)) return null;
  return { change: isBootstrap ? { type: 'bootstrap' } : (change as ConfChange), conf: normalizeConf(conf) };
}
