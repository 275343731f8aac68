/**
 * Schemas of core/v1. Presence and patch strategies follow the json and patchStrategy
 * tags of Kubernetes' Go types (k8s.io/api/core/v1), e.g. containers merge by `name`,
 * ports by `containerPort`, volume mounts by `mountPath`, tolerations replace.
 */
import type * as core from '../types/core.ts';
import { labelSelectorSchema, objectMetaSchema } from './meta.ts';
import {
  always,
  boolean,
  bytes,
  int32,
  int64,
  intOrString,
  list,
  map,
  mergeList,
  microTime,
  pointer,
  quantity,
  setList,
  string,
  struct,
  time,
} from './schema.ts';

const v1 = 'io.k8s.api.core.v1';

const resourceList = map(quantity);
const stringMap = map(string());

// ---- Namespace --------------------------------------------------------------------------------

const namespaceConditionSchema = struct<core.NamespaceCondition>(`${v1}.NamespaceCondition`, {
  type: always(string()),
  status: always(string<core.ConditionStatus>()),
  lastTransitionTime: time,
  reason: string(),
  message: string(),
});

export const namespaceSchema = struct<core.Namespace>(`${v1}.Namespace`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<NonNullable<core.Namespace['spec']>>(`${v1}.NamespaceSpec`, { finalizers: list(string()) }),
  ),
  status: always(
    struct<NonNullable<core.Namespace['status']>>(`${v1}.NamespaceStatus`, {
      phase: string(),
      conditions: mergeList(namespaceConditionSchema, 'type'),
    }),
  ),
});

// ---- Containers ---------------------------------------------------------------------------------

const containerPortSchema = struct<core.ContainerPort>(`${v1}.ContainerPort`, {
  name: string(),
  hostPort: int32,
  containerPort: always(int32),
  protocol: string(),
  hostIP: string(),
});

const objectFieldSelectorSchema = struct<core.ObjectFieldSelector>(`${v1}.ObjectFieldSelector`, {
  apiVersion: string(),
  fieldPath: always(string()),
});

const resourceFieldSelectorSchema = struct<core.ResourceFieldSelector>(`${v1}.ResourceFieldSelector`, {
  containerName: string(),
  resource: always(string()),
  divisor: quantity,
});

const keySelectorFields = { name: string(), key: always(string()), optional: pointer(boolean) };

const envVarSchema = struct<core.EnvVar>(`${v1}.EnvVar`, {
  name: always(string()),
  value: string(),
  valueFrom: pointer(
    struct<core.EnvVarSource>(`${v1}.EnvVarSource`, {
      fieldRef: pointer(objectFieldSelectorSchema),
      resourceFieldRef: pointer(resourceFieldSelectorSchema),
      configMapKeyRef: pointer(
        struct<core.ConfigMapKeySelector>(`${v1}.ConfigMapKeySelector`, keySelectorFields),
      ),
      secretKeyRef: pointer(struct<core.SecretKeySelector>(`${v1}.SecretKeySelector`, keySelectorFields)),
    }),
  ),
});

const envSourceRefFields = { name: string(), optional: pointer(boolean) };

const envFromSourceSchema = struct<core.EnvFromSource>(`${v1}.EnvFromSource`, {
  prefix: string(),
  configMapRef: pointer(
    struct<NonNullable<core.EnvFromSource['configMapRef']>>(`${v1}.ConfigMapEnvSource`, envSourceRefFields),
  ),
  secretRef: pointer(
    struct<NonNullable<core.EnvFromSource['secretRef']>>(`${v1}.SecretEnvSource`, envSourceRefFields),
  ),
});

export const resourceRequirementsSchema = struct<core.ResourceRequirements>(`${v1}.ResourceRequirements`, {
  limits: resourceList,
  requests: resourceList,
});

const volumeMountSchema = struct<core.VolumeMount>(`${v1}.VolumeMount`, {
  name: always(string()),
  readOnly: boolean,
  mountPath: always(string()),
  subPath: string(),
  mountPropagation: pointer(string()),
  subPathExpr: string(),
});

const execActionSchema = struct<core.ExecAction>(`${v1}.ExecAction`, { command: list(string()) });

