import { randomBytes } from 'node:crypto';
import { assert, sleep } from '@flotilla/actor';
import { formatIP, nthAddress, parseCIDR } from '@flotilla/api';
import { CriError } from '../errors.ts';
import type {
  ContainerConfig,
  ContainerFilter,
  ContainerState,
  ContainerStatus,
  ContainerSummary,
  ExecResult,
  ImageInfo,
  Labels,
  Runtime,
  RuntimeCondition,
  RuntimeVersion,
  SandboxConfig,
  SandboxFilter,
  SandboxStatus,
  SandboxSummary,
} from './runtime.ts';

/** How long each kind of call takes on a fake node (all 0 by default). */
export type FakeDelays = {
  readonly runSandboxMs: number;
  readonly createContainerMs: number;
  readonly startContainerMs: number;
  readonly stopContainerMs: number;
  readonly pullImageMs: number;
};

export type FakeRuntimeOptions = {
  /** Pod IPs are handed out from here (the gateway's .1 is skipped). */
  readonly podCIDR: string;
  readonly delays?: Partial<FakeDelays>;
  /** Images present from the start; `all` makes every image present. */
  readonly images?: 'all' | readonly string[];
  readonly now?: () => number;
};

type FakeSandbox = {
  readonly id: string;
  readonly config: SandboxConfig;
  state: 'ready' | 'notready';
  readonly createdAtMs: number;
  ip: string;
};

type FakeContainer = {
  readonly id: string;
  readonly sandboxId: string;
  readonly config: ContainerConfig;
  state: ContainerState;
  readonly createdAtMs: number;
  startedAtMs: number;
  finishedAtMs: number;
  exitCode: number;
  reason: string;
};

const matches = (labels: Labels, selector: Labels | undefined) =>
  selector === undefined || Object.entries(selector).every(([k, v]) => labels[k] === v);

/**
 * A runtime with no processes: sandboxes and containers are records that move through
 * CRI's states after configurable delays, like KWOK's fake nodes. Cheap enough for
 * hundreds of nodes in one process. Tests can make a container exit.
 */
export class FakeRuntime implements Runtime {
  private readonly delays: FakeDelays;
  private readonly now: () => number;
  private readonly cidr: NonNullable<ReturnType<typeof parseCIDR>>;
  private readonly sandboxes = new Map<string, FakeSandbox>();
  private readonly containers = new Map<string, FakeContainer>();
  private readonly images: Set<string> | 'all';
  private readonly freeIPs: number[] = [];
  private readonly idPrefix = randomBytes(4).toString('hex');
  private nextIP = 2;
  private nextId = 0;

  constructor(options: FakeRuntimeOptions) {
    const cidr = parseCIDR(options.podCIDR);
    assert(cidr !== undefined, `bad pod CIDR ${options.podCIDR}`);
    this.cidr = cidr;
    this.delays = {
      runSandboxMs: 0,
      createContainerMs: 0,
      startContainerMs: 0,
      stopContainerMs: 0,
      pullImageMs: 0,
      ...options.delays,
    };
    this.images = options.images === undefined || options.images === 'all' ? 'all' : new Set(options.images);
    this.now = options.now ?? Date.now;
  }

  async version(): Promise<RuntimeVersion> {
    return { runtimeName: 'fake', runtimeVersion: '0.1.0', runtimeApiVersion: 'v1' };
  }

