/**
 * The defaults the API server fills in before validation, as Kubernetes' defaulting
 * functions do (SetDefaults_* of k8s.io/kubernetes/pkg/apis/*\/v1). Pure: each returns
 * a new object. https://kubernetes.io/docs/reference/using-api/api-concepts/
 */
import { type Draft, draft } from './draft.ts';
import type { Deployment, ReplicaSet } from './types/apps.ts';
import type {
  Container,
  EndpointPort,
  Endpoints,
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodSpec,
  Probe,
  Secret,
  Service,
  Volume,
} from './types/core.ts';
import type { EndpointSlice } from './types/discovery.ts';
import type { KubeObject } from './types/meta.ts';

export const defaultTerminationGracePeriodSeconds = 30;
export const defaultSchedulerName = 'default-scheduler';
export const defaultTerminationMessagePath = '/dev/termination-log';
/** 0644: the file mode of configMap, secret, downwardAPI and projected volume files. */
export const defaultVolumeFileMode = 0o644;
export const defaultRevisionHistoryLimit = 10;
export const defaultProgressDeadlineSeconds = 600;
export const defaultMaxUnavailable = '25%';
export const defaultMaxSurge = '25%';
/** Three hours: how long ClientIP session affinity sticks by default. */
export const defaultClientIPTimeoutSeconds = 10_800;
/** The label every namespace carries with its own name (Kubernetes 1.21+). */
export const namespaceNameLabel = 'kubernetes.io/metadata.name';

/** The priorities of the two built-in PriorityClasses. */
export const builtinPriorityClasses: Readonly<Record<string, number>> = {
  'system-node-critical': 2_000_001_000,
  'system-cluster-critical': 2_000_000_000,
};

/**
 * The tag of an image reference, '' when it is pinned by digest only:
 * `nginx` → latest, `nginx:1.25` → 1.25, `localhost:5000/nginx` → latest.
 */
export function imageTag(image: string): string {
  const at = image.indexOf('@');
  const name = at < 0 ? image : image.slice(0, at);
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : '';
  return tag === '' && at < 0 ? 'latest' : tag;
}

