/**
 * Fake nodes (KWOK-style): what one process hosting N simulated nodes is configured with,
 * and the actor through which a test steers it (stop a node's heartbeats, read counts).
 */
import type { Ask } from '@flotilla/actor';
import type { ResourceList, Taint } from '@flotilla/api';

export type FakeNodesConfig = {
  /** Names this process's actor: `fake-nodes.<cluster>.<name>`. */
  readonly name: string;
  readonly count: number;
  /** Node names are `<prefix><index>`, the index zero-padded to four digits. */
  readonly prefix: string;
  readonly capacity: ResourceList;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  /** Nodes are spread over this many `topology.kubernetes.io/zone` values (0: no zone label). */
  readonly zones: number;
  /** Register as control-plane nodes: role label and the control-plane NoSchedule taint. */
  readonly controlPlane: boolean;
  /** A pod bound to a node turns Running and Ready this long after it is seen bound. */
  readonly podReadyDelayMs: number;
  /** Lease renewal period of each node (the kubelet's default is 10 s). */
  readonly leaseRenewIntervalMs: number;
  readonly leaseDurationSeconds: number;
  /** Writes (status updates, lease renewals, deletions) in flight at once. */
  readonly maxWritesInFlight: number;
};

export const defaultFakeNodesConfig: Omit<FakeNodesConfig, 'name'> = {
  count: 3,
  prefix: 'fake-node-',
  capacity: { cpu: '8', memory: '32Gi', pods: '110' },
  labels: {},
  taints: [],
  zones: 0,
  controlPlane: false,
  podReadyDelayMs: 100,
  leaseRenewIntervalMs: 10_000,
  leaseDurationSeconds: 40,
  maxWritesInFlight: 64,
};

export const fakeNodesConfigEnvVar = 'FLOTILLA_FAKE_NODES_CONFIG';

export type FakeNodesSummary = {
  readonly nodes: number;
  readonly registered: number;
  readonly alive: number;
  /** Pods this process has made Running and that still exist. */
  readonly podsRunning: number;
  readonly leaseRenewals: number;
  readonly writeFailures: number;
};

export type FakeNodesProtocol = {
  summary: Ask<Record<string, never>, FakeNodesSummary>;
  /** Stop (alive false) or resume the heartbeats and pod handling of these nodes. */
  setAlive: Ask<{ readonly nodes: readonly string[]; readonly alive: boolean }, FakeNodesSummary>;
};

export const fakeNodesActorName = (clusterId: string, name: string) => `fake-nodes.${clusterId}.${name}`;

export function fakeNodeName(prefix: string, index: number): string {
  return `${prefix}${String(index).padStart(4, '0')}`;
}
