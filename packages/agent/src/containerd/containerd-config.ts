import type { NodePaths } from '../node-paths.ts';

export type ContainerdConfigOptions = {
  /** The pause image every sandbox runs; must be present locally (no registry here). */
  readonly sandboxImage: string;
  readonly runcBinary: string;
  readonly cniBinDir: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
};

export const defaultContainerdConfigOptions: ContainerdConfigOptions = {
  sandboxImage: 'localhost/pause:1',
  runcBinary: '/usr/sbin/runc',
  // Debian's containernetworking-plugins, not the upstream /opt/cni/bin.
  cniBinDir: '/usr/lib/cni',
  logLevel: 'warn',
};

/**
 * Plugins an agent's containerd must not load: `opt` writes to /opt/containerd (shared by
 * every containerd on the machine); the snapshotters and tracing below cannot work here
 * and only log errors. (The v1 linux runtime must stay: 1.6's tasks service needs it.)
 */
const disabledPlugins = [
  'io.containerd.internal.v1.opt',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.internal.v1.tracing',
];

const q = (s: string): string => JSON.stringify(s);

/**
 * containerd's config (version 2) for one node agent: its own root, state, socket, runc
 * root and CNI directories, with the settings these machines need (see
 * /work/shared/notes/containerd-here.md): `restrict_oom_score_adj` because runc cannot
 * raise oom_score_adj without CAP_SYS_RESOURCE, netns mounts under our state dir, a
 * stream server on loopback with a kernel-chosen port.
 */
export function containerdConfig(
  paths: NodePaths,
  options: ContainerdConfigOptions = defaultContainerdConfigOptions,
): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = ${q(paths.containerdRoot)}`,
    `state = ${q(paths.containerdState)}`,
    `disabled_plugins = [${disabledPlugins.map(q).join(', ')}]`,
    '',
    '[grpc]',
    `  address = ${q(paths.containerdSocket)}`,
    '',
    '[ttrpc]',
    `  address = ${q(`${paths.containerdSocket}.ttrpc`)}`,
    '',
    '[debug]',
    '  address = ""',
    `  level = ${q(options.logLevel)}`,
    '',
    '[metrics]',
    '  address = ""',
    '',
    `[${cri}]`,
    `  sandbox_image = ${q(options.sandboxImage)}`,
    '  restrict_oom_score_adj = true',
    '  netns_mounts_under_state_dir = true',
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    '  enable_selinux = false',
    '  disable_apparmor = true',
    '  max_container_log_line_size = 16384',
    '',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    '',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    '',
    `[${cri}.containerd.runtimes.runc.options]`,
    `  BinaryName = ${q(options.runcBinary)}`,
    `  Root = ${q(paths.runcRoot)}`,
    '  SystemdCgroup = false',
    '',
    `[${cri}.cni]`,
    `  bin_dir = ${q(options.cniBinDir)}`,
    `  conf_dir = ${q(paths.cniConfDir)}`,
    '  max_conf_num = 1',
    '',
  ].join('\n');
}
