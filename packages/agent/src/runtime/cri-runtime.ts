import { assertNever } from '@flotilla/actor';
import type { CriClient } from '../cri/cri-client.ts';
import type {
  WireContainer,
  WireContainerConfig,
  WireContainerState,
  WireContainerStatus,
  WireImage,
  WireMount,
  WireNamespaceMode,
  WirePodSandbox,
  WirePodSandboxConfig,
  WireSecurityProfile,
} from '../cri/cri-wire.ts';
import { CriError } from '../errors.ts';
import type {
  ContainerConfig,
  ContainerFilter,
  ContainerState,
  ContainerStatus,
  ContainerSummary,
  ExecResult,
  ImageInfo,
  Mount,
  NamespaceMode,
  Runtime,
  RuntimeCondition,
  RuntimeVersion,
  SandboxConfig,
  SandboxFilter,
  SandboxStatus,
  SandboxSummary,
  SeccompProfile,
} from './runtime.ts';

/** The CRI API version the agent speaks. */
export const criApiVersion = 'v1';
/** How long an image pull may take before the kubelet gives up on this attempt. */
export const pullDeadlineMs = 10 * 60_000;
/** Slack on top of a stop or exec timeout for the runtime's own work. */
const callSlackMs = 30_000;

/** The `Runtime` over a CRI endpoint (containerd). */
export class CriRuntime implements Runtime {
  private readonly cri: CriClient;

  constructor(cri: CriClient) {
    this.cri = cri;
  }

  async version(): Promise<RuntimeVersion> {
    const r = await this.cri.call('RuntimeService', 'Version', { version: criApiVersion });
    return {
      runtimeName: r.runtime_name,
      runtimeVersion: r.runtime_version,
      runtimeApiVersion: r.runtime_api_version,
    };
  }

  async status(): Promise<readonly RuntimeCondition[]> {
    const r = await this.cri.call('RuntimeService', 'Status', { verbose: false });
    return (r.status?.conditions ?? []).map((c) => ({ ...c }));
  }

  async runPodSandbox(config: SandboxConfig): Promise<string> {
    const r = await this.cri.call('RuntimeService', 'RunPodSandbox', {
      config: toWireSandboxConfig(config),
      runtime_handler: '',
    });
    return r.pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await ignoreNotFound(this.cri.call('RuntimeService', 'StopPodSandbox', { pod_sandbox_id: id }));
  }

  async removePodSandbox(id: string): Promise<void> {
    await ignoreNotFound(this.cri.call('RuntimeService', 'RemovePodSandbox', { pod_sandbox_id: id }));
  }

  async podSandboxStatus(id: string): Promise<SandboxStatus> {
    const r = await this.cri.call('RuntimeService', 'PodSandboxStatus', {
      pod_sandbox_id: id,
      verbose: false,
    });
    if (r.status === null) throw new CriError('PodSandboxStatus', 'NotFound', `sandbox ${id} has no status`);
    return {
      ...fromWireSandbox(r.status),
      ip: r.status.network?.ip ?? '',
      additionalIPs: (r.status.network?.additional_ips ?? []).map((a) => a.ip),
    };
  }

