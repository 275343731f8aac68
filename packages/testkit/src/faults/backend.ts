import type { NodeId } from '@flotilla/raft';

/** Where a fault cluster's members run. */
export type BackendKind = 'netns' | 'containers';

export const backendKinds: readonly BackendKind[] = ['netns', 'containers'];

/** What a member process is started with (the JSON in FLOTILLA_STORE_CONFIG, less the paths). */
export type MemberLaunch = {
  readonly id: NodeId;
  readonly clusterId: string;
  /** Founding voters of a new cluster; absent for a member that joins or was restored. */
  readonly bootstrap?: readonly NodeId[];
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotCatchUpEntries: number;
  readonly autoCompactionRetainRevisions: number;
  readonly logLevel: string;
  /** FLOTILLA_FAILPOINTS for the process ('' leaves them unarmed). */
  readonly failpoints: string;
};

/** Another process of a host (an API server, a controller manager, a scheduler). */
export type HostProcessSpec = {
  readonly name: string;
  /** A TypeScript file of this repository, run by the project's Node. */
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
};

/**
 * The primitives a backend gives the fault cluster: hosts ("machines", each with its own
 * NATS server routed to the others), member processes on them, and the network between
 * them. Everything else (partition bookkeeping, the fault log, clients, membership and
 * recovery procedures) is the cluster's, the same for every backend.
 */
export interface HostBackend {
  readonly kind: BackendKind;
  /** Client URLs of every host's NATS server, as the test process reaches them. */
  natsUrls(): readonly string[];
  natsUrl(host: NodeId): string;
  /**
   * Start these hosts together, each NATS server routed to the others and to the running
   * `peers`; resolves once every new server has all its routes up.
   */
  addHosts(hosts: readonly NodeId[], peers: readonly NodeId[]): Promise<void>;
  /** Stop everything on the host and delete it. */
  removeHost(host: NodeId): Promise<void>;
  /** The member's data directory, as the test process sees it (for restores and post-mortems). */
  memberDir(host: NodeId): string;
  /** The member's output (appended across restarts). */
  memberLog(host: NodeId): string;
  /** Start the member process on its host (not waiting for it to serve). */
  startMember(host: NodeId, launch: MemberLaunch): Promise<void>;
  /** SIGKILL, and wait for it to be gone. */
  killMember(host: NodeId): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stopMember(host: NodeId, graceMs: number): Promise<void>;
  /** SIGSTOP (or the cgroup freezer) / SIGCONT. */
  pauseMember(host: NodeId): Promise<void>;
  resumeMember(host: NodeId): Promise<void>;
  memberRunning(host: NodeId): Promise<boolean>;
  /** The host's address as its peers see it (the source of its packets). */
  address(host: NodeId): string;
  /** Replace the host's inbound drop rules: packets from these hosts' addresses are dropped. */
  dropFrom(host: NodeId, from: readonly NodeId[]): Promise<void>;
  /** Unplug the host from the network entirely (peers and clients), or plug it back. */
  disconnect(host: NodeId): Promise<void>;
  reconnect(host: NodeId): Promise<void>;
  /** Start another process on the host; it runs until the host is removed. */
  startProcess(host: NodeId, spec: HostProcessSpec): Promise<void>;
  /** Where a host process's output goes. */
  processLog(host: NodeId, name: string): string;
  /** Remove everything the backend created. */
  destroy(): Promise<void>;
}
