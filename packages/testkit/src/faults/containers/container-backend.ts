import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type Logger, silentLogger } from '@flotilla/actor';
import { runNet } from '@flotilla/agent/net';
import type { NodeId } from '@flotilla/raft';
import {
  type ContainerRuntimeClient,
  GenericContainer,
  getContainerRuntimeClient,
  Wait,
} from 'testcontainers';
import { registerCleanup } from '../../cleanup.ts';
import type { StoreMemberConfig } from '../../store/store-cluster.ts';
import { tempDir } from '../../tmp.ts';
import type { HostBackend, HostProcessSpec, MemberLaunch } from '../backend.ts';
import { natsPorts, natsServerConfig } from '../nats-config.ts';
import {
  claimSubnet,
  orphanedFaultStates,
  releaseSubnet,
  releaseSubnetSync,
  removeFaultState,
  type Subnet,
  writeFaultState,
} from '../subnet.ts';
import { dockerAvailability, useDockerHost } from './docker.ts';
import { ensureChaosImage, imageMemberMain, imageNatsServer, imageNode, inImagePath } from './image.ts';

type Dockerode = ContainerRuntimeClient['container']['dockerode'];

/** The chain in each host's network namespace that holds its drop rules. */
const faultChain = 'FLOTILLA-FAULTS';
/** Labels every container and network of ours carries: the harness process that owns it. */
const ownerLabel = 'org.flotilla.faults.owner';
const natsReadyTimeoutMs = 30_000;
/** Member data inside its container (a bind mount of a host directory). */
const memberDataDir = '/data';

type Host = {
  readonly id: NodeId;
  /** The NATS container owns the host's network namespace; the member joins it. */
  readonly natsId: string;
  readonly address: string;
  /** The namespace's owner process on the machine, for iptables inside it. */
  readonly pid: number;
  memberId: string | undefined;
  memberStarts: number;
  readonly extras: string[];
  drops: readonly NodeId[];
};

let networkSeq = 0;

/**
 * A container created on `network` with a fixed address (Docker's API allows it, the
 * builder does not say it): a host that is disconnected and reconnected keeps its address,
 * which its peers' routes and the test's clients know it by.
 */
class ContainerAt extends GenericContainer {
  constructor(image: string, network: string, address: string) {
    super(image);
    this.withNetworkMode(network);
    this.createOpts.NetworkingConfig = {
      EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: address } } },
    };
  }
}

/**
 * Members and their NATS servers as containers on a Docker network (testcontainers on a
 * daemon of the project's own), from an image imported from local files. Each host is a
 * NATS container whose network namespace its member container shares (a "machine": the
 * member talks to its server on loopback). Kill and pause are Docker's (SIGKILL, the cgroup
 * freezer); `disconnect` is `docker network disconnect`; partitions are iptables drops inside
 * the hosts' namespaces. Root only (iptables in the containers' namespaces).
 */
export class ContainerBackend implements HostBackend {
  readonly kind = 'containers' as const;
  readonly name: string;
  readonly dir: string;
  private readonly docker: Dockerode;
  private readonly image: string;
  private readonly network: { id: string; name: string; subnet: Subnet };
  private readonly log: Logger;
  private readonly hosts = new Map<NodeId, Host>();
  private natsMaxPayloadBytes: number | undefined;
  private nextAddress = 2;
  private destroyed = false;
  private readonly unregister: () => void;

  private constructor(parts: {
    name: string;
    dir: string;
    docker: Dockerode;
    image: string;
    network: { id: string; name: string; subnet: Subnet };
    log: Logger;
    dockerHost: string;
  }) {
    this.name = parts.name;
    this.dir = parts.dir;
    this.docker = parts.docker;
    this.image = parts.image;
    this.network = parts.network;
    this.log = parts.log.child({ component: 'container-backend', network: parts.name });
    const { dockerHost } = parts;
    this.unregister = registerCleanup({
      name: `containers ${parts.name}`,
      run: () => this.destroy(),
      onExit: () => destroySync(parts.name, parts.network.subnet.cidr, dockerHost),
    });
  }