  async status(): Promise<readonly RuntimeCondition[]> {
    return [
      { type: 'RuntimeReady', status: true, reason: '', message: '' },
      { type: 'NetworkReady', status: true, reason: '', message: '' },
    ];
  }

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    await this.delay(this.delays.runSandboxMs);
    const id = this.newId();
    const ip = config.linux.network === 'node' ? '' : this.allocateIP();
    this.sandboxes.set(id, { id, config, state: 'ready', createdAtMs: this.now(), ip });
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    const s = this.sandboxes.get(id);
    if (s === undefined) return;
    for (const c of this.containers.values()) if (c.sandboxId === id) this.exit(c, 137, 'Error');
    if (s.state === 'ready' && s.ip !== '') this.releaseIP(s.ip);
    s.state = 'notready';
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.stopPodSandbox(id);
    for (const c of [...this.containers.values()]) if (c.sandboxId === id) this.containers.delete(c.id);
    this.sandboxes.delete(id);
  }

  async podSandboxStatus(id: string): Promise<SandboxStatus> {
    const s = this.sandboxes.get(id);
    if (s === undefined) throw new CriError('PodSandboxStatus', 'NotFound', `sandbox ${id} not found`);
    return { ...this.summary(s), ip: s.state === 'ready' ? s.ip : '', additionalIPs: [] };
  }

  async listPodSandboxes(filter: SandboxFilter = {}): Promise<readonly SandboxSummary[]> {
    const out: SandboxSummary[] = [];
    for (const s of this.sandboxes.values()) {
      if (filter.id !== undefined && s.id !== filter.id) continue;
      if (filter.state !== undefined && s.state !== filter.state) continue;
      if (!matches(s.config.labels, filter.labels)) continue;
      out.push(this.summary(s));
    }
    return out;
  }

  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    await this.delay(this.delays.createContainerMs);
    const s = this.sandboxes.get(sandboxId);
    if (s === undefined || s.state !== 'ready') {
      throw new CriError('CreateContainer', 'NotFound', `sandbox ${sandboxId} is not ready`);
    }
    const id = this.newId();
    this.containers.set(id, {
      id,
      sandboxId,
      config,
      state: 'created',
      createdAtMs: this.now(),
      startedAtMs: 0,
      finishedAtMs: 0,
      exitCode: 0,
      reason: '',
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    await this.delay(this.delays.startContainerMs);
    const c = this.containers.get(id);
    if (c === undefined) throw new CriError('StartContainer', 'NotFound', `container ${id} not found`);
    if (c.state !== 'created')
      throw new CriError('StartContainer', 'FailedPrecondition', `container ${id} is ${c.state}`);
    c.state = 'running';
    c.startedAtMs = this.now();
  }

  async stopContainer(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (c === undefined || c.state === 'exited') return;
    await this.delay(this.delays.stopContainerMs);
    this.exit(c, 0, 'Completed');
  }

  async removeContainer(id: string): Promise<void> {
    this.containers.delete(id);
  }

  async listContainers(filter: ContainerFilter = {}): Promise<readonly ContainerSummary[]> {
    const out: ContainerSummary[] = [];
    for (const c of this.containers.values()) {
      if (filter.id !== undefined && c.id !== filter.id) continue;
      if (filter.state !== undefined && c.state !== filter.state) continue;
      if (filter.sandboxId !== undefined && c.sandboxId !== filter.sandboxId) continue;
      if (!matches(c.config.labels, filter.labels)) continue;
      out.push(this.containerSummary(c));
    }
    return out;
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    const c = this.containers.get(id);
    if (c === undefined) throw new CriError('ContainerStatus', 'NotFound', `container ${id} not found`);
    const { sandboxId: _, ...summary } = this.containerSummary(c);
    return {
      ...summary,
      startedAtMs: c.startedAtMs,
      finishedAtMs: c.finishedAtMs,
      exitCode: c.exitCode,
      reason: c.reason,
      message: '',
      mounts: c.config.mounts,
      logPath: '',
    };
  }

  async reopenContainerLog(): Promise<void> {}

  async execSync(id: string): Promise<ExecResult> {
    const c = this.containers.get(id);
    if (c === undefined || c.state !== 'running') {
      throw new CriError('ExecSync', 'NotFound', `container ${id} is not running`);
    }
    return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 };
  }

  async imageStatus(image: string): Promise<ImageInfo | undefined> {
    if (this.images !== 'all' && !this.images.has(image)) return undefined;
    return {
      id: `sha256:fake-${image}`,
      repoTags: [image],
      repoDigests: [],
      sizeBytes: 1,
      uid: undefined,
      username: '',
    };
  }

  async pullImage(image: string): Promise<string> {
    await this.delay(this.delays.pullImageMs);
    if (this.images !== 'all') {
      throw new CriError('PullImage', 'Unknown', `failed to pull and unpack image "${image}": not found`);
    }
    return `sha256:fake-${image}`;
  }

  async listImages(): Promise<readonly ImageInfo[]> {
    const names = this.images === 'all' ? [] : [...this.images];
    return Promise.all(names.map(async (n) => (await this.imageStatus(n)) as ImageInfo));
  }

  /** Makes a running container exit as if its process ended (for tests of restarts). */
  exitContainer(id: string, exitCode: number, reason = exitCode === 0 ? 'Completed' : 'Error'): void {
    const c = this.containers.get(id);
    assert(c !== undefined, `no fake container ${id}`);
    this.exit(c, exitCode, reason);
  }

  get sandboxCount(): number {
    return this.sandboxes.size;
  }

  get containerCount(): number {
    return this.containers.size;
  }

  private exit(c: FakeContainer, exitCode: number, reason: string): void {
    if (c.state === 'exited') return;
    c.state = 'exited';
    c.exitCode = exitCode;
    c.reason = reason;
    c.finishedAtMs = this.now();
  }

  private summary(s: FakeSandbox): SandboxSummary {
    return {
      id: s.id,
      metadata: s.config.metadata,
      state: s.state,
      createdAtMs: s.createdAtMs,
      labels: s.config.labels,
      annotations: s.config.annotations,
    };
  }

  private containerSummary(c: FakeContainer): ContainerSummary {
    return {
      id: c.id,
      sandboxId: c.sandboxId,
      name: c.config.name,
      attempt: c.config.attempt,
      image: c.config.image,
      imageRef: c.config.image,
      state: c.state,
      createdAtMs: c.createdAtMs,
      labels: c.config.labels,
      annotations: c.config.annotations,
    };
  }

  private newId(): string {
    this.nextId += 1;
    return `${this.idPrefix}${this.nextId.toString(16).padStart(56, '0')}`;
  }

  private allocateIP(): string {
    const index = this.freeIPs.pop() ?? this.nextIP++;
    return formatIP(nthAddress(this.cidr, index));
  }

  private releaseIP(ip: string): void {
    const parsed = parseCIDR(`${ip}/32`);
    if (parsed !== undefined) this.freeIPs.push(Number(parsed.network - this.cidr.network));
  }

  private async delay(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms);
  }
}