/** Always for `:latest` or no tag, else IfNotPresent. */
export function defaultPullPolicy(image: string | undefined): 'Always' | 'IfNotPresent' {
  return imageTag(image ?? '') === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(p: Draft<Probe> | undefined): void {
  if (p === undefined) return;
  p.timeoutSeconds ||= 1;
  p.periodSeconds ||= 10;
  p.successThreshold ||= 1;
  p.failureThreshold ||= 3;
  if (p.httpGet !== undefined) {
    p.httpGet.path ||= '/';
    p.httpGet.scheme ||= 'HTTP';
  }
}

function defaultContainer(c: Draft<Container>, hostNetwork: boolean): void {
  c.imagePullPolicy ||= defaultPullPolicy(c.image);
  c.terminationMessagePath ||= defaultTerminationMessagePath;
  c.terminationMessagePolicy ||= 'File';
  for (const port of c.ports ?? []) {
    port.protocol ||= 'TCP';
    // With the host's network the container port is the host port.
    if (hostNetwork && !port.hostPort) port.hostPort = port.containerPort;
  }
  for (const env of c.env ?? []) {
    if (env.valueFrom?.fieldRef !== undefined) env.valueFrom.fieldRef.apiVersion ||= 'v1';
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  for (const handler of [c.lifecycle?.postStart, c.lifecycle?.preStop]) {
    if (handler?.httpGet !== undefined) {
      handler.httpGet.path ||= '/';
      handler.httpGet.scheme ||= 'HTTP';
    }
  }
}

function defaultVolume(v: Draft<Volume>): void {
  const { name: _name, ...source } = v;
  if (Object.values(source).every((s) => s === undefined)) v.emptyDir = {};
  if (v.configMap !== undefined) v.configMap.defaultMode ??= defaultVolumeFileMode;
  if (v.secret !== undefined) v.secret.defaultMode ??= defaultVolumeFileMode;
  if (v.downwardAPI !== undefined) {
    v.downwardAPI.defaultMode ??= defaultVolumeFileMode;
    for (const item of v.downwardAPI.items ?? [])
      if (item.fieldRef !== undefined) item.fieldRef.apiVersion ||= 'v1';
  }
  if (v.projected !== undefined) v.projected.defaultMode ??= defaultVolumeFileMode;
  if (v.hostPath !== undefined) v.hostPath.type ??= '';
}

/** Defaults of a pod spec, for pods and pod templates alike. */
function defaultPodSpecDraft(spec: Draft<PodSpec>): void {
  spec.dnsPolicy ||= 'ClusterFirst';
  spec.restartPolicy ||= 'Always';
  spec.securityContext ??= {};
  spec.terminationGracePeriodSeconds ??= defaultTerminationGracePeriodSeconds;
  spec.schedulerName ||= defaultSchedulerName;
  for (const v of spec.volumes ?? []) defaultVolume(v);
  for (const c of spec.initContainers ?? []) defaultContainer(c, false);
  for (const c of spec.containers ?? []) defaultContainer(c, false);
}

export function defaultPodSpec(spec: PodSpec): PodSpec {
  const d = draft(spec);
  defaultPodSpecDraft(d);
  return d;
}

export function defaultPod(pod: Pod): Pod {
  const d = draft(pod);
  d.spec ??= { containers: [] };
  const spec = d.spec;
  defaultPodSpecDraft(spec);
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    // Only on pods, never templates: requests not given default to the limits.
    const limits = c.resources?.limits;
    if (limits !== undefined && Object.keys(limits).length > 0) {
      c.resources ??= {};
      const resources = c.resources;
      resources.requests = { ...limits, ...(resources.requests ?? {}) };
    }
    if (spec.hostNetwork === true) defaultContainer(c, true);
  }
  spec.enableServiceLinks ??= true;
  // What the Priority admission plugin sets when no PriorityClass overrides it.
  if (spec.priority === undefined) {
    const fromClass = builtinPriorityClasses[spec.priorityClassName ?? ''];
    if (spec.priorityClassName === undefined || spec.priorityClassName === '' || fromClass !== undefined) {
      spec.priority = fromClass ?? 0;
    }
  }
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  return d;
}

export function defaultDeployment(deployment: Deployment): Deployment {
  const d = draft(deployment);
  d.spec ??= { selector: {}, template: {} };
  const spec = d.spec;
  spec.replicas ??= 1;
  spec.strategy ??= {};
  const strategy = spec.strategy;
  strategy.type ||= 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    strategy.rollingUpdate ??= {};
    const ru = strategy.rollingUpdate;
    ru.maxUnavailable ??= defaultMaxUnavailable;
    ru.maxSurge ??= defaultMaxSurge;
  }
  spec.revisionHistoryLimit ??= defaultRevisionHistoryLimit;
  spec.progressDeadlineSeconds ??= defaultProgressDeadlineSeconds;
  if (spec.template.spec !== undefined) defaultPodSpecDraft(spec.template.spec);
  return d;
}

export function defaultReplicaSet(rs: ReplicaSet): ReplicaSet {
  const d = draft(rs);
  d.spec ??= { selector: {} };
  const spec = d.spec;
  spec.replicas ??= 1;
  if (spec.template?.spec !== undefined) defaultPodSpecDraft(spec.template.spec);
  return d;
}

export function defaultService(service: Service): Service {
  const d = draft(service);
  d.spec ??= {};
  const spec = d.spec;
  spec.sessionAffinity ||= 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    spec.sessionAffinityConfig ??= {};
    spec.sessionAffinityConfig.clientIP ??= {};
    spec.sessionAffinityConfig.clientIP.timeoutSeconds ??= defaultClientIPTimeoutSeconds;
  }
  spec.type ||= 'ClusterIP';
  for (const p of spec.ports ?? []) {
    p.protocol ||= 'TCP';
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  const externallyAccessible =
    spec.type === 'NodePort' ||
    spec.type === 'LoadBalancer' ||
    (spec.type === 'ClusterIP' && (spec.externalIPs ?? []).length > 0);
  if (externallyAccessible) spec.externalTrafficPolicy ||= 'Cluster';
  if (spec.type !== 'ExternalName') {
    spec.internalTrafficPolicy ??= 'Cluster';
    // Flotilla's service network is single-stack IPv4.
    spec.ipFamilyPolicy ??= 'SingleStack';
    if ((spec.ipFamilies ?? []).length === 0) spec.ipFamilies = ['IPv4'];
    if ((spec.clusterIPs ?? []).length === 0 && spec.clusterIP) spec.clusterIPs = [spec.clusterIP];
    if (!spec.clusterIP && spec.clusterIPs?.[0] !== undefined) spec.clusterIP = spec.clusterIPs[0];
  }
  return d;
}