  static async create(
    options: {
      readonly dir?: string;
      readonly log?: Logger;
      readonly dockerHost?: string;
      readonly natsMaxPayloadBytes?: number;
    } = {},
  ): Promise<ContainerBackend> {
    const availability = await dockerAvailability(options.dockerHost);
    if (!availability.ok) throw new Error(`the containers backend cannot run: ${availability.reason}`);
    const dockerHost = useDockerHost(availability.host);
    const client = await getContainerRuntimeClient();
    const docker = client.container.dockerode;
    await sweepOrphans(docker);
    const log = options.log ?? silentLogger();
    const image = await ensureChaosImage(docker);
    const subnet = await claimSubnet();
    networkSeq += 1;
    const name = `fk${process.pid.toString(36)}c${networkSeq.toString(36)}`;
    writeFaultState({ kind: 'containers', name, pid: process.pid, cidr: subnet.cidr, dockerHost });
    let networkId: string;
    try {
      const network = await docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        IPAM: { Config: [{ Subnet: subnet.cidr, Gateway: subnet.address(1) }] },
        Options: { 'com.docker.network.bridge.name': `${name}br` },
        Labels: { [ownerLabel]: String(process.pid) },
      });
      networkId = network.id;
    } catch (err) {
      await releaseSubnet(subnet.cidr);
      removeFaultState(name);
      throw err;
    }
    const dir = options.dir ?? tempDir('containers');
    log.info({ name, image, cidr: subnet.cidr }, 'container network created');
    const backend = new ContainerBackend({
      name,
      dir,
      docker,
      image,
      network: { id: networkId, name, subnet },
      log,
      dockerHost,
    });
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
    const planned = ids.map((id) => ({ id, address: this.network.subnet.address(this.nextAddress++) }));
    const addresses = [...planned.map((p) => p.address), ...peers.map((p) => this.host(p).address)];
    await Promise.all(planned.map((p) => this.startHost(p.id, p.address, addresses)));
    await Promise.all(planned.map((p) => waitNatsReady(p.address, addresses.length - 1)));
    this.log.info({ hosts: ids }, 'hosts up');
  }

  private async startHost(id: NodeId, address: string, addresses: readonly string[]): Promise<void> {
    const conf = natsServerConfig({
      name: id,
      listen: address,
      routes: addresses.filter((a) => a !== address).map((a) => `${a}:${natsPorts.cluster}`),
      maxPayloadBytes: this.natsMaxPayloadBytes,
    });
    const logFile = join(this.dir, `nats-${id}.log`);
    const started = await new ContainerAt(this.image, this.network.name, address)
      .withName(`${this.name}-nats-${id}`)
      .withLabels({ [ownerLabel]: String(process.pid) })
      .withCopyContentToContainer([{ content: conf, target: '/etc/nats.conf' }])
      .withCommand([imageNatsServer, '-c', '/etc/nats.conf'])
      .withLogConsumer((stream) => {
        stream.pipe(createWriteStream(logFile, { flags: 'a' }));
      })
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .withAutoRemove(false)
      .start();
    const info = await this.docker.getContainer(started.getId()).inspect();
    const host: Host = {
      id,
      natsId: started.getId(),
      address,
      pid: info.State.Pid,
      memberId: undefined,
      memberStarts: 0,
      extras: [],
      drops: [],
    };
    this.hosts.set(id, host);
    await this.iptables(host, `*filter\n:${faultChain} - [0:0]\n-A INPUT -j ${faultChain}\nCOMMIT\n`);
  }

  async startProcess(id: NodeId, spec: HostProcessSpec): Promise<void> {
    const h = this.host(id);
    const logFile = this.processLog(id, spec.name);
    const started = await new GenericContainer(this.image)
      .withName(`${this.name}-${spec.name}-${id}`)
      .withNetworkMode(`container:${h.natsId}`)
      .withLabels({ [ownerLabel]: String(process.pid) })
      .withEnvironment({ ...spec.env })
      .withCommand([imageNode, inImagePath(spec.script)])
      .withLogConsumer((stream) => {
        stream.pipe(createWriteStream(logFile, { flags: 'a' }));
      })
      .withAutoRemove(false)
      .start();
    h.extras.push(started.getId());
  }

  processLog(id: NodeId, name: string): string {
    return join(this.dir, `${id}-${name}.log`);
  }

  async removeHost(id: NodeId): Promise<void> {
    const h = this.host(id);
    for (const c of h.extras) await this.removeContainer(c);
    if (h.memberId) await this.removeContainer(h.memberId);
    await this.removeContainer(h.natsId);
    this.hosts.delete(id);
  }

  async startMember(id: NodeId, launch: MemberLaunch): Promise<void> {
    const h = this.host(id);
    if (h.memberId) {
      if (await this.running(h.memberId)) throw new Error(`member ${id} is already running`);
      await this.removeContainer(h.memberId);
      h.memberId = undefined;
    }
    const { failpoints, ...rest } = launch;
    const config: StoreMemberConfig = {
      ...rest,
      dir: memberDataDir,
      // Its own server, on the address of the namespace it shares with it.
      nats: [this.natsUrl(id)],
    };
    const dataDir = this.memberDir(id);
    mkdirSync(dataDir, { recursive: true });
    const logFile = this.memberLog(id);
    h.memberStarts += 1;
    // Each start is a new container on the same data (a bind mount): a restart may change
    // the launch (failpoints from the start, a member restored without bootstrap).
    const started = await new GenericContainer(this.image)
      .withName(`${this.name}-store-${id}-${h.memberStarts}`)
      .withNetworkMode(`container:${h.natsId}`)
      .withLabels({ [ownerLabel]: String(process.pid) })
      .withBindMounts([{ source: dataDir, target: memberDataDir }])
      .withEnvironment({ FLOTILLA_STORE_CONFIG: JSON.stringify(config), FLOTILLA_FAILPOINTS: failpoints })
      .withCommand([imageNode, imageMemberMain])
      .withLogConsumer((stream) => {
        stream.pipe(createWriteStream(logFile, { flags: 'a' }));
      })
      .withAutoRemove(false)
      .start();
    h.memberId = started.getId();
  }

  async killMember(id: NodeId): Promise<void> {
    const h = this.host(id);
    if (!h.memberId || !(await this.running(h.memberId))) return;
    const c = this.docker.getContainer(h.memberId);
    const state = (await c.inspect()).State;
    if (state.Paused) await c.unpause();
    await c.kill({ signal: 'SIGKILL' }).catch(ignoreNotRunning);
    await c.wait({ condition: 'not-running' });
  }

  async stopMember(id: NodeId, graceMs: number): Promise<void> {
    const h = this.host(id);
    if (!h.memberId || !(await this.running(h.memberId))) return;
    const c = this.docker.getContainer(h.memberId);
    if ((await c.inspect()).State.Paused) await c.unpause();
    await c.stop({ t: Math.ceil(graceMs / 1000) }).catch(ignoreNotRunning);
  }

  async pauseMember(id: NodeId): Promise<void> {
    const h = this.host(id);
    if (h.memberId) await this.docker.getContainer(h.memberId).pause();
  }

  async resumeMember(id: NodeId): Promise<void> {
    const h = this.host(id);
    if (!h.memberId) return;
    const c = this.docker.getContainer(h.memberId);
    if ((await c.inspect()).State.Paused) await c.unpause();
  }

  async memberRunning(id: NodeId): Promise<boolean> {
    const h = this.host(id);
    return h.memberId !== undefined && (await this.running(h.memberId));
  }

  async dropFrom(id: NodeId, from: readonly NodeId[]): Promise<void> {
    const h = this.host(id);
    h.drops = [...from];
    const rules = from.map((p) => `-A ${faultChain} ! -i lo -s ${this.host(p).address}/32 -j DROP`);
    await this.iptables(h, ['*filter', `:${faultChain} - [0:0]`, ...rules, 'COMMIT', ''].join('\n'));
  }

  async disconnect(id: NodeId): Promise<void> {
    const h = this.host(id);
    await this.docker.getNetwork(this.network.id).disconnect({ Container: h.natsId, Force: true });
  }

  async reconnect(id: NodeId): Promise<void> {
    const h = this.host(id);
    await this.docker.getNetwork(this.network.id).connect({
      Container: h.natsId,
      EndpointConfig: { IPAMConfig: { IPv4Address: h.address } },
    });
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.hosts.values()) {
      for (const c of h.extras) await this.removeContainer(c);
      if (h.memberId) await this.removeContainer(h.memberId);
      await this.removeContainer(h.natsId);
    }
    this.hosts.clear();
    await this.docker
      .getNetwork(this.network.id)
      .remove()
      .catch(() => undefined);
    await releaseSubnet(this.network.subnet.cidr);
    removeFaultState(this.name);
    this.unregister();
    this.log.info('container network destroyed');
  }

  private async running(containerId: string): Promise<boolean> {
    try {
      return (await this.docker.getContainer(containerId).inspect()).State.Running;
    } catch {
      return false;
    }
  }

  private async removeContainer(containerId: string): Promise<void> {
    await this.docker
      .getContainer(containerId)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }

  /** iptables-restore inside the host's network namespace (entered through its NATS process). */
  private async iptables(h: Host, input: string): Promise<void> {
    await runNet('nsenter', ['-t', String(h.pid), '-n', 'iptables-restore', '-w', '--noflush'], {
      input,
    });
  }
}

