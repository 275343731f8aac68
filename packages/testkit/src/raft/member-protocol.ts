import type { Ask } from '@flotilla/actor';
import type { ConfChange, ConfState, NodeId, NodeStatus } from '@flotilla/raft';

/** How the harness starts a member process (passed as JSON in FLOTILLA_MEMBER_CONFIG). */
export interface MemberConfig {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly dir: string;
  readonly nats: readonly string[];
  /** Voters of a new cluster; absent for a member that joins an existing one. */
  readonly bootstrap?: readonly NodeId[];
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotCatchUpEntries: number;
  readonly logLevel: string;
}

export interface MemberSummary {
  readonly applied: number;
  readonly count: number;
  readonly digest: number;
}

/** The member process's admin actor, `raft-member.<cluster>.<id>`. */
export type MemberProtocol = {
  propose: Ask<
    { readonly payload: string; readonly timeoutMs: number },
    { readonly index: number; readonly term: number }
  >;
  read: Ask<{ readonly timeoutMs: number }, { readonly index: number; readonly summary: MemberSummary }>;
  status: Ask<null, NodeStatus>;
  summary: Ask<null, MemberSummary>;
  slice: Ask<{ readonly from: number; readonly count: number }, readonly string[]>;
  transfer: Ask<{ readonly to: NodeId | null }, NodeId>;
  membership: Ask<{ readonly change: ConfChange; readonly timeoutMs: number }, ConfState>;
};

export const memberActorName = (clusterId: string, id: NodeId) => `raft-member.${clusterId}.${id}`;