export function defaultNamespace(ns: Namespace): Namespace {
  const d = draft(ns);
  if (d.metadata.name)
    d.metadata.labels = { ...(d.metadata.labels ?? {}), [namespaceNameLabel]: d.metadata.name };
  d.status ??= {};
  const status = d.status;
  status.phase ||= 'Active';
  return d;
}

export function defaultNode(node: Node): Node {
  const d = draft(node);
  const status = d.status;
  if (status?.capacity !== undefined && status.allocatable === undefined)
    status.allocatable = { ...status.capacity };
  return d;
}

export function defaultSecret(secret: Secret): Secret {
  const d = draft(secret);
  d.type ||= 'Opaque';
  // stringData is write-only: it is merged into data (base64) and never stored.
  if (d.stringData !== undefined) {
    d.data ??= {};
    const data = d.data;
    for (const [k, v] of Object.entries(d.stringData)) data[k] = Buffer.from(v, 'utf8').toString('base64');
    delete d.stringData;
  }
  return d;
}

export function defaultPersistentVolume(pv: PersistentVolume): PersistentVolume {
  const d = draft(pv);
  d.spec ??= {};
  const spec = d.spec;
  spec.persistentVolumeReclaimPolicy ||= 'Retain';
  spec.volumeMode ??= 'Filesystem';
  d.status ??= {};
  const status = d.status;
  status.phase ||= 'Pending';
  return d;
}

export function defaultPersistentVolumeClaim(pvc: PersistentVolumeClaim): PersistentVolumeClaim {
  const d = draft(pvc);
  d.spec ??= {};
  const spec = d.spec;
  spec.volumeMode ??= 'Filesystem';
  d.status ??= {};
  const status = d.status;
  status.phase ||= 'Pending';
  return d;
}

function defaultEndpointPort(p: Draft<EndpointPort>): void {
  p.protocol ||= 'TCP';
}

export function defaultEndpoints(ep: Endpoints): Endpoints {
  const d = draft(ep);
  for (const s of d.subsets ?? []) for (const p of s.ports ?? []) defaultEndpointPort(p);
  return d;
}

export function defaultEndpointSlice(slice: EndpointSlice): EndpointSlice {
  const d = draft(slice);
  for (const p of d.ports ?? []) {
    p.name ??= '';
    p.protocol ??= 'TCP';
  }
  return d;
}

const defaulters: Readonly<Record<string, (obj: never) => KubeObject>> = {
  'v1/Pod': defaultPod,
  'v1/Service': defaultService,
  'v1/Namespace': defaultNamespace,
  'v1/Node': defaultNode,
  'v1/Secret': defaultSecret,
  'v1/PersistentVolume': defaultPersistentVolume,
  'v1/PersistentVolumeClaim': defaultPersistentVolumeClaim,
  'v1/Endpoints': defaultEndpoints,
  'apps/v1/Deployment': defaultDeployment,
  'apps/v1/ReplicaSet': defaultReplicaSet,
  'discovery.k8s.io/v1/EndpointSlice': defaultEndpointSlice,
};

/** Applies the defaults of the object's kind; kinds without defaults come back unchanged. */
export function applyDefaults<T extends KubeObject>(obj: T): T {
  const f = defaulters[`${obj.apiVersion}/${obj.kind}`];
  return f === undefined ? obj : (f(obj as never) as T);
}