  async listPodSandboxes(filter: SandboxFilter = {}): Promise<readonly SandboxSummary[]> {
    const r = await this.cri.call('RuntimeService', 'ListPodSandbox', {
      filter: {
        ...(filter.id === undefined ? {} : { id: filter.id }),
        ...(filter.state === undefined
          ? {}
          : { state: { state: filter.state === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY' } }),
        ...(filter.labels === undefined ? {} : { label_selector: filter.labels }),
      },
    });
    return r.items.map(fromWireSandbox);
  }

  async createContainer(sandboxId: string, config: ContainerConfig, sandbox: SandboxConfig): Promise<string> {
    const r = await this.cri.call('RuntimeService', 'CreateContainer', {
      pod_sandbox_id: sandboxId,
      config: toWireContainerConfig(config),
      sandbox_config: toWireSandboxConfig(sandbox),
    });
    return r.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.cri.call('RuntimeService', 'StartContainer', { container_id: id });
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await ignoreNotFound(
      this.cri.call(
        'RuntimeService',
        'StopContainer',
        { container_id: id, timeout: String(Math.max(0, Math.ceil(timeoutSeconds))) },
        timeoutSeconds * 1000 + callSlackMs,
      ),
    );
  }

  async removeContainer(id: string): Promise<void> {
    await ignoreNotFound(this.cri.call('RuntimeService', 'RemoveContainer', { container_id: id }));
  }

  async listContainers(filter: ContainerFilter = {}): Promise<readonly ContainerSummary[]> {
    const r = await this.cri.call('RuntimeService', 'ListContainers', {
      filter: {
        ...(filter.id === undefined ? {} : { id: filter.id }),
        ...(filter.state === undefined ? {} : { state: { state: toWireContainerState(filter.state) } }),
        ...(filter.sandboxId === undefined ? {} : { pod_sandbox_id: filter.sandboxId }),
        ...(filter.labels === undefined ? {} : { label_selector: filter.labels }),
      },
    });
    return r.containers.map(fromWireContainer);
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    const r = await this.cri.call('RuntimeService', 'ContainerStatus', { container_id: id, verbose: false });
    if (r.status === null) throw new CriError('ContainerStatus', 'NotFound', `container ${id} has no status`);
    return fromWireContainerStatus(r.status);
  }

  async reopenContainerLog(id: string): Promise<void> {
    await this.cri.call('RuntimeService', 'ReopenContainerLog', { container_id: id });
  }

  async execSync(id: string, command: readonly string[], timeoutSeconds: number): Promise<ExecResult> {
    const r = await this.cri.call(
      'RuntimeService',
      'ExecSync',
      { container_id: id, cmd: command, timeout: String(Math.max(0, Math.ceil(timeoutSeconds))) },
      timeoutSeconds * 1000 + callSlackMs,
    );
    return { stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr), exitCode: r.exit_code };
  }

  async imageStatus(image: string): Promise<ImageInfo | undefined> {
    const r = await this.cri.call('ImageService', 'ImageStatus', { image: { image }, verbose: false });
    return r.image === null ? undefined : fromWireImage(r.image);
  }

  async pullImage(image: string): Promise<string> {
    const r = await this.cri.call('ImageService', 'PullImage', { image: { image } }, pullDeadlineMs);
    return r.image_ref;
  }

  async listImages(): Promise<readonly ImageInfo[]> {
    const r = await this.cri.call('ImageService', 'ListImages', {});
    return r.images.map(fromWireImage);
  }
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    // CRI: stop and remove are idempotent; containerd still answers NotFound for an
    // object that is already gone.
    if (err instanceof CriError && err.status === 'NotFound') return;
    throw err;
  }
}

/** CRI timestamps are int64 nanoseconds since the epoch; 0 means unset. */
export function nanosToMs(ns: string | number): number {
  if (typeof ns === 'number') return Math.floor(ns / 1e6);
  if (ns === '' || ns === '0') return 0;
  return Number(BigInt(ns) / 1_000_000n);
}

function toWireMode(mode: NamespaceMode): WireNamespaceMode {
  switch (mode) {
    case 'pod':
      return 'POD';
    case 'container':
      return 'CONTAINER';
    case 'node':
      return 'NODE';
    default:
      return assertNever(mode, 'namespace mode');
  }
}

function toWireSeccomp(p: SeccompProfile | undefined): WireSecurityProfile | undefined {
  if (p === undefined) return undefined;
  switch (p.type) {
    case 'RuntimeDefault':
      return { profile_type: 'RuntimeDefault' };
    case 'Unconfined':
      return { profile_type: 'Unconfined' };
    case 'Localhost':
      return { profile_type: 'Localhost', localhost_ref: p.path };
    default:
      return assertNever(p, 'seccomp profile');
  }
}

function optionalId(v: number | undefined): { value: string } | undefined {
  return v === undefined ? undefined : { value: String(v) };
}

export function toWireSandboxConfig(c: SandboxConfig): WirePodSandboxConfig {
  const l = c.linux;
  const seccomp = toWireSeccomp(l.seccomp);
  const runAsUser = optionalId(l.runAsUser);
  const runAsGroup = optionalId(l.runAsGroup);
  return {
    metadata: { ...c.metadata },
    hostname: c.hostname,
    log_directory: c.logDirectory,
    ...(c.dnsConfig === undefined ? {} : { dns_config: c.dnsConfig }),
    port_mappings: c.portMappings.map((p) => ({
      protocol: p.protocol,
      container_port: p.containerPort,
      host_port: p.hostPort,
      host_ip: p.hostIP,
    })),
    labels: c.labels,
    annotations: c.annotations,
    linux: {
      cgroup_parent: l.cgroupParent,
      security_context: {
        namespace_options: { network: toWireMode(l.network), pid: toWireMode(l.pid), ipc: toWireMode(l.ipc) },
        ...(runAsUser === undefined ? {} : { run_as_user: runAsUser }),
        ...(runAsGroup === undefined ? {} : { run_as_group: runAsGroup }),
        supplemental_groups: l.supplementalGroups.map(String),
        privileged: l.privileged,
        ...(seccomp === undefined ? {} : { seccomp }),
      },
      sysctls: l.sysctls,
    },
  };
}

function toWireMount(m: Mount): WireMount {
  return {
    container_path: m.containerPath,
    host_path: m.hostPath,
    readonly: m.readonly,
    propagation:
      m.propagation === 'private'
        ? 'PROPAGATION_PRIVATE'
        : m.propagation === 'host-to-container'
          ? 'PROPAGATION_HOST_TO_CONTAINER'
          : 'PROPAGATION_BIDIRECTIONAL',
  };
}

function fromWireMount(m: WireMount): Mount {
  return {
    containerPath: m.container_path,
    hostPath: m.host_path,
    readonly: m.readonly,
    propagation:
      m.propagation === 'PROPAGATION_HOST_TO_CONTAINER'
        ? 'host-to-container'
        : m.propagation === 'PROPAGATION_BIDIRECTIONAL'
          ? 'bidirectional'
          : 'private',
  };
}

export function toWireContainerConfig(c: ContainerConfig): WireContainerConfig {
  const s = c.security;
  const seccomp = toWireSeccomp(s.seccomp);
  const runAsUser = optionalId(s.runAsUser);
  const runAsGroup = optionalId(s.runAsGroup);
  return {
    metadata: { name: c.name, attempt: c.attempt },
    image: { image: c.image },
    command: c.command,
    args: c.args,
    working_dir: c.workingDir,
    envs: c.env.map((e) => ({ key: e.name, value: e.value })),
    mounts: c.mounts.map(toWireMount),
    labels: c.labels,
    annotations: c.annotations,
    log_path: c.logPath,
    stdin: c.stdin,
    stdin_once: c.stdinOnce,
    tty: c.tty,
    linux: {
      resources: {
        cpu_period: String(c.resources.cpuPeriod),
        cpu_quota: String(c.resources.cpuQuota),
        cpu_shares: String(c.resources.cpuShares),
        memory_limit_in_bytes: String(c.resources.memoryLimitBytes),
        oom_score_adj: String(c.resources.oomScoreAdj),
      },
      security_context: {
        capabilities: { add_capabilities: s.capabilitiesAdd, drop_capabilities: s.capabilitiesDrop },
        privileged: s.privileged,
        namespace_options: { network: 'POD', pid: toWireMode(s.pid), ipc: 'POD' },
        ...(runAsUser === undefined ? {} : { run_as_user: runAsUser }),
        ...(runAsGroup === undefined ? {} : { run_as_group: runAsGroup }),
        readonly_rootfs: s.readonlyRootfs,
        supplemental_groups: s.supplementalGroups.map(String),
        no_new_privs: s.noNewPrivs,
        ...(seccomp === undefined ? {} : { seccomp }),
      },
    },
  };
}

function fromWireSandbox(s: WirePodSandbox): SandboxSummary {
  return {
    id: s.id,
    metadata: {
      name: s.metadata?.name ?? '',
      namespace: s.metadata?.namespace ?? '',
      uid: s.metadata?.uid ?? '',
      attempt: s.metadata?.attempt ?? 0,
    },
    state: s.state === 'SANDBOX_READY' ? 'ready' : 'notready',
    createdAtMs: nanosToMs(s.created_at),
    labels: s.labels,
    annotations: s.annotations,
  };
}

function fromWireContainerState(s: WireContainerState): ContainerState {
  switch (s) {
    case 'CONTAINER_CREATED':
      return 'created';
    case 'CONTAINER_RUNNING':
      return 'running';
    case 'CONTAINER_EXITED':
      return 'exited';
    case 'CONTAINER_UNKNOWN':
      return 'unknown';
    default:
      return assertNever(s, 'container state');
  }
}

function toWireContainerState(s: ContainerState): WireContainerState {
  switch (s) {
    case 'created':
      return 'CONTAINER_CREATED';
    case 'running':
      return 'CONTAINER_RUNNING';
    case 'exited':
      return 'CONTAINER_EXITED';
    case 'unknown':
      return 'CONTAINER_UNKNOWN';
    default:
      return assertNever(s, 'container state');
  }
}

function fromWireContainer(c: WireContainer): ContainerSummary {
  return {
    id: c.id,
    sandboxId: c.pod_sandbox_id,
    name: c.metadata?.name ?? '',
    attempt: c.metadata?.attempt ?? 0,
    image: c.image?.image ?? '',
    imageRef: c.image_ref,
    state: fromWireContainerState(c.state),
    createdAtMs: nanosToMs(c.created_at),
    labels: c.labels,
    annotations: c.annotations,
  };
}

function fromWireContainerStatus(c: WireContainerStatus): ContainerStatus {
  return {
    id: c.id,
    name: c.metadata?.name ?? '',
    attempt: c.metadata?.attempt ?? 0,
    image: c.image?.image ?? '',
    imageRef: c.image_ref,
    state: fromWireContainerState(c.state),
    createdAtMs: nanosToMs(c.created_at),
    startedAtMs: nanosToMs(c.started_at),
    finishedAtMs: nanosToMs(c.finished_at),
    exitCode: c.exit_code,
    reason: c.reason,
    message: c.message,
    labels: c.labels,
    annotations: c.annotations,
    mounts: c.mounts.map(fromWireMount),
    logPath: c.log_path,
  };
}

function fromWireImage(i: WireImage): ImageInfo {
  return {
    id: i.id,
    repoTags: i.repo_tags,
    repoDigests: i.repo_digests,
    sizeBytes: Number(i.size),
    uid: i.uid === null ? undefined : Number(i.uid.value),
    username: i.username,
  };
}
