import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlotillaError } from '@flotilla/actor';
import { type CIDR, cidrSize, parseCIDR } from '@flotilla/api';
import { HostCommandError } from '../errors.ts';
import { runHost } from '../host-command.ts';
import { flotillaRouteProtocol } from '../net/routes.ts';
import type { NodePaths } from '../node-paths.ts';
import { cniConflist, conflistFileName, type PodNetwork } from './cni-config.ts';

/**
 * The blackhole route's metric: worse than the bridge's own connected route (metric 0),
 * so it only takes effect when the bridge is gone, and a packet to a pod address that no
 * bridge holds is dropped here instead of following the default route off the machine.
 */
export const blackholeRouteMetric = 4242;

const ipForwardSysctl = '/proc/sys/net/ipv4/ip_forward';
const ipForwardFile = 'ip_forward.before';
/** Records, in the node's data directory, the pod CIDR whose blackhole route this node installed. */
export const blackholeMarkerFile = 'blackhole-route';

function installedCIDR(paths: NodePaths): string | undefined {
  try {
    return readFileSync(join(paths.dataDir, blackholeMarkerFile), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export class PodNetworkConflictError extends FlotillaError {
  constructor(podCIDR: string, route: string) {
    super('PodNetworkConflict', `pod CIDR ${podCIDR} overlaps the machine's route ${route}`, {
      podCIDR,
      route,
    });
  }
}

type RouteEntry = {
  readonly dst?: string;
  readonly type?: string;
  readonly dev?: string;
  readonly metric?: number;
  readonly protocol?: string;
};

/**
 * A Flotilla guard: a `proto 241` blackhole over a range that holds this pod CIDR (the
 * cluster's pod range that `PodRouter` or an underlay installs). Being less specific, it
 * never shadows the node's own bridge route; it only drops what no node holds.
 */
function isGuardOver(route: RouteEntry, dst: CIDR, podCIDR: CIDR): boolean {
  return (
    route.type === 'blackhole' &&
    route.protocol === String(flotillaRouteProtocol) &&
    dst.prefixLength <= podCIDR.prefixLength
  );
}

/**
 * Prepares the host for this node's pods: refuses a pod CIDR that overlaps a route
 * something else installed (Flotilla's own guard blackholes over the cluster range
 * aside), adds the blackhole route, writes the CNI conflist. The bridge itself is
 * created by the bridge plugin with the first sandbox.
 */
export async function setUpHostNetwork(paths: NodePaths, network: PodNetwork): Promise<void> {
  const ours = parseCIDR(network.podCIDR)!;
  // Only a route this very node installed (its marker says so) or its own bridge's is expected.
  const mine = installedCIDR(paths) === network.podCIDR;
  for (const route of await routes()) {
    const dst =
      route.dst === 'default' || route.dst === undefined ? undefined : parseCIDR(withPrefix(route.dst));
    if (dst === undefined || !overlaps(dst, ours)) continue;
    const isOurs =
      route.dev === paths.bridge ||
      isGuardOver(route, dst, ours) ||
      (mine &&
        route.type === 'blackhole' &&
        route.metric === blackholeRouteMetric &&
        route.dst === network.podCIDR);
    if (!isOurs) throw new PodNetworkConflictError(network.podCIDR, JSON.stringify(route));
  }
  mkdirSync(paths.dataDir, { recursive: true });
  writeFileSync(join(paths.dataDir, blackholeMarkerFile), `${network.podCIDR}\n`);
  await runHost('ip', [
    'route',
    'replace',
    'blackhole',
    network.podCIDR,
    'metric',
    String(blackholeRouteMetric),
  ]);
  mkdirSync(paths.cniConfDir, { recursive: true });
  mkdirSync(paths.cniDataDir, { recursive: true });
  const saved = join(paths.dataDir, ipForwardFile);
  if (!existsSync(saved)) writeFileSync(saved, readFileSync(ipForwardSysctl, 'utf8'));
  writeFileSync(join(paths.cniConfDir, conflistFileName), cniConflist(paths, network));
}

/** Removes the bridge, the blackhole route, the conflist and the IPAM allocations. */
export async function tearDownHostNetwork(paths: NodePaths, network: PodNetwork): Promise<void> {
  await ignoreMissing(runHost('ip', ['link', 'delete', paths.bridge]));
  if (installedCIDR(paths) === network.podCIDR) {
    await ignoreMissing(
      runHost('ip', [
        'route',
        'delete',
        'blackhole',
        network.podCIDR,
        'metric',
        String(blackholeRouteMetric),
      ]),
    );
    rmSync(join(paths.dataDir, blackholeMarkerFile), { force: true });
  }
  rmSync(paths.cniConfDir, { recursive: true, force: true });
  rmSync(paths.cniDataDir, { recursive: true, force: true });
  restoreIpForward(paths);
}

/**
 * The bridge plugin turns on net.ipv4.ip_forward (for the whole network namespace) when
 * it makes the bridge a gateway. The value found before the first sandbox is saved and
 * put back at teardown, unless another Flotilla bridge still lives in this namespace:
 * its pods may need forwarding.
 */
function restoreIpForward(paths: NodePaths): void {
  const saved = join(paths.dataDir, ipForwardFile);
  if (!existsSync(saved)) return;
  const before = readFileSync(saved, 'utf8').trim();
  const otherBridges = readdirSync('/sys/class/net').filter(
    (n) => /^flo[0-9a-f]{10}$/.test(n) && n !== paths.bridge,
  );
  if (otherBridges.length === 0 && (before === '0' || before === '1'))
    writeFileSync(ipForwardSysctl, `${before}\n`);
  rmSync(saved, { force: true });
}

/** Whether the node's bridge exists (it does once a sandbox was created). */
export async function bridgeExists(paths: NodePaths): Promise<boolean> {
  try {
    await runHost('ip', ['link', 'show', paths.bridge]);
    return true;
  } catch {
    return false;
  }
}

/** The main table's routes that cover `podCIDR` (for tests and diagnostics). */
export async function routesFor(podCIDR: string): Promise<readonly RouteEntry[]> {
  return (await routes()).filter((r) => r.dst === podCIDR);
}

async function routes(): Promise<readonly RouteEntry[]> {
  return JSON.parse(await runHost('ip', ['-j', 'route', 'show', 'table', 'main'])) as RouteEntry[];
}

function withPrefix(dst: string): string {
  return dst.includes('/') ? dst : `${dst}/32`;
}

function overlaps(a: CIDR, b: CIDR): boolean {
  if (a.family !== b.family) return false;
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (
      err instanceof HostCommandError &&
      /Cannot find device|No such process|does not exist/i.test(err.stderr)
    ) {
      return;
    }
    throw err;
  }
}
