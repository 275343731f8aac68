/**
 * core/v1: the resources of the legacy group served under /api/v1.
 * https://kubernetes.io/docs/reference/kubernetes-api/
 * Field names and meanings follow Kubernetes; only the fields Flotilla understands are
 * here (the decoder drops, or in Strict mode rejects, the others).
 */
import type { IntOrString, LabelSelector, MicroTime, ObjectMeta, QuantityString, Time } from './meta.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';
export type Protocol = 'TCP' | 'UDP' | 'SCTP';
/** Resource name to quantity, e.g. `{ cpu: '500m', memory: '128Mi' }`. */
export type ResourceList = Readonly<Record<string, QuantityString>>;

// ---- Namespace -------------------------------------------------------------------------

export type NamespacePhase = 'Active' | 'Terminating';

export type NamespaceCondition = {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly lastTransitionTime?: Time;
  readonly reason?: string;
  readonly message?: string;
};

export type Namespace = {
  readonly apiVersion: 'v1';
  readonly kind: 'Namespace';
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly finalizers?: readonly string[] };
  readonly status?: { readonly phase?: NamespacePhase; readonly conditions?: readonly NamespaceCondition[] };
};

// ---- Pod: containers -----------------------------------------------------------------------

export type ContainerPort = {
  readonly name?: string;
  readonly containerPort: number;
  readonly hostPort?: number;
  readonly hostIP?: string;
  readonly protocol?: Protocol;
};

export type ObjectFieldSelector = { readonly apiVersion?: string; readonly fieldPath: string };
export type ResourceFieldSelector = {
  readonly containerName?: string;
  readonly resource: string;
  readonly divisor?: QuantityString;
};
export type ConfigMapKeySelector = {
  readonly name?: string;
  readonly key: string;
  readonly optional?: boolean;
};
export type SecretKeySelector = { readonly name?: string; readonly key: string; readonly optional?: boolean };

export type EnvVarSource = {
  readonly fieldRef?: ObjectFieldSelector;
  readonly resourceFieldRef?: ResourceFieldSelector;
  readonly configMapKeyRef?: ConfigMapKeySelector;
  readonly secretKeyRef?: SecretKeySelector;
};

export type EnvVar = { readonly name: string; readonly value?: string; readonly valueFrom?: EnvVarSource };

export type EnvFromSource = {
  readonly prefix?: string;
  readonly configMapRef?: { readonly name?: string; readonly optional?: boolean };
  readonly secretRef?: { readonly name?: string; readonly optional?: boolean };
};

export type ResourceRequirements = { readonly limits?: ResourceList; readonly requests?: ResourceList };

export type VolumeMount = {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
  readonly subPath?: string;
  readonly subPathExpr?: string;
  readonly mountPropagation?: 'None' | 'HostToContainer' | 'Bidirectional';
};

export type HTTPHeader = { readonly name: string; readonly value: string };
export type ExecAction = { readonly command?: readonly string[] };
export type HTTPGetAction = {
  readonly path?: string;
  readonly port: IntOrString;
  readonly host?: string;
  readonly scheme?: 'HTTP' | 'HTTPS';
  readonly httpHeaders?: readonly HTTPHeader[];
};
export type TCPSocketAction = { readonly port: IntOrString; readonly host?: string };
export type GRPCAction = { readonly port: number; readonly service?: string };

export type Probe = {
  readonly exec?: ExecAction;
  readonly httpGet?: HTTPGetAction;
  readonly tcpSocket?: TCPSocketAction;
  readonly grpc?: GRPCAction;
  readonly initialDelaySeconds?: number;
  readonly timeoutSeconds?: number;
  readonly periodSeconds?: number;
  readonly successThreshold?: number;
  readonly failureThreshold?: number;
  readonly terminationGracePeriodSeconds?: number;
};

export type LifecycleHandler = {
  readonly exec?: ExecAction;
  readonly httpGet?: HTTPGetAction;
  readonly tcpSocket?: TCPSocketAction;
  readonly sleep?: { readonly seconds: number };
};
export type Lifecycle = { readonly postStart?: LifecycleHandler; readonly preStop?: LifecycleHandler };

