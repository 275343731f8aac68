import { type Logger, silentLogger } from '@flotilla/actor';
import { cidrSize, formatIP, nthAddress, parseCIDR, parseIP } from '@flotilla/api';
import { removeIgnoringMissing } from './command.ts';
import { InvalidNetworkSpecError } from './errors.ts';
import {
  addAddress,
  addBridge,
  addVethPair,
  attachToBridge,
  deleteLink,
  setLinkUp,
  setSysctl,
} from './links.ts';
import { createNetns, deleteNetns, listNetns } from './netns.ts';
import {
  canonicalCIDR,
  checkRangeFree,
  guardRouteMetric,
  installRoute,
  listOwnRoutes,
  type Route,
  removeRoute,
  routeKey,
} from './routes.ts';

export type UnderlayOptions = {
  /**
   * Names everything this underlay creates: the switch namespace `<name>-sw`, host
   * namespaces `<name>-<host>`, and the root namespace's interface `<name>-up`.
   */
  readonly name: string;
  /** The underlay subnet the hosts share, e.g. `10.99.0.0/24`. */
  readonly cidr: string;
  /**
   * The other ranges that will exist on this machine only inside the hosts (the pod
   * range, the service range). Each, like the underlay itself, gets a blackhole route in
   * the root namespace so a packet to it never follows the default route off the machine.
   */
  readonly guardedRanges: readonly string[];
  /**
   * Gives the root namespace this address on the underlay (so tools run on the machine
   * reach the hosts). Absent: the root namespace has no address there.
   */
  readonly rootAddress?: string;
  readonly logger?: Logger;
};

/** A network namespace acting as a machine on the underlay. */
export type UnderlayHost = {
  readonly name: string;
  readonly netns: string;
  /** Its address on the underlay (without prefix). */
  readonly address: string;
  /** Its interface on the underlay, inside `netns`. */
  readonly interface: string;
};

/** The bridge inside the switch namespace. */
const switchBridge = 'br0';
/** The host side of each host's link; the same name in every host, like a machine's eth0. */
const hostInterface = 'eth0';
/** Address index of the first host (.1 is left for the root namespace's leg by convention). */
const firstHostIndex = 2;

export function switchNetnsName(underlay: string): string {
  return `${underlay}-sw`;
}

export function hostNetnsName(underlay: string, host: string): string {
  return `${underlay}-${host}`;
}

function rootLegName(underlay: string): string {
  return `${underlay}-up`;
}

function checkUnderlayName(name: string): void {
  // `<name>-up` must fit an interface name (15 bytes).
  if (!/^[a-z][a-z0-9]{0,9}$/.test(name)) {
    throw new InvalidNetworkSpecError(`underlay name ${JSON.stringify(name)} is not [a-z][a-z0-9]{0,9}`);
  }
}

/**
 * Several "machines" on one machine: a switch namespace holding a bridge, and host
 * namespaces each joined to it by a veth, with their own address, loopback and
 * forwarding. The switch lives in a namespace of its own rather than in the root one:
 * the machine's firewall (Docker's FORWARD policy DROP, with br_netfilter) then never
 * sees the frames between hosts, and nothing of the underlay shows in the root
 * namespace but the guard routes.
 */
export class Underlay {
  readonly name: string;
  readonly cidr: string;
  readonly prefixLength: number;
  readonly switchNetns: string;
  private readonly options: UnderlayOptions;
  private readonly log: Logger;
  private readonly hosts = new Map<string, UnderlayHost>();
  /** Addresses of hosts removed since: handed out again only when nothing else is left. */
  private readonly retired = new Set<string>();
  private nextPort = 0;

  private constructor(options: UnderlayOptions) {
    checkUnderlayName(options.name);
    this.options = options;
    this.name = options.name;
    this.cidr = canonicalCIDR(options.cidr);
    this.prefixLength = parseCIDR(this.cidr)!.prefixLength;
    this.switchNetns = switchNetnsName(options.name);
    this.log = (options.logger ?? silentLogger()).child({ component: 'underlay', underlay: options.name });
  }

  /** The blackhole routes this underlay keeps in the root namespace. */
  static guardRoutes(options: Pick<UnderlayOptions, 'cidr' | 'guardedRanges'>): readonly Route[] {
    return [options.cidr, ...options.guardedRanges].map(
      (r): Route => ({ kind: 'blackhole', dst: canonicalCIDR(r), metric: guardRouteMetric }),
    );
  }

  /**
   * Creates the switch and the root namespace's guard routes. Refuses ranges that
   * overlap a route the machine already has: they would shadow it, or leak.
   */
  static async create(options: UnderlayOptions): Promise<Underlay> {
    const underlay = new Underlay(options);
    const guards = Underlay.guardRoutes(options);
    for (const guard of guards) await checkRangeFree(undefined, guard.dst);
    try {
      for (const guard of guards) await installRoute(undefined, guard);
      await createNetns(underlay.switchNetns);
      // A switch, not a router: no addresses, no forwarding, and the bridge does not
      // hand its frames to this namespace's (empty) iptables.
      await setSysctl(underlay.switchNetns, 'net.ipv4.ip_forward', '0');
      await setSysctl(underlay.switchNetns, 'net.bridge.bridge-nf-call-iptables', '0').catch(() => {});
      await addBridge({ netns: underlay.switchNetns, name: switchBridge });
      if (options.rootAddress !== undefined) await underlay.addRootLeg(options.rootAddress);
    } catch (err) {
      await destroyUnderlay(options);
      throw err;
    }
    underlay.log.info({ cidr: underlay.cidr, guarded: guards.map((g) => g.dst) }, 'underlay created');
    return underlay;
  }

