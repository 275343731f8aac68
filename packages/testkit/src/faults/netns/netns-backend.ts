import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Logger, silentLogger } from '@flotilla/actor';
import { destroyUnderlay, runNet, Underlay } from '@flotilla/agent/net';
import type { NodeId } from '@flotilla/raft';
import { registerCleanup } from '../../cleanup.ts';
import { natsServerBinary } from '../../nats.ts';
import { ManagedProcess } from '../../process.ts';
import type { StoreMemberConfig } from '../../store/store-cluster.ts';
import { tempDir } from '../../tmp.ts';
import type { HostBackend, HostProcessSpec, MemberLaunch } from '../backend.ts';
import { natsPorts, natsServerConfig } from '../nats-config.ts';
import {
  claimSubnet,
  orphanedFaultStates,
  releaseSubnet,
  removeFaultState,
  type Subnet,
  writeFaultState,
} from '../subnet.ts';

const memberMain = fileURLToPath(new URL('../../store/store-member-main.ts', import.meta.url));
/** A NATS server that does not serve (and route) within this long failed to start. */
const natsReadyTimeoutMs = 15_000;
/** The chain in each host namespace that holds its drop rules (INPUT jumps to it). */
const faultChain = 'FLOTILLA-FAULTS';

type Host = {
  readonly id: NodeId;
  readonly netns: string;
  readonly address: string;
  readonly interface: string;
  readonly nats: ManagedProcess;
  member: ManagedProcess | undefined;
  readonly extras: ManagedProcess[];
  drops: readonly NodeId[];
  disconnected: boolean;
};

let underlaySeq = 0;

/**
 * Members as processes in network namespaces: each host is a namespace on the shared
 * underlay (`@flotilla/agent/net`'s bridge in a switch namespace, with a leg into the root
 * namespace for the test's clients), running its NATS server and its store member, which
 * talks only to that server as on a control-plane machine. Partitions are iptables drops
 * inside the hosts; kill and pause are real SIGKILL and SIGSTOP. Root only.
 */
export class NetnsBackend implements HostBackend {
  readonly kind = 'netns' as const;
  readonly underlay: Underlay;
  readonly dir: string;
  private readonly subnet: Subnet;
  private readonly log: Logger;
  private readonly hosts = new Map<NodeId, Host>();
  private natsMaxPayloadBytes: number | undefined;
  private destroyed = false;
  private readonly unregister: () => void;

  private constructor(underlay: Underlay, subnet: Subnet, dir: string, log: Logger) {
    this.underlay = underlay;
    this.subnet = subnet;
    this.dir = dir;
    this.log = log.child({ component: 'netns-backend', underlay: underlay.name });
    this.unregister = registerCleanup({ name: `netns backend ${underlay.name}`, run: () => this.destroy() });
  }

  static async create(
    options: { readonly dir?: string; readonly log?: Logger; readonly natsMaxPayloadBytes?: number } = {},
  ): Promise<NetnsBackend> {
    if (process.getuid?.() !== 0)
      throw new Error('the netns backend needs root (network namespaces, iptables)');
    const log = options.log ?? silentLogger();
    // What runs that died without tearing down left behind.
    for (const state of orphanedFaultStates()) {
      if (state.kind !== 'netns') continue;
      await destroyUnderlay({ name: state.name, cidr: state.cidr, guardedRanges: [] });
      await releaseSubnet(state.cidr);
      removeFaultState(state.name);
    }
    const subnet = await claimSubnet();
    underlaySeq += 1;
    // Short and plain: the underlay's names prefix interface names.
    const name = `fk${process.pid.toString(36)}n${underlaySeq.toString(36)}`;
    writeFaultState({ kind: 'netns', name, pid: process.pid, cidr: subnet.cidr });
    let underlay: Underlay;
    try {
      underlay = await Underlay.create({
        name,
        cidr: subnet.cidr,
        guardedRanges: [],
        rootAddress: subnet.address(1),
        logger: log,
      });
    } catch (err) {
      await releaseSubnet(subnet.cidr);
      removeFaultState(name);
      throw err;
    }
    const backend = new NetnsBackend(underlay, subnet, options.dir ?? tempDir('netns'), log);
    backend.natsMaxPayloadBytes = options.natsMaxPayloadBytes;
    return backend;
  }

  private host(id: NodeId): Host {
    const h = this.hosts.get(id);
    if (!h) throw new RangeError(`no host ${id}`);
    return h;
  }

  natsUrl(id: NodeId): string {
    return `nats://${this.host(id).address}:${natsPorts.client}`;
  }

  natsUrls(): readonly string[] {
    return [...this.hosts.keys()].map((id) => this.natsUrl(id));
  }

  address(id: NodeId): string {
    return this.host(id).address;
  }

  memberDir(id: NodeId): string {
    return join(this.dir, id);
  }

  memberLog(id: NodeId): string {
    return join(this.dir, `${id}.log`);
  }