export type Capabilities = { readonly add?: readonly string[]; readonly drop?: readonly string[] };
export type SeccompProfile = { readonly type: string; readonly localhostProfile?: string };

export type SecurityContext = {
  readonly capabilities?: Capabilities;
  readonly privileged?: boolean;
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly procMount?: string;
  readonly seccompProfile?: SeccompProfile;
};

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';
export type TerminationMessagePolicy = 'File' | 'FallbackToLogsOnError';

export type Container = {
  readonly name: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly ports?: readonly ContainerPort[];
  readonly envFrom?: readonly EnvFromSource[];
  readonly env?: readonly EnvVar[];
  readonly resources?: ResourceRequirements;
  /** Only `Always`, on init containers: a sidecar (Kubernetes 1.29+). */
  readonly restartPolicy?: 'Always';
  readonly volumeMounts?: readonly VolumeMount[];
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly startupProbe?: Probe;
  readonly lifecycle?: Lifecycle;
  readonly terminationMessagePath?: string;
  readonly terminationMessagePolicy?: TerminationMessagePolicy;
  readonly imagePullPolicy?: PullPolicy;
  readonly securityContext?: SecurityContext;
  readonly stdin?: boolean;
  readonly stdinOnce?: boolean;
  readonly tty?: boolean;
};

// ---- Pod: volumes ----------------------------------------------------------------------------

export type KeyToPath = { readonly key: string; readonly path: string; readonly mode?: number };

export type HostPathType =
  | ''
  | 'DirectoryOrCreate'
  | 'Directory'
  | 'FileOrCreate'
  | 'File'
  | 'Socket'
  | 'CharDevice'
  | 'BlockDevice';

export type HostPathVolumeSource = { readonly path: string; readonly type?: HostPathType };
export type EmptyDirVolumeSource = { readonly medium?: '' | 'Memory'; readonly sizeLimit?: QuantityString };
export type ConfigMapVolumeSource = {
  readonly name?: string;
  readonly items?: readonly KeyToPath[];
  readonly defaultMode?: number;
  readonly optional?: boolean;
};
export type SecretVolumeSource = {
  readonly secretName?: string;
  readonly items?: readonly KeyToPath[];
  readonly defaultMode?: number;
  readonly optional?: boolean;
};
export type PersistentVolumeClaimVolumeSource = { readonly claimName: string; readonly readOnly?: boolean };

export type DownwardAPIVolumeFile = {
  readonly path: string;
  readonly fieldRef?: ObjectFieldSelector;
  readonly resourceFieldRef?: ResourceFieldSelector;
  readonly mode?: number;
};
export type DownwardAPIVolumeSource = {
  readonly items?: readonly DownwardAPIVolumeFile[];
  readonly defaultMode?: number;
};

export type VolumeProjection = {
  readonly secret?: {
    readonly name?: string;
    readonly items?: readonly KeyToPath[];
    readonly optional?: boolean;
  };
  readonly configMap?: {
    readonly name?: string;
    readonly items?: readonly KeyToPath[];
    readonly optional?: boolean;
  };
  readonly downwardAPI?: { readonly items?: readonly DownwardAPIVolumeFile[] };
  readonly serviceAccountToken?: {
    readonly audience?: string;
    readonly expirationSeconds?: number;
    readonly path: string;
  };
};
export type ProjectedVolumeSource = {
  readonly sources?: readonly VolumeProjection[];
  readonly defaultMode?: number;
};

/** The volume sources Flotilla knows; exactly one is set (validation checks it). */
export type VolumeSource = {
  readonly emptyDir?: EmptyDirVolumeSource;
  readonly hostPath?: HostPathVolumeSource;
  readonly configMap?: ConfigMapVolumeSource;
  readonly secret?: SecretVolumeSource;
  readonly persistentVolumeClaim?: PersistentVolumeClaimVolumeSource;
  readonly downwardAPI?: DownwardAPIVolumeSource;
  readonly projected?: ProjectedVolumeSource;
};