const httpGetActionSchema = struct<core.HTTPGetAction>(`${v1}.HTTPGetAction`, {
  path: string(),
  port: always(intOrString),
  host: string(),
  scheme: string(),
  httpHeaders: list(
    struct<core.HTTPHeader>(`${v1}.HTTPHeader`, { name: always(string()), value: always(string()) }),
  ),
});

const tcpSocketActionSchema = struct<core.TCPSocketAction>(`${v1}.TCPSocketAction`, {
  port: always(intOrString),
  host: string(),
});

const probeSchema = struct<core.Probe>(`${v1}.Probe`, {
  exec: pointer(execActionSchema),
  httpGet: pointer(httpGetActionSchema),
  tcpSocket: pointer(tcpSocketActionSchema),
  grpc: pointer(
    struct<core.GRPCAction>(`${v1}.GRPCAction`, { port: always(int32), service: pointer(string()) }),
  ),
  initialDelaySeconds: int32,
  timeoutSeconds: int32,
  periodSeconds: int32,
  successThreshold: int32,
  failureThreshold: int32,
  terminationGracePeriodSeconds: pointer(int64),
});

const lifecycleHandlerSchema = struct<core.LifecycleHandler>(`${v1}.LifecycleHandler`, {
  exec: pointer(execActionSchema),
  httpGet: pointer(httpGetActionSchema),
  tcpSocket: pointer(tcpSocketActionSchema),
  sleep: pointer(
    struct<NonNullable<core.LifecycleHandler['sleep']>>(`${v1}.SleepAction`, { seconds: always(int64) }),
  ),
});

const seccompProfileSchema = struct<core.SeccompProfile>(`${v1}.SeccompProfile`, {
  type: always(string()),
  localhostProfile: pointer(string()),
});

const securityContextSchema = struct<core.SecurityContext>(`${v1}.SecurityContext`, {
  capabilities: pointer(
    struct<core.Capabilities>(`${v1}.Capabilities`, { add: list(string()), drop: list(string()) }),
  ),
  privileged: pointer(boolean),
  runAsUser: pointer(int64),
  runAsGroup: pointer(int64),
  runAsNonRoot: pointer(boolean),
  readOnlyRootFilesystem: pointer(boolean),
  allowPrivilegeEscalation: pointer(boolean),
  procMount: pointer(string()),
  seccompProfile: pointer(seccompProfileSchema),
});

export const containerSchema = struct<core.Container>(`${v1}.Container`, {
  name: always(string()),
  image: string(),
  command: list(string()),
  args: list(string()),
  workingDir: string(),
  ports: mergeList(containerPortSchema, 'containerPort'),
  envFrom: list(envFromSourceSchema),
  env: mergeList(envVarSchema, 'name'),
  resources: always(resourceRequirementsSchema),
  restartPolicy: pointer(string()),
  volumeMounts: mergeList(volumeMountSchema, 'mountPath'),
  livenessProbe: pointer(probeSchema),
  readinessProbe: pointer(probeSchema),
  startupProbe: pointer(probeSchema),
  lifecycle: pointer(
    struct<core.Lifecycle>(`${v1}.Lifecycle`, {
      postStart: pointer(lifecycleHandlerSchema),
      preStop: pointer(lifecycleHandlerSchema),
    }),
  ),
  terminationMessagePath: string(),
  terminationMessagePolicy: string(),
  imagePullPolicy: string(),
  securityContext: pointer(securityContextSchema),
  stdin: boolean,
  stdinOnce: boolean,
  tty: boolean,
});

// ---- Volumes ------------------------------------------------------------------------------------

const keyToPathSchema = struct<core.KeyToPath>(`${v1}.KeyToPath`, {
  key: always(string()),
  path: always(string()),
  mode: pointer(int32),
});

const hostPathSchema = struct<core.HostPathVolumeSource>(`${v1}.HostPathVolumeSource`, {
  path: always(string()),
  type: pointer(string()),
});