function ignoreNotRunning(err: unknown): void {
  if (!/is not running|No such container/i.test(String(err))) throw err;
}

async function waitNatsReady(address: string, routes: number): Promise<void> {
  const deadline = Date.now() + natsReadyTimeoutMs;
  let last = '';
  while (Date.now() < deadline) {
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
  throw new Error(`nats container at ${address} not ready in ${natsReadyTimeoutMs} ms (${last})`);
}

/** Containers and networks left by harness processes that died without tearing down. */
async function sweepOrphans(docker: Dockerode): Promise<void> {
  for (const state of orphanedFaultStates()) {
    if (state.kind !== 'containers') continue;
    const owner = { label: [`${ownerLabel}=${state.pid}`] };
    for (const c of await docker.listContainers({ all: true, filters: owner })) {
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    }
    for (const n of await docker.listNetworks({ filters: owner })) {
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined);
    }
    await releaseSubnet(state.cidr);
    removeFaultState(state.name);
  }
}

/** Best effort at process exit (synchronous): the docker CLI, if there is one, then the route. */
function destroySync(name: string, cidr: string, dockerHost: string): void {
  const docker = (args: string[]) =>
    spawnSync('docker', ['-H', dockerHost, ...args], { encoding: 'utf8', timeout: 20_000 });
  const ids = (docker(['ps', '-aq', '--filter', `label=${ownerLabel}=${process.pid}`]).stdout ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '');
  if (ids.length > 0) docker(['rm', '-f', '-v', ...ids]);
  docker(['network', 'rm', name]);
  releaseSubnetSync(cidr);
  removeFaultState(name);
}