export type Volume = VolumeSource & { readonly name: string };

/** The keys of VolumeSource, in the order Kubernetes reports them. */
export const volumeSourceKeys = [
  'emptyDir',
  'hostPath',
  'configMap',
  'secret',
  'persistentVolumeClaim',
  'downwardAPI',
  'projected',
] as const satisfies readonly (keyof VolumeSource)[];

// ---- Pod: scheduling -------------------------------------------------------------------------

export type NodeSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';

export type NodeSelectorRequirement = {
  readonly key: string;
  readonly operator: NodeSelectorOperator;
  readonly values?: readonly string[];
};

export type NodeSelectorTerm = {
  readonly matchExpressions?: readonly NodeSelectorRequirement[];
  readonly matchFields?: readonly NodeSelectorRequirement[];
};

export type NodeSelector = { readonly nodeSelectorTerms: readonly NodeSelectorTerm[] };

export type PreferredSchedulingTerm = { readonly weight: number; readonly preference: NodeSelectorTerm };

export type NodeAffinity = {
  readonly requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector;
  readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly PreferredSchedulingTerm[];
};

export type PodAffinityTerm = {
  readonly labelSelector?: LabelSelector;
  readonly namespaces?: readonly string[];
  readonly topologyKey: string;
  readonly namespaceSelector?: LabelSelector;
};

export type WeightedPodAffinityTerm = { readonly weight: number; readonly podAffinityTerm: PodAffinityTerm };

export type PodAffinity = {
  readonly requiredDuringSchedulingIgnoredDuringExecution?: readonly PodAffinityTerm[];
  readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly WeightedPodAffinityTerm[];
};

export type Affinity = {
  readonly nodeAffinity?: NodeAffinity;
  readonly podAffinity?: PodAffinity;
  readonly podAntiAffinity?: PodAffinity;
};

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export type Toleration = {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: TaintEffect;
  readonly tolerationSeconds?: number;
};

export type TopologySpreadConstraint = {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway';
  readonly labelSelector?: LabelSelector;
  readonly minDomains?: number;
};

// ---- Pod ---------------------------------------------------------------------------------------

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export type DNSPolicy = 'ClusterFirstWithHostNet' | 'ClusterFirst' | 'Default' | 'None';

export type PodDNSConfig = {
  readonly nameservers?: readonly string[];
  readonly searches?: readonly string[];
  readonly options?: readonly { readonly name?: string; readonly value?: string }[];
};

export type PodSecurityContext = {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly fsGroup?: number;
  readonly supplementalGroups?: readonly number[];
  readonly seccompProfile?: SeccompProfile;
  readonly sysctls?: readonly { readonly name: string; readonly value: string }[];
};

export type HostAlias = { readonly ip: string; readonly hostnames?: readonly string[] };

export type PodSpec = {
  readonly volumes?: readonly Volume[];
  readonly initContainers?: readonly Container[];
  readonly containers: readonly Container[];
  readonly restartPolicy?: RestartPolicy;
  readonly terminationGracePeriodSeconds?: number;
  readonly activeDeadlineSeconds?: number;
  readonly dnsPolicy?: DNSPolicy;
  readonly dnsConfig?: PodDNSConfig;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly serviceAccountName?: string;
  /** Deprecated alias of serviceAccountName, kept because old manifests still send it. */
  readonly serviceAccount?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly nodeName?: string;
  readonly hostNetwork?: boolean;
  readonly hostPID?: boolean;
  readonly hostIPC?: boolean;
  readonly shareProcessNamespace?: boolean;
  readonly securityContext?: PodSecurityContext;
  readonly imagePullSecrets?: readonly { readonly name?: string }[];
  readonly hostname?: string;
  readonly subdomain?: string;
  readonly affinity?: Affinity;
  readonly schedulerName?: string;
  readonly tolerations?: readonly Toleration[];
  readonly hostAliases?: readonly HostAlias[];
  readonly priorityClassName?: string;
  readonly priority?: number;
  readonly preemptionPolicy?: 'PreemptLowerPriority' | 'Never';
  readonly readinessGates?: readonly { readonly conditionType: string }[];
  readonly runtimeClassName?: string;
  readonly enableServiceLinks?: boolean;
  readonly topologySpreadConstraints?: readonly TopologySpreadConstraint[];
};

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
export type PodConditionType = 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready' | (string & {});