  async addHosts(ids: readonly NodeId[], peers: readonly NodeId[]): Promise<void> {
    const created = [];
    for (const id of ids) {
      const h = await this.underlay.addHost(id);
      await runNet('iptables-restore', ['-w', '--noflush'], {
        netns: h.netns,
        input: `*filter\n:${faultChain} - [0:0]\n-A INPUT -j ${faultChain}\nCOMMIT\n`,
      });
      created.push(h);
    }
    const addresses = [...created.map((h) => h.address), ...peers.map((p) => this.host(p).address)];
    for (const h of created) {
      const conf = join(this.dir, `nats-${h.name}.conf`);
      writeFileSync(
        conf,
        natsServerConfig({
          name: h.name,
          listen: h.address,
          routes: addresses.filter((a) => a !== h.address).map((a) => `${a}:${natsPorts.cluster}`),
          maxPayloadBytes: this.natsMaxPayloadBytes,
        }),
      );
      const nats = new ManagedProcess({
        name: `nats-${h.name}`,
        command: 'ip',
        args: ['netns', 'exec', h.netns, natsServerBinary(), '-c', conf],
        logFile: join(this.dir, `nats-${h.name}.log`),
      }).start();
      this.hosts.set(h.name, {
        id: h.name,
        netns: h.netns,
        address: h.address,
        interface: h.interface,
        nats,
        member: undefined,
        extras: [],
        drops: [],
        disconnected: false,
      });
    }
    await Promise.all(
      created.map((h) => waitNatsReady(h.address, this.host(h.name).nats, addresses.length - 1)),
    );
    this.log.info({ hosts: ids }, 'hosts up');
  }

  async startProcess(id: NodeId, spec: HostProcessSpec): Promise<void> {
    const h = this.host(id);
    h.extras.push(
      new ManagedProcess({
        name: `${spec.name}-${id}`,
        command: 'ip',
        args: ['netns', 'exec', h.netns, process.execPath, spec.script],
        env: spec.env,
        logFile: this.processLog(id, spec.name),
      }).start(),
    );
  }

  processLog(id: NodeId, name: string): string {
    return join(this.dir, `${id}-${name}.log`);
  }

  async removeHost(id: NodeId): Promise<void> {
    const h = this.host(id);
    await Promise.all(h.extras.map((p) => p.dispose()));
    await h.member?.dispose();
    await h.nats.dispose();
    await this.underlay.removeHost(id);
    this.hosts.delete(id);
  }

  async startMember(id: NodeId, launch: MemberLaunch): Promise<void> {
    const h = this.host(id);
    if (h.member?.running) throw new Error(`member ${id} is already running`);
    await h.member?.dispose();
    const { failpoints, ...rest } = launch;
    const config: StoreMemberConfig = { ...rest, dir: this.memberDir(id), nats: [this.natsUrl(id)] };
    h.member = new ManagedProcess({
      name: `store-${id}`,
      command: 'ip',
      args: ['netns', 'exec', h.netns, process.execPath, memberMain],
      env: { FLOTILLA_STORE_CONFIG: JSON.stringify(config), FLOTILLA_FAILPOINTS: failpoints },
      logFile: this.memberLog(id),
    }).start();
  }

  async killMember(id: NodeId): Promise<void> {
    await this.host(id).member?.kill();
  }

  async stopMember(id: NodeId, graceMs: number): Promise<void> {
    await this.host(id).member?.stop(graceMs);
  }

  async pauseMember(id: NodeId): Promise<void> {
    this.host(id).member?.pause();
  }

  async resumeMember(id: NodeId): Promise<void> {
    this.host(id).member?.resume();
  }

  async memberRunning(id: NodeId): Promise<boolean> {
    return this.host(id).member?.running ?? false;
  }

  async dropFrom(id: NodeId, from: readonly NodeId[]): Promise<void> {
    const h = this.host(id);
    h.drops = [...from];
    await this.applyDrops(h);
  }

  async disconnect(id: NodeId): Promise<void> {
    const h = this.host(id);
    h.disconnected = true;
    await this.applyDrops(h);
  }

  async reconnect(id: NodeId): Promise<void> {
    const h = this.host(id);
    h.disconnected = false;
    await this.applyDrops(h);
  }

  /**
   * The host's drop chain, replaced whole with one iptables-restore. Rules match only what
   * arrives on its underlay interface: its own loopback (member to NATS) is never dropped.
   */
  private async applyDrops(h: Host): Promise<void> {
    const rules = h.disconnected
      ? [`-A ${faultChain} -i ${h.interface} -j DROP`]
      : h.drops.map((p) => `-A ${faultChain} -i ${h.interface} -s ${this.host(p).address}/32 -j DROP`);
    await runNet('iptables-restore', ['-w', '--noflush'], {
      netns: h.netns,
      input: ['*filter', `:${faultChain} - [0:0]`, ...rules, 'COMMIT', ''].join('\n'),
    });
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.hosts.values()) {
      await Promise.all(h.extras.map((p) => p.dispose()));
      await h.member?.dispose();
      await h.nats.dispose();
    }
    this.hosts.clear();
    await this.underlay.destroy();
    await releaseSubnet(this.subnet.cidr);
    removeFaultState(this.underlay.name);
    this.unregister();
  }
}

/** Until the server answers its monitor with at least `routes` routes up (bounded). */
async function waitNatsReady(address: string, proc: ManagedProcess, routes: number): Promise<void> {
  const deadline = Date.now() + natsReadyTimeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`nats-server on ${address} exited; see ${proc.spec.logFile}`);
    try {
      const res = await fetch(`http://${address}:${natsPorts.monitor}/routez`, {
        signal: AbortSignal.timeout(1_000),
      });
      const body = (await res.json()) as { num_routes?: number };
      if ((body.num_routes ?? 0) >= routes) return;
      last = `${body.num_routes ?? 0}/${routes} routes`;
    } catch (err) {
      last = String(err);
    }
    await delay(50);
  }
  throw new Error(`nats-server on ${address} not ready in ${natsReadyTimeoutMs} ms (${last})`);
}
