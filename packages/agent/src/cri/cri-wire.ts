/**
 * The CRI messages as `@grpc/proto-loader` hands them over with the options in
 * cri-client.ts: snake_case fields, enums as their names, int64 as decimal strings,
 * every scalar present (defaults: true), absent sub-messages as null.
 * Requests may leave fields out; responses are typed with what the decoder fills in.
 */

export type WireMap = Readonly<Record<string, string>>;
export type WireInt64 = string | number;

export type WireNamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type WireSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type WireContainerState =
  | 'CONTAINER_CREATED'
  | 'CONTAINER_RUNNING'
  | 'CONTAINER_EXITED'
  | 'CONTAINER_UNKNOWN';
export type WireProfileType = 'RuntimeDefault' | 'Unconfined' | 'Localhost';
export type WirePropagation =
  | 'PROPAGATION_PRIVATE'
  | 'PROPAGATION_HOST_TO_CONTAINER'
  | 'PROPAGATION_BIDIRECTIONAL';

export type WireSecurityProfile = { readonly profile_type: WireProfileType; readonly localhost_ref?: string };
export type WireNamespaceOption = {
  readonly network: WireNamespaceMode;
  readonly pid: WireNamespaceMode;
  readonly ipc: WireNamespaceMode;
};

export type WireSandboxMetadata = {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  readonly attempt: number;
};

export type WirePodSandboxConfig = {
  readonly metadata: WireSandboxMetadata;
  readonly hostname: string;
  readonly log_directory: string;
  readonly dns_config?: {
    readonly servers: readonly string[];
    readonly searches: readonly string[];
    readonly options: readonly string[];
  };
  readonly port_mappings: readonly {
    readonly protocol: string;
    readonly container_port: number;
    readonly host_port: number;
    readonly host_ip: string;
  }[];
  readonly labels: WireMap;
  readonly annotations: WireMap;
  readonly linux: {
    readonly cgroup_parent: string;
    readonly security_context: {
      readonly namespace_options: WireNamespaceOption;
      readonly run_as_user?: { readonly value: WireInt64 };
      readonly run_as_group?: { readonly value: WireInt64 };
      readonly supplemental_groups: readonly WireInt64[];
      readonly privileged: boolean;
      readonly seccomp?: WireSecurityProfile;
    };
    readonly sysctls: WireMap;
  };
};

export type WireMount = {
  readonly container_path: string;
  readonly host_path: string;
  readonly readonly: boolean;
  readonly selinux_relabel?: boolean;
  readonly propagation: WirePropagation;
};

export type WireContainerConfig = {
  readonly metadata: { readonly name: string; readonly attempt: number };
  readonly image: { readonly image: string };
  readonly command: readonly string[];
  readonly args: readonly string[];
  readonly working_dir: string;
  readonly envs: readonly { readonly key: string; readonly value: string }[];
  readonly mounts: readonly WireMount[];
  readonly labels: WireMap;
  readonly annotations: WireMap;
  readonly log_path: string;
  readonly stdin: boolean;
  readonly stdin_once: boolean;
  readonly tty: boolean;
  readonly linux: {
    readonly resources: {
      readonly cpu_period: WireInt64;
      readonly cpu_quota: WireInt64;
      readonly cpu_shares: WireInt64;
      readonly memory_limit_in_bytes: WireInt64;
      readonly oom_score_adj: WireInt64;
    };
    readonly security_context: {
      readonly capabilities: {
        readonly add_capabilities: readonly string[];
        readonly drop_capabilities: readonly string[];
      };
      readonly privileged: boolean;
      readonly namespace_options: WireNamespaceOption;
      readonly run_as_user?: { readonly value: WireInt64 };
      readonly run_as_group?: { readonly value: WireInt64 };
      readonly readonly_rootfs: boolean;
      readonly supplemental_groups: readonly WireInt64[];
      readonly no_new_privs: boolean;
      readonly seccomp?: WireSecurityProfile;
    };
  };
};

export type WirePodSandbox = {
  readonly id: string;
  readonly metadata: WireSandboxMetadata | null;
  readonly state: WireSandboxState;
  readonly created_at: string;
  readonly labels: WireMap;
  readonly annotations: WireMap;
};

export type WirePodSandboxStatus = WirePodSandbox & {
  readonly network: {
    readonly ip: string;
    readonly additional_ips: readonly { readonly ip: string }[];
  } | null;
};

