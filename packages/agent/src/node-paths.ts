import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { assert } from '@flotilla/actor';

/**
 * Every file, socket and interface name one node agent uses. All of them derive from
 * the node's name (through its data directory), so several agents on one machine — one
 * per node namespace — never share anything.
 */
export type NodePaths = {
  readonly nodeName: string;
  readonly dataDir: string;
  readonly containerdDir: string;
  readonly containerdConfig: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdSocket: string;
  readonly containerdPidFile: string;
  readonly containerdLog: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  /** host-local IPAM's allocations. */
  readonly cniDataDir: string;
  /** Per-pod directories: volumes, the managed /etc/hosts, termination messages. */
  readonly podsDir: string;
  /** CRI log directories, one per pod (kubelet's /var/log/pods). */
  readonly podLogsDir: string;
  /** Image archives built locally, kept to make a rebuild unnecessary. */
  readonly imagesDir: string;
  readonly bridge: string;
  readonly networkName: string;
};

/** Linux limits interface names to 15 bytes. */
const maxInterfaceNameBytes = 15;
/** sockaddr_un.sun_path is 108 bytes with its terminating NUL; `.ttrpc` is appended to the socket. */
const maxSocketPathBytes = 107 - '.ttrpc'.length;

export function defaultDataDir(nodeName: string): string {
  return join('/var/lib/flotilla/agent', nodeName);
}

/** `flo` and ten hex digits of the node name's hash: unique per node, short enough for Linux. */
export function bridgeNameFor(nodeName: string): string {
  const name = `flo${createHash('sha256').update(nodeName).digest('hex').slice(0, 10)}`;
  assert(name.length <= maxInterfaceNameBytes, `bridge name ${name} is too long`);
  return name;
}

export function nodePaths(nodeName: string, dataDir: string = defaultDataDir(nodeName)): NodePaths {
  assert(
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(nodeName),
    `node name ${JSON.stringify(nodeName)} is not a DNS name`,
  );
  const containerdDir = join(dataDir, 'containerd');
  const containerdSocket = join(containerdDir, 'containerd.sock');
  assert(
    Buffer.byteLength(containerdSocket) <= maxSocketPathBytes,
    `containerd socket path ${containerdSocket} is longer than ${maxSocketPathBytes} bytes`,
  );
  return {
    nodeName,
    dataDir,
    containerdDir,
    containerdConfig: join(containerdDir, 'config.toml'),
    containerdRoot: join(containerdDir, 'root'),
    containerdState: join(containerdDir, 'state'),
    containerdSocket,
    containerdPidFile: join(containerdDir, 'containerd.pid'),
    containerdLog: join(containerdDir, 'containerd.log'),
    runcRoot: join(dataDir, 'runc'),
    cniConfDir: join(dataDir, 'cni', 'net.d'),
    cniDataDir: join(dataDir, 'cni', 'ipam'),
    podsDir: join(dataDir, 'pods'),
    podLogsDir: join(dataDir, 'pod-logs'),
    imagesDir: join(dataDir, 'images'),
    bridge: bridgeNameFor(nodeName),
    networkName: `flotilla-${nodeName}`,
  };
}
