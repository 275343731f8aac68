/**
 * Every setting of the `flotilla` process, once: where it lives in the YAML file, its
 * environment variable and flag, its type, default and meaning. Loading, validation,
 * `--help` and docs/deploy.md's table all read this list.
 */
export type SettingType =
  | 'string'
  | 'id'
  | 'int'
  | 'list'
  | 'url-list'
  | 'address'
  | 'cidr'
  | 'level'
  | 'runtime'
  | 'ip';

export interface Setting {
  /** Dotted path in the YAML file and in the loaded config. */
  readonly path: string;
  readonly type: SettingType;
  readonly description: string;
  readonly default?: string | number | readonly string[];
  /** Bounds for ints. */
  readonly min?: number;
  readonly max?: number;
}

export const settings: readonly Setting[] = [
  {
    path: 'cluster',
    type: 'id',
    default: 'flotilla',
    description: 'cluster id: members of different clusters never talk',
  },
  { path: 'member', type: 'id', description: "this process's member (control plane) or node (agent) name" },
  {
    path: 'dataDir',
    type: 'string',
    default: '/var/lib/flotilla',
    description: 'where this member keeps its data',
  },
  {
    path: 'nats.servers',
    type: 'url-list',
    default: ['nats://127.0.0.1:4222'],
    description: 'NATS servers of the cluster, comma-separated',
  },
  { path: 'log.level', type: 'level', default: 'info', description: 'debug, info, warn or error' },
  {
    path: 'store.bootstrap',
    type: 'list',
    default: [],
    description: 'founding members of a new cluster (ignored once the member has state)',
  },
  {
    path: 'store.tickMs',
    type: 'int',
    default: 100,
    min: 10,
    max: 10_000,
    description: 'Raft tick (heartbeat interval)',
  },
  {
    path: 'store.electionTicks',
    type: 'int',
    default: 10,
    min: 2,
    max: 1_000,
    description: 'election timeout in ticks',
  },
  {
    path: 'store.snapshotEveryEntries',
    type: 'int',
    default: 10_000,
    min: 10,
    max: 10_000_000,
    description: 'applied entries between snapshots',
  },
  {
    path: 'store.autoCompactionRetainRevisions',
    type: 'int',
    default: 100_000,
    min: 0,
    max: 1_000_000_000,
    description: 'keep this many revisions (0: no automatic compaction)',
  },
  {
    path: 'apiserver.listen',
    type: 'address',
    default: '127.0.0.1:6443',
    description: 'HTTP address of the Kubernetes API (loopback unless set)',
  },
  {
    path: 'apiserver.serviceCIDR',
    type: 'cidr',
    default: '10.96.0.0/16',
    description: 'range Service ClusterIPs come from',
  },
  {
    path: 'controllers.clusterCIDR',
    type: 'cidr',
    default: '10.244.0.0/16',
    description: 'range node pod CIDRs come from',
  },
  {
    path: 'controllers.nodeCIDRMaskSize',
    type: 'int',
    default: 24,
    min: 8,
    max: 30,
    description: "prefix length of each node's pod CIDR",
  },
  { path: 'agent.runtime', type: 'runtime', default: 'containerd', description: 'containerd or fake' },
  {
    path: 'agent.containerdSocket',
    type: 'string',
    default: '',
    description: 'use this containerd socket instead of starting one',
  },
  {
    path: 'agent.nodeIP',
    type: 'ip',
    description:
      "the node's InternalIP: pods' hostIP, the next hop to its pods, where it serves the cluster DNS",
  },
  {
    path: 'agent.clusterDNS',
    type: 'ip',
    default: '10.96.0.10',
    description: "the kube-dns Service's cluster IP, pods' nameserver (inside apiserver.serviceCIDR)",
  },
  {
    path: 'agent.clusterDomain',
    type: 'string',
    default: 'cluster.local',
    description: 'the cluster DNS domain',
  },
  {
    path: 'agent.leaseRenewIntervalMs',
    type: 'int',
    default: 10_000,
    min: 1_000,
    max: 60_000,
    description: 'how often the node renews its Lease in kube-node-lease',
  },
];

/** `store.tickMs` → `FLOTILLA_STORE_TICK_MS`. */
export function envName(path: string): string {
  return `FLOTILLA_${path
    .replace(/\./g, '_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()}`;
}

/** `store.tickMs` → `--store-tick-ms`. */
export function flagName(path: string): string {
  return `--${path
    .replace(/\./g, '-')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()}`;
}