const downwardAPIVolumeFileSchema = struct<core.DownwardAPIVolumeFile>(`${v1}.DownwardAPIVolumeFile`, {
  path: always(string()),
  fieldRef: pointer(objectFieldSelectorSchema),
  resourceFieldRef: pointer(resourceFieldSelectorSchema),
  mode: pointer(int32),
});

type Projection = core.VolumeProjection;

const volumeSourceFields = {
  emptyDir: pointer(
    struct<core.EmptyDirVolumeSource>(`${v1}.EmptyDirVolumeSource`, {
      medium: string(),
      sizeLimit: pointer(quantity),
    }),
  ),
  hostPath: pointer(hostPathSchema),
  configMap: pointer(
    struct<core.ConfigMapVolumeSource>(`${v1}.ConfigMapVolumeSource`, {
      name: string(),
      items: list(keyToPathSchema),
      defaultMode: pointer(int32),
      optional: pointer(boolean),
    }),
  ),
  secret: pointer(
    struct<core.SecretVolumeSource>(`${v1}.SecretVolumeSource`, {
      secretName: string(),
      items: list(keyToPathSchema),
      defaultMode: pointer(int32),
      optional: pointer(boolean),
    }),
  ),
  persistentVolumeClaim: pointer(
    struct<core.PersistentVolumeClaimVolumeSource>(`${v1}.PersistentVolumeClaimVolumeSource`, {
      claimName: always(string()),
      readOnly: boolean,
    }),
  ),
  downwardAPI: pointer(
    struct<core.DownwardAPIVolumeSource>(`${v1}.DownwardAPIVolumeSource`, {
      items: list(downwardAPIVolumeFileSchema),
      defaultMode: pointer(int32),
    }),
  ),
  projected: pointer(
    struct<core.ProjectedVolumeSource>(`${v1}.ProjectedVolumeSource`, {
      sources: list(
        struct<Projection>(`${v1}.VolumeProjection`, {
          secret: pointer(
            struct<NonNullable<Projection['secret']>>(`${v1}.SecretProjection`, {
              name: string(),
              items: list(keyToPathSchema),
              optional: pointer(boolean),
            }),
          ),
          configMap: pointer(
            struct<NonNullable<Projection['configMap']>>(`${v1}.ConfigMapProjection`, {
              name: string(),
              items: list(keyToPathSchema),
              optional: pointer(boolean),
            }),
          ),
          downwardAPI: pointer(
            struct<NonNullable<Projection['downwardAPI']>>(`${v1}.DownwardAPIProjection`, {
              items: list(downwardAPIVolumeFileSchema),
            }),
          ),
          serviceAccountToken: pointer(
            struct<NonNullable<Projection['serviceAccountToken']>>(`${v1}.ServiceAccountTokenProjection`, {
              audience: string(),
              expirationSeconds: pointer(int64),
              path: always(string()),
            }),
          ),
        }),
      ),
      defaultMode: pointer(int32),
    }),
  ),
};

const volumeSchema = struct<core.Volume>(`${v1}.Volume`, { name: always(string()), ...volumeSourceFields });

// ---- Scheduling ------------------------------------------------------------------------------------

const nodeSelectorRequirementSchema = struct<core.NodeSelectorRequirement>(`${v1}.NodeSelectorRequirement`, {
  key: always(string()),
  operator: always(string()),
  values: list(string()),
});

const nodeSelectorTermSchema = struct<core.NodeSelectorTerm>(`${v1}.NodeSelectorTerm`, {
  matchExpressions: list(nodeSelectorRequirementSchema),
  matchFields: list(nodeSelectorRequirementSchema),
});

const nodeSelectorSchema = struct<core.NodeSelector>(`${v1}.NodeSelector`, {
  nodeSelectorTerms: always(list(nodeSelectorTermSchema)),
});

const podAffinityTermSchema = struct<core.PodAffinityTerm>(`${v1}.PodAffinityTerm`, {
  labelSelector: pointer(labelSelectorSchema),
  namespaces: list(string()),
  topologyKey: always(string()),
  namespaceSelector: pointer(labelSelectorSchema),
});

