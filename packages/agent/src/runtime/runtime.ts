/**
 * The container runtime as the kubelet sees it: the Container Runtime Interface (CRI v1)
 * with TypeScript names. Two implementations: `CriRuntime` (containerd over gRPC) and
 * `FakeRuntime` (status transitions only, for simulated nodes).
 * https://github.com/kubernetes/cri-api/blob/master/pkg/apis/runtime/v1/api.proto
 */

export type Labels = Readonly<Record<string, string>>;

export type SandboxState = 'ready' | 'notready';
export type ContainerState = 'created' | 'running' | 'exited' | 'unknown';
export type NamespaceMode = 'pod' | 'container' | 'node';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type SeccompProfile =
  | { readonly type: 'RuntimeDefault' }
  | { readonly type: 'Unconfined' }
  | { readonly type: 'Localhost'; readonly path: string };

export type DnsConfig = {
  readonly servers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
};

export type PortMapping = {
  readonly protocol: Protocol;
  readonly containerPort: number;
  readonly hostPort: number;
  readonly hostIP: string;
};

export type SandboxMetadata = {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly attempt: number;
};

export type SandboxConfig = {
  readonly metadata: SandboxMetadata;
  readonly hostname: string;
  /** Absolute; container log paths are relative to it. */
  readonly logDirectory: string;
  /** Undefined: the runtime copies the host's resolv.conf. */
  readonly dnsConfig: DnsConfig | undefined;
  readonly portMappings: readonly PortMapping[];
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly linux: {
    readonly cgroupParent: string;
    readonly network: NamespaceMode;
    readonly pid: NamespaceMode;
    readonly ipc: NamespaceMode;
    readonly privileged: boolean;
    readonly runAsUser: number | undefined;
    readonly runAsGroup: number | undefined;
    readonly supplementalGroups: readonly number[];
    readonly seccomp: SeccompProfile | undefined;
    readonly sysctls: Labels;
  };
};

export type SandboxSummary = {
  readonly id: string;
  readonly metadata: SandboxMetadata;
  readonly state: SandboxState;
  readonly createdAtMs: number;
  readonly labels: Labels;
  readonly annotations: Labels;
};

export type SandboxStatus = SandboxSummary & {
  /** The pod's IP; '' when the sandbox shares the node's network or is not ready. */
  readonly ip: string;
  readonly additionalIPs: readonly string[];
};

export type Mount = {
  readonly containerPath: string;
  readonly hostPath: string;
  readonly readonly: boolean;
  readonly propagation: 'private' | 'host-to-container' | 'bidirectional';
};

export type LinuxResources = {
  readonly cpuPeriod: number;
  readonly cpuQuota: number;
  readonly cpuShares: number;
  readonly memoryLimitBytes: number;
  readonly oomScoreAdj: number;
};

export type ContainerSecurity = {
  readonly privileged: boolean;
  readonly capabilitiesAdd: readonly string[];
  readonly capabilitiesDrop: readonly string[];
  readonly runAsUser: number | undefined;
  readonly runAsGroup: number | undefined;
  readonly supplementalGroups: readonly number[];
  readonly readonlyRootfs: boolean;
  readonly noNewPrivs: boolean;
  readonly seccomp: SeccompProfile | undefined;
  readonly pid: NamespaceMode;
};

export type ContainerConfig = {
  readonly name: string;
  readonly attempt: number;
  readonly image: string;
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly workingDir: string;
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly mounts: readonly Mount[];
  readonly labels: Labels;
  readonly annotations: Labels;
  /** Relative to the sandbox's log directory. */
  readonly logPath: string;
  readonly stdin: boolean;
  readonly stdinOnce: boolean;
  readonly tty: boolean;
  readonly resources: LinuxResources;
  readonly security: ContainerSecurity;
};

export type ContainerSummary = {
  readonly id: string;
  readonly sandboxId: string;
  readonly name: string;
  readonly attempt: number;
  readonly image: string;
  readonly imageRef: string;
  readonly state: ContainerState;
  readonly createdAtMs: number;
  readonly labels: Labels;
  readonly annotations: Labels;
};

/** CRI's ContainerStatus does not name the sandbox; ListContainers does. */
export type ContainerStatus = Omit<ContainerSummary, 'sandboxId'> & {
  /** 0 when the container has not started. */
  readonly startedAtMs: number;
  /** 0 when the container has not finished. */
  readonly finishedAtMs: number;
  readonly exitCode: number;
  readonly reason: string;
  readonly message: string;
  readonly mounts: readonly Mount[];
  /** Absolute path of the container's CRI log file. */
  readonly logPath: string;
};

export type ExecResult = { readonly stdout: Buffer; readonly stderr: Buffer; readonly exitCode: number };

export type ImageInfo = {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly sizeBytes: number;
  /** The image's default user as a uid, when its config names a numeric one (or none: root). */
  readonly uid: number | undefined;
  /** The image's default user when it is given by name. */
  readonly username: string;
};

export type RuntimeVersion = {
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  readonly runtimeApiVersion: string;
};

export type RuntimeCondition = {
  readonly type: string;
  readonly status: boolean;
  readonly reason: string;
  readonly message: string;
};

export type SandboxFilter = { readonly id?: string; readonly state?: SandboxState; readonly labels?: Labels };
export type ContainerFilter = {
  readonly id?: string;
  readonly state?: ContainerState;
  readonly sandboxId?: string;
  readonly labels?: Labels;
};

/**
 * What the kubelet needs from a container runtime. Errors are `CriError`s; stop and
 * remove calls are idempotent (a missing object is not an error), as CRI requires.
 */
export interface Runtime {
  version(): Promise<RuntimeVersion>;
  /** The runtime's conditions (RuntimeReady, NetworkReady). */
  status(): Promise<readonly RuntimeCondition[]>;

  runPodSandbox(config: SandboxConfig): Promise<string>;
  stopPodSandbox(id: string): Promise<void>;
  removePodSandbox(id: string): Promise<void>;
  podSandboxStatus(id: string): Promise<SandboxStatus>;
  listPodSandboxes(filter?: SandboxFilter): Promise<readonly SandboxSummary[]>;

  createContainer(sandboxId: string, config: ContainerConfig, sandbox: SandboxConfig): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Sends the stop signal, then SIGKILL after `timeoutSeconds`. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  listContainers(filter?: ContainerFilter): Promise<readonly ContainerSummary[]>;
  containerStatus(id: string): Promise<ContainerStatus>;
  /** Asks the runtime to reopen the container's log file after it was rotated. */
  reopenContainerLog(id: string): Promise<void>;
  execSync(id: string, command: readonly string[], timeoutSeconds: number): Promise<ExecResult>;

  /** Undefined when the image is not present (CRI answers `image: null`, not an error). */
  imageStatus(image: string): Promise<ImageInfo | undefined>;
  /** Returns the image's reference (its ID). */
  pullImage(image: string): Promise<string>;
  listImages(): Promise<readonly ImageInfo[]>;
}