export type PodCondition = {
  readonly type: PodConditionType;
  readonly status: ConditionStatus;
  readonly lastProbeTime?: Time;
  readonly lastTransitionTime?: Time;
  readonly reason?: string;
  readonly message?: string;
};

export type ContainerStateWaiting = { readonly reason?: string; readonly message?: string };
export type ContainerStateRunning = { readonly startedAt?: Time };
export type ContainerStateTerminated = {
  readonly exitCode: number;
  readonly signal?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly startedAt?: Time;
  readonly finishedAt?: Time;
  readonly containerID?: string;
};

/** At most one of the three is set; none means Waiting with no reason yet. */
export type ContainerState = {
  readonly waiting?: ContainerStateWaiting;
  readonly running?: ContainerStateRunning;
  readonly terminated?: ContainerStateTerminated;
};

export type ContainerStatus = {
  readonly name: string;
  readonly state?: ContainerState;
  readonly lastState?: ContainerState;
  readonly ready: boolean;
  readonly restartCount: number;
  readonly image: string;
  readonly imageID: string;
  readonly containerID?: string;
  readonly started?: boolean;
};

export type PodIP = { readonly ip: string };
export type PodQOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

export type PodStatus = {
  readonly phase?: PodPhase;
  readonly conditions?: readonly PodCondition[];
  readonly message?: string;
  readonly reason?: string;
  readonly nominatedNodeName?: string;
  readonly hostIP?: string;
  readonly hostIPs?: readonly { readonly ip: string }[];
  readonly podIP?: string;
  readonly podIPs?: readonly PodIP[];
  readonly startTime?: Time;
  readonly initContainerStatuses?: readonly ContainerStatus[];
  readonly containerStatuses?: readonly ContainerStatus[];
  readonly qosClass?: PodQOSClass;
};

export type Pod = {
  readonly apiVersion: 'v1';
  readonly kind: 'Pod';
  readonly metadata: ObjectMeta;
  readonly spec?: PodSpec;
  readonly status?: PodStatus;
};

export type PodTemplateSpec = { readonly metadata?: ObjectMeta; readonly spec?: PodSpec };

export type ObjectReference = {
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly uid?: string;
  readonly apiVersion?: string;
  readonly resourceVersion?: string;
  readonly fieldPath?: string;
};

/** The body of POST pods/<name>/binding: the scheduler's decision. */
export type Binding = {
  readonly apiVersion: 'v1';
  readonly kind: 'Binding';
  readonly metadata: ObjectMeta;
  readonly target: ObjectReference;
};

// ---- Node ---------------------------------------------------------------------------------------

export type Taint = {
  readonly key: string;
  readonly value?: string;
  readonly effect: TaintEffect;
  readonly timeAdded?: Time;
};

export type NodeSpec = {
  readonly podCIDR?: string;
  readonly podCIDRs?: readonly string[];
  readonly providerID?: string;
  readonly unschedulable?: boolean;
  readonly taints?: readonly Taint[];
};

export type NodeConditionType =
  | 'Ready'
  | 'MemoryPressure'
  | 'DiskPressure'
  | 'PIDPressure'
  | 'NetworkUnavailable'
  | (string & {});

export type NodeCondition = {
  readonly type: NodeConditionType;
  readonly status: ConditionStatus;
  readonly lastHeartbeatTime?: Time;
  readonly lastTransitionTime?: Time;
  readonly reason?: string;
  readonly message?: string;
};