const podAffinitySchema = (name: string) =>
  struct<core.PodAffinity>(`${v1}.${name}`, {
    requiredDuringSchedulingIgnoredDuringExecution: list(podAffinityTermSchema),
    preferredDuringSchedulingIgnoredDuringExecution: list(
      struct<core.WeightedPodAffinityTerm>(`${v1}.WeightedPodAffinityTerm`, {
        weight: always(int32),
        podAffinityTerm: always(podAffinityTermSchema),
      }),
    ),
  });

const affinitySchema = struct<core.Affinity>(`${v1}.Affinity`, {
  nodeAffinity: pointer(
    struct<core.NodeAffinity>(`${v1}.NodeAffinity`, {
      requiredDuringSchedulingIgnoredDuringExecution: pointer(nodeSelectorSchema),
      preferredDuringSchedulingIgnoredDuringExecution: list(
        struct<core.PreferredSchedulingTerm>(`${v1}.PreferredSchedulingTerm`, {
          weight: always(int32),
          preference: always(nodeSelectorTermSchema),
        }),
      ),
    }),
  ),
  podAffinity: pointer(podAffinitySchema('PodAffinity')),
  podAntiAffinity: pointer(podAffinitySchema('PodAntiAffinity')),
});

const tolerationSchema = struct<core.Toleration>(`${v1}.Toleration`, {
  key: string(),
  operator: string(),
  value: string(),
  effect: string(),
  tolerationSeconds: pointer(int64),
});

// ---- Pod ------------------------------------------------------------------------------------------

export const podSpecSchema = struct<core.PodSpec>(`${v1}.PodSpec`, {
  volumes: mergeList(volumeSchema, 'name', { retainKeys: true }),
  initContainers: mergeList(containerSchema, 'name'),
  containers: always(mergeList(containerSchema, 'name')),
  restartPolicy: string(),
  terminationGracePeriodSeconds: pointer(int64),
  activeDeadlineSeconds: pointer(int64),
  dnsPolicy: string(),
  nodeSelector: stringMap,
  serviceAccountName: string(),
  serviceAccount: string(),
  automountServiceAccountToken: pointer(boolean),
  nodeName: string(),
  hostNetwork: boolean,
  hostPID: boolean,
  hostIPC: boolean,
  shareProcessNamespace: pointer(boolean),
  securityContext: pointer(
    struct<core.PodSecurityContext>(`${v1}.PodSecurityContext`, {
      runAsUser: pointer(int64),
      runAsGroup: pointer(int64),
      runAsNonRoot: pointer(boolean),
      fsGroup: pointer(int64),
      supplementalGroups: list(int64),
      seccompProfile: pointer(seccompProfileSchema),
      sysctls: list(
        struct<NonNullable<core.PodSecurityContext['sysctls']>[number]>(`${v1}.Sysctl`, {
          name: always(string()),
          value: always(string()),
        }),
      ),
    }),
  ),
  imagePullSecrets: mergeList(
    struct<NonNullable<core.PodSpec['imagePullSecrets']>[number]>(`${v1}.LocalObjectReference`, {
      name: string(),
    }),
    'name',
  ),
  hostname: string(),
  subdomain: string(),
  affinity: pointer(affinitySchema),
  schedulerName: string(),
  tolerations: list(tolerationSchema),
  hostAliases: mergeList(
    struct<core.HostAlias>(`${v1}.HostAlias`, { ip: always(string()), hostnames: list(string()) }),
    'ip',
  ),
  priorityClassName: string(),
  priority: pointer(int32),
  dnsConfig: pointer(
    struct<core.PodDNSConfig>(`${v1}.PodDNSConfig`, {
      nameservers: list(string()),
      searches: list(string()),
      options: list(
        struct<NonNullable<core.PodDNSConfig['options']>[number]>(`${v1}.PodDNSConfigOption`, {
          name: string(),
          value: pointer(string()),
        }),
      ),
    }),
  ),
  readinessGates: list(
    struct<NonNullable<core.PodSpec['readinessGates']>[number]>(`${v1}.PodReadinessGate`, {
      conditionType: always(string()),
    }),
  ),
  runtimeClassName: pointer(string()),
  enableServiceLinks: pointer(boolean),
  preemptionPolicy: pointer(string()),
  topologySpreadConstraints: mergeList(
    struct<core.TopologySpreadConstraint>(`${v1}.TopologySpreadConstraint`, {
      maxSkew: always(int32),
      topologyKey: always(string()),
      whenUnsatisfiable: always(string()),
      labelSelector: pointer(labelSelectorSchema),
      minDomains: pointer(int32),
    }),
    'topologyKey',
  ),
});

