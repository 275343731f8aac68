import type { FailpointName, FailpointSpec, FailpointStatus } from '@flotilla/actor';
import type { NodeId } from '@flotilla/raft';

export type PartitionOptions = {
  /**
   * Drop only what `a` sends to `b` (b still reaches a). Over TCP (NATS routes) a one-way
   * cut stalls the connection both ways within seconds, as it would between machines.
   */
  readonly oneWay?: boolean;
};

export type RestartOptions = {
  /** SIGTERM and a clean stop (a leader hands over first) instead of SIGKILL. */
  readonly graceful?: boolean;
  /** Resolve only once the member serves again (default true). */
  readonly wait?: boolean;
  /** FLOTILLA_FAILPOINTS for the new process (JSON of failpoints active from its start). */
  readonly failpoints?: Partial<Record<FailpointName, FailpointSpec>>;
};

export type FaultKind =
  | 'kill'
  | 'pause'
  | 'partition'
  | 'isolate'
  | 'disconnect'
  | 'failpoint'
  | 'restart'
  | 'membership'
  | 'restore';

/** One fault as it happened: when it began and, once undone, when it ended. */
export type FaultRecord = {
  readonly kind: FaultKind;
  readonly members: readonly NodeId[];
  readonly detail: string;
  /** performance.now() milliseconds, the clock histories use. */
  readonly startMs: number;
  /** When it was undone (restart, resume, heal, cleared); absent while it lasts. */
  endMs?: number;
};

/**
 * The fault API a test calls on a cluster of store members, whatever runs them (network
 * namespaces or containers). Every call returns once the fault is in place.
 */
export interface FaultApi {
  /** SIGKILL the member's process. It stays down until `restart`. */
  kill(member: NodeId): Promise<void>;
  /** Freeze the member (SIGSTOP / cgroup freezer); with `ms`, thaw it after that long and resolve then. */
  pause(member: NodeId, ms?: number): Promise<void>;
  resume(member: NodeId): Promise<void>;
  /** Drop packets between every member of `a` and every member of `b` (both ways unless `oneWay`). */
  partition(a: readonly NodeId[], b: readonly NodeId[], options?: PartitionOptions): Promise<void>;
  /** Cut the member off from every other member; clients still reach it. */
  isolate(member: NodeId): Promise<void>;
  /** Unplug the member's host from the network: peers and clients lose it. */
  disconnect(member: NodeId): Promise<void>;
  /** Undo every partition, isolation and disconnection. Paused and killed members stay so. */
  heal(): Promise<void>;
  /** Start the member again on its data (killing it first if it runs). */
  restart(member: NodeId, options?: RestartOptions): Promise<void>;
  /** Switch a failpoint on in the member's process (members are started with failpoints armed). */
  setFailpoint(member: NodeId, name: FailpointName, spec: FailpointSpec): Promise<FailpointStatus>;
  /** Switch one failpoint (or all) off. */
  clearFailpoint(member: NodeId, name?: FailpointName): Promise<FailpointStatus>;
  failpointStatus(member: NodeId): Promise<FailpointStatus>;
}