export type NodeAddress = {
  readonly type: 'Hostname' | 'InternalIP' | 'ExternalIP' | 'InternalDNS' | 'ExternalDNS';
  readonly address: string;
};

export type NodeSystemInfo = {
  readonly machineID: string;
  readonly systemUUID: string;
  readonly bootID: string;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly containerRuntimeVersion: string;
  readonly kubeletVersion: string;
  readonly kubeProxyVersion: string;
  readonly operatingSystem: string;
  readonly architecture: string;
};

export type ContainerImage = { readonly names?: readonly string[]; readonly sizeBytes?: number };

export type NodeStatus = {
  readonly capacity?: ResourceList;
  readonly allocatable?: ResourceList;
  readonly phase?: string;
  readonly conditions?: readonly NodeCondition[];
  readonly addresses?: readonly NodeAddress[];
  readonly daemonEndpoints?: { readonly kubeletEndpoint?: { readonly Port: number } };
  readonly nodeInfo?: Partial<NodeSystemInfo>;
  readonly images?: readonly ContainerImage[];
};

export type Node = {
  readonly apiVersion: 'v1';
  readonly kind: 'Node';
  readonly metadata: ObjectMeta;
  readonly spec?: NodeSpec;
  readonly status?: NodeStatus;
};

// ---- Service and Endpoints ------------------------------------------------------------------------

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export type ServicePort = {
  readonly name?: string;
  readonly protocol?: Protocol;
  readonly appProtocol?: string;
  readonly port: number;
  readonly targetPort?: IntOrString;
  readonly nodePort?: number;
};

export type ServiceSpec = {
  readonly ports?: readonly ServicePort[];
  readonly selector?: Readonly<Record<string, string>>;
  /** An IP, `None` for a headless service, or empty to have one allocated. */
  readonly clusterIP?: string;
  readonly clusterIPs?: readonly string[];
  readonly type?: ServiceType;
  readonly externalIPs?: readonly string[];
  readonly sessionAffinity?: 'ClientIP' | 'None';
  readonly loadBalancerIP?: string;
  readonly externalName?: string;
  readonly externalTrafficPolicy?: 'Cluster' | 'Local';
  readonly internalTrafficPolicy?: 'Cluster' | 'Local';
  readonly healthCheckNodePort?: number;
  readonly publishNotReadyAddresses?: boolean;
  readonly sessionAffinityConfig?: { readonly clientIP?: { readonly timeoutSeconds?: number } };
  readonly ipFamilies?: readonly ('IPv4' | 'IPv6')[];
  readonly ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
};

export type LoadBalancerIngress = { readonly ip?: string; readonly hostname?: string };

export type ServiceStatus = {
  readonly loadBalancer?: { readonly ingress?: readonly LoadBalancerIngress[] };
  readonly conditions?: readonly MetaCondition[];
};

/** metav1.Condition, the standard condition shape of newer types. */
export type MetaCondition = {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: Time;
  readonly reason: string;
  readonly message: string;
};

export type Service = {
  readonly apiVersion: 'v1';
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec?: ServiceSpec;
  readonly status?: ServiceStatus;
};

export type EndpointAddress = {
  readonly ip: string;
  readonly hostname?: string;
  readonly nodeName?: string;
  readonly targetRef?: ObjectReference;
};

export type EndpointPort = {
  readonly name?: string;
  readonly port: number;
  readonly protocol?: Protocol;
  readonly appProtocol?: string;
};

export type EndpointSubset = {
  readonly addresses?: readonly EndpointAddress[];
  readonly notReadyAddresses?: readonly EndpointAddress[];
  readonly ports?: readonly EndpointPort[];
};

export type Endpoints = {
  readonly apiVersion: 'v1';
  readonly kind: 'Endpoints';
  readonly metadata: ObjectMeta;
  readonly subsets?: readonly EndpointSubset[];
};

// ---- ConfigMap, Secret, Event ----------------------------------------------------------------------

export type ConfigMap = {
  readonly apiVersion: 'v1';
  readonly kind: 'ConfigMap';
  readonly metadata: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
  /** Values are base64 on the wire. */
  readonly binaryData?: Readonly<Record<string, string>>;
  readonly immutable?: boolean;
};