const containerStateSchema = struct<core.ContainerState>(`${v1}.ContainerState`, {
  waiting: pointer(
    struct<core.ContainerStateWaiting>(`${v1}.ContainerStateWaiting`, {
      reason: string(),
      message: string(),
    }),
  ),
  running: pointer(struct<core.ContainerStateRunning>(`${v1}.ContainerStateRunning`, { startedAt: time })),
  terminated: pointer(
    struct<core.ContainerStateTerminated>(`${v1}.ContainerStateTerminated`, {
      exitCode: always(int32),
      signal: int32,
      reason: string(),
      message: string(),
      startedAt: time,
      finishedAt: time,
      containerID: string(),
    }),
  ),
});

const containerStatusSchema = struct<core.ContainerStatus>(`${v1}.ContainerStatus`, {
  name: always(string()),
  state: always(containerStateSchema),
  lastState: always(containerStateSchema),
  ready: always(boolean),
  restartCount: always(int32),
  image: always(string()),
  imageID: always(string()),
  containerID: string(),
  started: pointer(boolean),
});

const podIPSchema = struct<core.PodIP>(`${v1}.PodIP`, { ip: always(string()) });

export const podStatusSchema = struct<core.PodStatus>(`${v1}.PodStatus`, {
  phase: string(),
  conditions: mergeList(
    struct<core.PodCondition>(`${v1}.PodCondition`, {
      type: always(string()),
      status: always(string()),
      lastProbeTime: time,
      lastTransitionTime: time,
      reason: string(),
      message: string(),
    }),
    'type',
  ),
  message: string(),
  reason: string(),
  nominatedNodeName: string(),
  hostIP: string(),
  hostIPs: mergeList(struct<{ readonly ip: string }>(`${v1}.HostIP`, { ip: always(string()) }), 'ip'),
  podIP: string(),
  podIPs: mergeList(podIPSchema, 'ip'),
  startTime: pointer(time),
  initContainerStatuses: list(containerStatusSchema),
  containerStatuses: list(containerStatusSchema),
  qosClass: string(),
});

export const podSchema = struct<core.Pod>(`${v1}.Pod`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(podSpecSchema),
  status: always(podStatusSchema),
});

export const podTemplateSpecSchema = struct<core.PodTemplateSpec>(`${v1}.PodTemplateSpec`, {
  metadata: always(objectMetaSchema),
  spec: always(podSpecSchema),
});

export const objectReferenceSchema = struct<core.ObjectReference>(`${v1}.ObjectReference`, {
  kind: string(),
  namespace: string(),
  name: string(),
  uid: string(),
  apiVersion: string(),
  resourceVersion: string(),
  fieldPath: string(),
});

export const bindingSchema = struct<core.Binding>(`${v1}.Binding`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  target: always(objectReferenceSchema),
});

// ---- Node ------------------------------------------------------------------------------------------