export type WireContainer = {
  readonly id: string;
  readonly pod_sandbox_id: string;
  readonly metadata: { readonly name: string; readonly attempt: number } | null;
  readonly image: { readonly image: string } | null;
  readonly image_ref: string;
  readonly state: WireContainerState;
  readonly created_at: string;
  readonly labels: WireMap;
  readonly annotations: WireMap;
};

export type WireContainerStatus = {
  readonly id: string;
  readonly metadata: { readonly name: string; readonly attempt: number } | null;
  readonly state: WireContainerState;
  readonly created_at: string;
  readonly started_at: string;
  readonly finished_at: string;
  readonly exit_code: number;
  readonly image: { readonly image: string } | null;
  readonly image_ref: string;
  readonly reason: string;
  readonly message: string;
  readonly labels: WireMap;
  readonly annotations: WireMap;
  readonly mounts: readonly WireMount[];
  readonly log_path: string;
};

export type WireImage = {
  readonly id: string;
  readonly repo_tags: readonly string[];
  readonly repo_digests: readonly string[];
  readonly size: string;
  readonly uid: { readonly value: string } | null;
  readonly username: string;
};

type Empty = Record<string, never>;

/** Request and response of every method the client calls, by service. */
export type CriMethods = {
  readonly RuntimeService: {
    readonly Version: [
      { readonly version: string },
      {
        readonly version: string;
        readonly runtime_name: string;
        readonly runtime_version: string;
        readonly runtime_api_version: string;
      },
    ];
    readonly RunPodSandbox: [
      { readonly config: WirePodSandboxConfig; readonly runtime_handler: string },
      { readonly pod_sandbox_id: string },
    ];
    readonly StopPodSandbox: [{ readonly pod_sandbox_id: string }, Empty];
    readonly RemovePodSandbox: [{ readonly pod_sandbox_id: string }, Empty];
    readonly PodSandboxStatus: [
      { readonly pod_sandbox_id: string; readonly verbose: boolean },
      { readonly status: WirePodSandboxStatus | null },
    ];
    readonly ListPodSandbox: [
      {
        readonly filter?: {
          readonly id?: string;
          readonly state?: { readonly state: WireSandboxState };
          readonly label_selector?: WireMap;
        };
      },
      { readonly items: readonly WirePodSandbox[] },
    ];
    readonly CreateContainer: [
      {
        readonly pod_sandbox_id: string;
        readonly config: WireContainerConfig;
        readonly sandbox_config: WirePodSandboxConfig;
      },
      { readonly container_id: string },
    ];
    readonly StartContainer: [{ readonly container_id: string }, Empty];
    readonly StopContainer: [{ readonly container_id: string; readonly timeout: WireInt64 }, Empty];
    readonly RemoveContainer: [{ readonly container_id: string }, Empty];
    readonly ListContainers: [
      {
        readonly filter?: {
          readonly id?: string;
          readonly state?: { readonly state: WireContainerState };
          readonly pod_sandbox_id?: string;
          readonly label_selector?: WireMap;
        };
      },
      { readonly containers: readonly WireContainer[] },
    ];
    readonly ContainerStatus: [
      { readonly container_id: string; readonly verbose: boolean },
      { readonly status: WireContainerStatus | null },
    ];
    readonly ReopenContainerLog: [{ readonly container_id: string }, Empty];
    readonly ExecSync: [
      { readonly container_id: string; readonly cmd: readonly string[]; readonly timeout: WireInt64 },
      { readonly stdout: Buffer; readonly stderr: Buffer; readonly exit_code: number },
    ];
    readonly Status: [
      { readonly verbose: boolean },
      {
        readonly status: {
          readonly conditions: readonly {
            readonly type: string;
            readonly status: boolean;
            readonly reason: string;
            readonly message: string;
          }[];
        } | null;
      },
    ];
  };
  readonly ImageService: {
    readonly ListImages: [
      { readonly filter?: { readonly image: { readonly image: string } } },
      { readonly images: readonly WireImage[] },
    ];
    readonly ImageStatus: [
      { readonly image: { readonly image: string }; readonly verbose: boolean },
      { readonly image: WireImage | null },
    ];
    readonly PullImage: [{ readonly image: { readonly image: string } }, { readonly image_ref: string }];
  };
};

export type CriService = keyof CriMethods;
export type CriMethod<S extends CriService> = keyof CriMethods[S] & string;
export type CriRequest<S extends CriService, M extends CriMethod<S>> = CriMethods[S][M] extends [
  infer Req,
  unknown,
]
  ? Req
  : never;
export type CriResponse<S extends CriService, M extends CriMethod<S>> = CriMethods[S][M] extends [
  unknown,
  infer Res,
]
  ? Res
  : never;