  /** Adds a host namespace with `address` on the underlay (the next free one when absent). */
  async addHost(name: string, address?: string): Promise<UnderlayHost> {
    if (this.hosts.has(name))
      throw new InvalidNetworkSpecError(`host ${name} already exists on ${this.name}`);
    const chosen = address ?? this.nextFreeAddress();
    this.checkAddress(chosen);
    const host: UnderlayHost = {
      name,
      netns: hostNetnsName(this.name, name),
      address: chosen,
      interface: hostInterface,
    };
    const port = `port${this.nextPort++}`;
    await createNetns(host.netns);
    this.hosts.set(name, host);
    await addVethPair({ netns: host.netns, name: hostInterface }, { netns: this.switchNetns, name: port });
    await attachToBridge({ netns: this.switchNetns, name: port }, switchBridge, { hairpin: false });
    await addAddress({ netns: host.netns, name: hostInterface }, `${chosen}/${this.prefixLength}`);
    await setLinkUp({ netns: host.netns, name: hostInterface });
    await setSysctl(host.netns, 'net.ipv4.ip_forward', '1');
    this.log.info({ host: name, address: chosen }, 'host added');
    return host;
  }

  host(name: string): UnderlayHost {
    const host = this.hosts.get(name);
    if (host === undefined) throw new InvalidNetworkSpecError(`no host ${name} on underlay ${this.name}`);
    return host;
  }

  get hostList(): readonly UnderlayHost[] {
    return [...this.hosts.values()];
  }

  /** Deletes a host namespace and everything running in it. */
  async removeHost(name: string): Promise<void> {
    const host = this.host(name);
    await deleteNetns(host.netns);
    this.hosts.delete(name);
    this.retired.add(host.address);
  }

  /** Removes every namespace, interface and route this underlay created. */
  async destroy(): Promise<void> {
    await destroyUnderlay(this.options);
    this.hosts.clear();
    this.log.info('underlay destroyed');
  }

  private async addRootLeg(address: string): Promise<void> {
    this.checkInRange(address);
    const leg = rootLegName(this.name);
    await addVethPair({ name: leg }, { netns: this.switchNetns, name: 'uplink' });
    await attachToBridge({ netns: this.switchNetns, name: 'uplink' }, switchBridge, { hairpin: false });
    await addAddress({ name: leg }, `${address}/${this.prefixLength}`);
    await setLinkUp({ name: leg });
  }

  private checkInRange(address: string): void {
    const ip = parseIP(address);
    const cidr = parseCIDR(this.cidr)!;
    const broadcast = cidr.network + cidrSize(cidr) - 1n;
    if (ip === undefined || ip.family !== 'IPv4' || ip.value <= cidr.network || ip.value >= broadcast) {
      throw new InvalidNetworkSpecError(`${address} is not a host address of ${this.cidr}`);
    }
  }

  private checkAddress(address: string): void {
    this.checkInRange(address);
    const taken = [...this.hosts.values()].some((h) => h.address === address);
    if (taken || address === this.options.rootAddress) {
      throw new InvalidNetworkSpecError(`${address} is already used on ${this.name}`);
    }
  }

  /**
   * The first address no host has held, else the first one free now. A removed host's
   * address is reused last: its old interface's MAC stays in the neighbour tables of the
   * root namespace and the other hosts until they time out, so a new host behind it is
   * unreachable for seconds (seen when a chaos run replaced a member twice).
   */
  private nextFreeAddress(): string {
    const cidr = parseCIDR(this.cidr)!;
    const used = new Set([...this.hosts.values()].map((h) => h.address));
    if (this.options.rootAddress !== undefined) used.add(this.options.rootAddress);
    const last = Number(cidrSize(cidr)) - 2;
    for (const avoid of [new Set([...used, ...this.retired]), used]) {
      for (let i = firstHostIndex; i <= last; i++) {
        const candidate = formatIP(nthAddress(cidr, i));
        if (!avoid.has(candidate)) return candidate;
      }
    }
    throw new InvalidNetworkSpecError(`no free address left on ${this.name} (${this.cidr})`);
  }
}

/**
 * Removes what an underlay of this name left on the machine, whether or not the
 * process that made it still runs: its namespaces (and whatever runs in them), the root
 * namespace's leg, and its guard routes. Only objects named after it, or routes of ours
 * for exactly its ranges, are touched.
 */
export async function destroyUnderlay(
  options: Pick<UnderlayOptions, 'name' | 'cidr' | 'guardedRanges'>,
): Promise<void> {
  checkUnderlayName(options.name);
  // Deleting a namespace frees its interfaces asynchronously (the kernel's netns cleanup
  // work): the root leg is deleted by hand, so it is gone when this returns.
  await removeIgnoringMissing(deleteLink({ name: rootLegName(options.name) }));
  const sw = switchNetnsName(options.name);
  const hosts = listNetns().filter((n) => n.startsWith(`${options.name}-`) && n !== sw);
  for (const ns of hosts) await deleteNetns(ns);
  await deleteNetns(sw);
  const guards = new Set(Underlay.guardRoutes(options).map(routeKey));
  for (const route of await listOwnRoutes(undefined)) {
    if (guards.has(routeKey(route))) await removeIgnoringMissing(removeRoute(undefined, route));
  }
}