export const nodeSchema = struct<core.Node>(`${v1}.Node`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<core.NodeSpec>(`${v1}.NodeSpec`, {
      podCIDR: string(),
      podCIDRs: setList(string()),
      providerID: string(),
      unschedulable: boolean,
      taints: list(
        struct<core.Taint>(`${v1}.Taint`, {
          key: always(string()),
          value: string(),
          effect: always(string()),
          timeAdded: pointer(time),
        }),
      ),
    }),
  ),
  status: always(
    struct<core.NodeStatus>(`${v1}.NodeStatus`, {
      capacity: resourceList,
      allocatable: resourceList,
      phase: string(),
      conditions: mergeList(
        struct<core.NodeCondition>(`${v1}.NodeCondition`, {
          type: always(string()),
          status: always(string()),
          lastHeartbeatTime: time,
          lastTransitionTime: time,
          reason: string(),
          message: string(),
        }),
        'type',
      ),
      addresses: mergeList(
        struct<core.NodeAddress>(`${v1}.NodeAddress`, { type: always(string()), address: always(string()) }),
        'type',
      ),
      daemonEndpoints: always(
        struct<NonNullable<core.NodeStatus['daemonEndpoints']>>(`${v1}.NodeDaemonEndpoints`, {
          kubeletEndpoint: always(
            struct<{ readonly Port: number }>(`${v1}.DaemonEndpoint`, { Port: always(int32) }),
          ),
        }),
      ),
      nodeInfo: always(
        struct<Partial<core.NodeSystemInfo>>(`${v1}.NodeSystemInfo`, {
          machineID: always(string()),
          systemUUID: always(string()),
          bootID: always(string()),
          kernelVersion: always(string()),
          osImage: always(string()),
          containerRuntimeVersion: always(string()),
          kubeletVersion: always(string()),
          kubeProxyVersion: always(string()),
          operatingSystem: always(string()),
          architecture: always(string()),
        }),
      ),
      images: list(
        struct<core.ContainerImage>(`${v1}.ContainerImage`, { names: list(string()), sizeBytes: int64 }),
      ),
    }),
  ),
});

// ---- Service, Endpoints ------------------------------------------------------------------------------

const metaConditionSchema = struct<core.MetaCondition>('io.k8s.apimachinery.pkg.apis.meta.v1.Condition', {
  type: always(string()),
  status: always(string()),
  observedGeneration: int64,
  lastTransitionTime: always(time),
  reason: always(string()),
  message: always(string()),
});

export const serviceSchema = struct<core.Service>(`${v1}.Service`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<core.ServiceSpec>(`${v1}.ServiceSpec`, {
      ports: mergeList(
        struct<core.ServicePort>(`${v1}.ServicePort`, {
          name: string(),
          protocol: string(),
          appProtocol: pointer(string()),
          port: always(int32),
          targetPort: intOrString,
          nodePort: int32,
        }),
        'port',
      ),
      selector: stringMap,
      clusterIP: string(),
      clusterIPs: list(string()),
      type: string(),
      externalIPs: list(string()),
      sessionAffinity: string(),
      loadBalancerIP: string(),
      externalName: string(),
      externalTrafficPolicy: string(),
      internalTrafficPolicy: pointer(string()),
      healthCheckNodePort: int32,
      publishNotReadyAddresses: boolean,
      sessionAffinityConfig: pointer(
        struct<NonNullable<core.ServiceSpec['sessionAffinityConfig']>>(`${v1}.SessionAffinityConfig`, {
          clientIP: pointer(
            struct<{ readonly timeoutSeconds?: number }>(`${v1}.ClientIPConfig`, {
              timeoutSeconds: pointer(int32),
            }),
          ),
        }),
      ),
      ipFamilies: list(string()),
      ipFamilyPolicy: pointer(string()),
    }),
  ),
  status: always(
    struct<core.ServiceStatus>(`${v1}.ServiceStatus`, {
      loadBalancer: always(
        struct<NonNullable<core.ServiceStatus['loadBalancer']>>(`${v1}.LoadBalancerStatus`, {
          ingress: list(
            struct<core.LoadBalancerIngress>(`${v1}.LoadBalancerIngress`, {
              ip: string(),
              hostname: string(),
            }),
          ),
        }),
      ),
      conditions: mergeList(metaConditionSchema, 'type'),
    }),
  ),
});

const endpointAddressSchema = struct<core.EndpointAddress>(`${v1}.EndpointAddress`, {
  ip: always(string()),
  hostname: string(),
  nodeName: pointer(string()),
  targetRef: pointer(objectReferenceSchema),
});

export const endpointsSchema = struct<core.Endpoints>(`${v1}.Endpoints`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  subsets: list(
    struct<core.EndpointSubset>(`${v1}.EndpointSubset`, {
      addresses: list(endpointAddressSchema),
      notReadyAddresses: list(endpointAddressSchema),
      ports: list(
        struct<core.EndpointPort>(`${v1}.EndpointPort`, {
          name: string(),
          port: always(int32),
          protocol: string(),
          appProtocol: pointer(string()),
        }),
      ),
    }),
  ),
});