export type Secret = {
  readonly apiVersion: 'v1';
  readonly kind: 'Secret';
  readonly metadata: ObjectMeta;
  /** Values are base64 on the wire. */
  readonly data?: Readonly<Record<string, string>>;
  /** Write-only: merged into `data` when the secret is stored. */
  readonly stringData?: Readonly<Record<string, string>>;
  readonly type?: string;
  readonly immutable?: boolean;
};

export type EventSource = { readonly component?: string; readonly host?: string };

export type Event = {
  readonly apiVersion: 'v1';
  readonly kind: 'Event';
  readonly metadata: ObjectMeta;
  readonly involvedObject: ObjectReference;
  readonly reason?: string;
  readonly message?: string;
  readonly source?: EventSource;
  readonly firstTimestamp?: Time;
  readonly lastTimestamp?: Time;
  readonly count?: number;
  readonly type?: 'Normal' | 'Warning' | (string & {});
  readonly eventTime?: MicroTime;
  readonly series?: { readonly count?: number; readonly lastObservedTime?: MicroTime };
  readonly action?: string;
  readonly related?: ObjectReference;
  readonly reportingComponent?: string;
  readonly reportingInstance?: string;
};

// ---- PersistentVolume, PersistentVolumeClaim --------------------------------------------------------

export type PersistentVolumeAccessMode =
  | 'ReadWriteOnce'
  | 'ReadOnlyMany'
  | 'ReadWriteMany'
  | 'ReadWriteOncePod';
export type PersistentVolumeMode = 'Block' | 'Filesystem';

export type PersistentVolumeSpec = {
  readonly capacity?: ResourceList;
  readonly hostPath?: HostPathVolumeSource;
  readonly local?: { readonly path: string; readonly fsType?: string };
  readonly nfs?: { readonly server: string; readonly path: string; readonly readOnly?: boolean };
  readonly accessModes?: readonly PersistentVolumeAccessMode[];
  readonly claimRef?: ObjectReference;
  readonly persistentVolumeReclaimPolicy?: 'Recycle' | 'Delete' | 'Retain';
  readonly storageClassName?: string;
  readonly mountOptions?: readonly string[];
  readonly volumeMode?: PersistentVolumeMode;
  readonly nodeAffinity?: { readonly required?: NodeSelector };
};

export type PersistentVolumePhase = 'Pending' | 'Available' | 'Bound' | 'Released' | 'Failed';

export type PersistentVolume = {
  readonly apiVersion: 'v1';
  readonly kind: 'PersistentVolume';
  readonly metadata: ObjectMeta;
  readonly spec?: PersistentVolumeSpec;
  readonly status?: {
    readonly phase?: PersistentVolumePhase;
    readonly message?: string;
    readonly reason?: string;
    readonly lastPhaseTransitionTime?: Time;
  };
};

export type PersistentVolumeClaimSpec = {
  readonly accessModes?: readonly PersistentVolumeAccessMode[];
  readonly selector?: LabelSelector;
  readonly resources?: ResourceRequirements;
  readonly volumeName?: string;
  readonly storageClassName?: string;
  readonly volumeMode?: PersistentVolumeMode;
};

export type PersistentVolumeClaimCondition = {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly lastProbeTime?: Time;
  readonly lastTransitionTime?: Time;
  readonly reason?: string;
  readonly message?: string;
};

export type PersistentVolumeClaim = {
  readonly apiVersion: 'v1';
  readonly kind: 'PersistentVolumeClaim';
  readonly metadata: ObjectMeta;
  readonly spec?: PersistentVolumeClaimSpec;
  readonly status?: {
    readonly phase?: 'Pending' | 'Bound' | 'Lost';
    readonly accessModes?: readonly PersistentVolumeAccessMode[];
    readonly capacity?: ResourceList;
    readonly conditions?: readonly PersistentVolumeClaimCondition[];
  };
};