// ---- ConfigMap, Secret, Event -------------------------------------------------------------------------

export const configMapSchema = struct<core.ConfigMap>(`${v1}.ConfigMap`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  immutable: pointer(boolean),
  data: stringMap,
  binaryData: map(bytes),
});

export const secretSchema = struct<core.Secret>(`${v1}.Secret`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  immutable: pointer(boolean),
  data: map(bytes),
  stringData: stringMap,
  type: string(),
});

export const eventSchema = struct<core.Event>(`${v1}.Event`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  involvedObject: always(objectReferenceSchema),
  reason: string(),
  message: string(),
  source: always(struct<core.EventSource>(`${v1}.EventSource`, { component: string(), host: string() })),
  firstTimestamp: time,
  lastTimestamp: time,
  count: int32,
  type: string(),
  eventTime: microTime,
  series: pointer(
    struct<NonNullable<core.Event['series']>>(`${v1}.EventSeries`, {
      count: int32,
      lastObservedTime: microTime,
    }),
  ),
  action: string(),
  related: pointer(objectReferenceSchema),
  reportingComponent: always(string()),
  reportingInstance: always(string()),
});

// ---- PersistentVolume, PersistentVolumeClaim ----------------------------------------------------------

export const persistentVolumeSchema = struct<core.PersistentVolume>(`${v1}.PersistentVolume`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<core.PersistentVolumeSpec>(`${v1}.PersistentVolumeSpec`, {
      capacity: resourceList,
      hostPath: pointer(hostPathSchema),
      local: pointer(
        struct<NonNullable<core.PersistentVolumeSpec['local']>>(`${v1}.LocalVolumeSource`, {
          path: always(string()),
          fsType: pointer(string()),
        }),
      ),
      nfs: pointer(
        struct<NonNullable<core.PersistentVolumeSpec['nfs']>>(`${v1}.NFSVolumeSource`, {
          server: always(string()),
          path: always(string()),
          readOnly: boolean,
        }),
      ),
      accessModes: list(string()),
      claimRef: pointer(objectReferenceSchema),
      persistentVolumeReclaimPolicy: string(),
      storageClassName: string(),
      mountOptions: list(string()),
      volumeMode: pointer(string()),
      nodeAffinity: pointer(
        struct<NonNullable<core.PersistentVolumeSpec['nodeAffinity']>>(`${v1}.VolumeNodeAffinity`, {
          required: pointer(nodeSelectorSchema),
        }),
      ),
    }),
  ),
  status: always(
    struct<NonNullable<core.PersistentVolume['status']>>(`${v1}.PersistentVolumeStatus`, {
      phase: string(),
      message: string(),
      reason: string(),
      lastPhaseTransitionTime: pointer(time),
    }),
  ),
});

export const persistentVolumeClaimSchema = struct<core.PersistentVolumeClaim>(`${v1}.PersistentVolumeClaim`, {
  apiVersion: string(),
  kind: string(),
  metadata: always(objectMetaSchema),
  spec: always(
    struct<core.PersistentVolumeClaimSpec>(`${v1}.PersistentVolumeClaimSpec`, {
      accessModes: list(string()),
      selector: pointer(labelSelectorSchema),
      resources: always(resourceRequirementsSchema),
      volumeName: string(),
      storageClassName: pointer(string()),
      volumeMode: pointer(string()),
    }),
  ),
  status: always(
    struct<NonNullable<core.PersistentVolumeClaim['status']>>(`${v1}.PersistentVolumeClaimStatus`, {
      phase: string(),
      accessModes: list(string()),
      capacity: resourceList,
      conditions: mergeList(
        struct<core.PersistentVolumeClaimCondition>(`${v1}.PersistentVolumeClaimCondition`, {
          type: always(string()),
          status: always(string()),
          lastProbeTime: time,
          lastTransitionTime: time,
          reason: string(),
          message: string(),
        }),
        'type',
      ),
    }),
  ),
});
