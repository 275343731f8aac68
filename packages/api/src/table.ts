/**
 * Server-side printing: `as=Table` responses with the columns and cell values kubectl
 * users know, computed the way Kubernetes' printers compute them (pod STATUS such as
 * CrashLoopBackOff, Init:0/1, Completed or Terminating; RESTARTS with the time since the
 * last restart; node ROLES from labels; and so on). AGE is relative to an injected now.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables
 */
import { defaultColumns } from './columns.ts';
import { formatLabelSelector, formatLabels, labelSelectorFromStruct, SelectorError } from './labels.ts';
import type { ResourceInfo } from './registry.ts';
import { ageSince, timeToMs } from './time.ts';
import type { Deployment, ReplicaSet } from './types/apps.ts';
import type { Lease } from './types/coordination.ts';
import type {
  ConfigMap,
  Container,
  ContainerStatus,
  Endpoints,
  Event,
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeAccessMode,
  PersistentVolumeClaim,
  Pod,
  Secret,
  Service,
} from './types/core.ts';
import type { EndpointSlice } from './types/discovery.ts';
import type {
  KubeObject,
  LabelSelector,
  ListMeta,
  Table,
  TableRow,
  TableRowCondition,
} from './types/meta.ts';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export type TableOptions = {
  /** The clock AGE columns count from, in epoch milliseconds. */
  readonly nowMs: number;
  /** All columns (the server's default: kubectl hides priority > 0 itself), or only priority 0. */
  readonly wide?: boolean;
  /** Omit column definitions (`?noHeaders`), e.g. for watch events after the first. */
  readonly noHeaders?: boolean;
  /** What each row carries as `object`: kubectl reads namespace and labels from Metadata. */
  readonly includeObject?: IncludeObject;
  readonly listMeta?: ListMeta;
};

type Cell = string | number;
type Printed = { readonly cells: readonly Cell[]; readonly conditions?: readonly TableRowCondition[] };
type Printer = (obj: never, nowMs: number) => Printed;

const none = '<none>';
const orNone = (s: string | undefined): string => (s === undefined || s === '' ? none : s);

// ---- Pods -------------------------------------------------------------------------------------

function isRestartableInit(c: Container | undefined): boolean {
  return c?.restartPolicy === 'Always';
}

function lastTermination(s: ContainerStatus): number | undefined {
  return timeToMs(s.lastState?.terminated?.finishedAt);
}

/** READY, STATUS and RESTARTS of a pod, following kubectl's printPod. */
export function podSummary(pod: Pod, nowMs: number): { ready: string; status: string; restarts: string } {
  const spec = pod.spec;
  const status = pod.status ?? {};
  const initContainers = new Map((spec?.initContainers ?? []).map((c) => [c.name, c]));
  let totalContainers = (spec?.containers ?? []).length;
  for (const c of initContainers.values()) if (isRestartableInit(c)) totalContainers++;
  let readyContainers = 0;
  let restarts = 0;
  let lastRestart: number | undefined;
  let sidecarRestarts = 0;
  let lastSidecarRestart: number | undefined;
  const later = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined ? b : b === undefined ? a : Math.max(a, b);

  let reason: string =
    status.reason !== undefined && status.reason !== '' ? status.reason : (status.phase ?? '');
  if ((status.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) {
    reason = 'SchedulingGated';
  }

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i] as ContainerStatus;
    restarts += c.restartCount;
    lastRestart = later(lastRestart, lastTermination(c));
    const sidecar = isRestartableInit(initContainers.get(c.name));
    if (sidecar) {
      sidecarRestarts += c.restartCount;
      lastSidecarRestart = later(lastSidecarRestart, lastTermination(c));
    }
    const terminated = c.state?.terminated;
    const waiting = c.state?.waiting;
    if (terminated !== undefined && terminated.exitCode === 0) continue;
    if (sidecar && c.started === true) {
      if (c.ready) readyContainers++;
      continue;
    }
    if (terminated !== undefined) {
      if (terminated.reason === undefined || terminated.reason === '') {
        reason =
          terminated.signal !== undefined && terminated.signal !== 0
            ? `Init:Signal:${terminated.signal}`
            : `Init:ExitCode:${terminated.exitCode}`;
      } else {
        reason = `Init:${terminated.reason}`;
      }
    } else if (
      waiting?.reason !== undefined &&
      waiting.reason !== '' &&
      waiting.reason !== 'PodInitializing'
    ) {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${(spec?.initContainers ?? []).length}`;
    }
    initializing = true;
    break;
  }

  const initializedTrue = (status.conditions ?? []).some(
    (c) => c.type === 'Initialized' && c.status === 'True',
  );
  if (!initializing || initializedTrue) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i] as ContainerStatus;
      restarts += c.restartCount;
      lastRestart = later(lastRestart, lastTermination(c));
      const waiting = c.state?.waiting;
      const terminated = c.state?.terminated;
      if (waiting?.reason !== undefined && waiting.reason !== '') {
        reason = waiting.reason;
      } else if (terminated?.reason !== undefined && terminated.reason !== '') {
        reason = terminated.reason;
      } else if (terminated !== undefined) {
        reason =
          terminated.signal !== undefined && terminated.signal !== 0
            ? `Signal:${terminated.signal}`
            : `ExitCode:${terminated.exitCode}`;
      } else if (c.ready && c.state?.running !== undefined) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // A pod whose last container completed while others still run is not "Completed".
    if (reason === 'Completed' && hasRunning) {
      const ready = (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }

  if (pod.metadata.deletionTimestamp !== undefined) {
    if (status.reason === 'NodeLost') reason = 'Unknown';
    else if (status.phase !== 'Succeeded' && status.phase !== 'Failed') reason = 'Terminating';
  }

  const restartText =
    restarts !== 0 && lastRestart !== undefined
      ? `${restarts} (${ageSince(new Date(lastRestart).toISOString(), nowMs)} ago)`
      : String(restarts);
  return { ready: `${readyContainers}/${totalContainers}`, status: reason, restarts: restartText };
}

const podCompleted: TableRowCondition = {
  type: 'Completed',
  status: 'True',
  reason: 'Succeeded',
  message: 'The pod has completed successfully.',
};
const podFailed: TableRowCondition = {
  type: 'Completed',
  status: 'True',
  reason: 'Failed',
  message: 'The pod failed.',
};

function printPod(pod: Pod, nowMs: number): Printed {
  const { ready, status, restarts } = podSummary(pod, nowMs);
  const gates = pod.spec?.readinessGates ?? [];
  const conditions = pod.status?.conditions ?? [];
  const gatesText =
    gates.length === 0
      ? none
      : `${gates.filter((g) => conditions.find((c) => c.type === g.conditionType)?.status === 'True').length}/${gates.length}`;
  const phase = pod.status?.phase;
  return {
    cells: [
      pod.metadata.name ?? '',
      ready,
      status,
      restarts,
      ageSince(pod.metadata.creationTimestamp, nowMs),
      orNone(pod.status?.podIPs?.[0]?.ip ?? pod.status?.podIP),
      orNone(pod.spec?.nodeName),
      orNone(pod.status?.nominatedNodeName),
      gatesText,
    ],
    ...(phase === 'Succeeded'
      ? { conditions: [podCompleted] }
      : phase === 'Failed'
        ? { conditions: [podFailed] }
        : {}),
  };
}

// ---- Workloads ----------------------------------------------------------------------------------

function containerCells(containers: readonly Container[] | undefined): [string, string] {
  const list = containers ?? [];
  return [list.map((c) => c.name).join(','), list.map((c) => c.image ?? '').join(',')];
}

function selectorText(selector: LabelSelector | undefined): string {
  try {
    return formatLabelSelector(labelSelectorFromStruct(selector));
  } catch (err) {
    if (err instanceof SelectorError) return '<invalid>';
    throw err;
  }
}

function printDeployment(d: Deployment, nowMs: number): Printed {
  const s = d.status ?? {};
  return {
    cells: [
      d.metadata.name ?? '',
      `${s.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
      s.updatedReplicas ?? 0,
      s.availableReplicas ?? 0,
      ageSince(d.metadata.creationTimestamp, nowMs),
      ...containerCells(d.spec?.template.spec?.containers),
      selectorText(d.spec?.selector),
    ],
  };
}

function printReplicaSet(rs: ReplicaSet, nowMs: number): Printed {
  return {
    cells: [
      rs.metadata.name ?? '',
      rs.spec?.replicas ?? 0,
      rs.status?.replicas ?? 0,
      rs.status?.readyReplicas ?? 0,
      ageSince(rs.metadata.creationTimestamp, nowMs),
      ...containerCells(rs.spec?.template?.spec?.containers),
      selectorText(rs.spec?.selector),
    ],
  };
}

// ---- Nodes, namespaces, services ---------------------------------------------------------------

const rolePrefix = 'node-role.kubernetes.io/';

/** ROLES: the `node-role.kubernetes.io/<role>` labels and `kubernetes.io/role`, sorted. */
export function nodeRoles(node: Node): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith(rolePrefix) && k.length > rolePrefix.length) roles.add(k.slice(rolePrefix.length));
    else if (k === 'kubernetes.io/role' && v !== '') roles.add(v);
  }
  return [...roles].sort();
}

function printNode(node: Node, nowMs: number): Printed {
  const ready = (node.status?.conditions ?? []).find((c) => c.type === 'Ready');
  const status = ready === undefined ? ['Unknown'] : [ready.status === 'True' ? 'Ready' : 'NotReady'];
  if (node.spec?.unschedulable === true) status.push('SchedulingDisabled');
  const info = node.status?.nodeInfo ?? {};
  const address = (type: string): string =>
    node.status?.addresses?.find((a) => a.type === type)?.address ?? none;
  const unknown = (s: string | undefined): string => (s === undefined || s === '' ? '<unknown>' : s);
  return {
    cells: [
      node.metadata.name ?? '',
      status.join(','),
      orNone(nodeRoles(node).join(',')),
      ageSince(node.metadata.creationTimestamp, nowMs),
      info.kubeletVersion ?? '',
      address('InternalIP'),
      address('ExternalIP'),
      unknown(info.osImage),
      unknown(info.kernelVersion),
      unknown(info.containerRuntimeVersion),
    ],
  };
}

function printNamespace(ns: Namespace, nowMs: number): Printed {
  return {
    cells: [ns.metadata.name ?? '', ns.status?.phase ?? '', ageSince(ns.metadata.creationTimestamp, nowMs)],
  };
}

function serviceExternalIP(svc: Service): string {
  const spec = svc.spec ?? {};
  const external = spec.externalIPs ?? [];
  switch (spec.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return external.length > 0 ? external.join(',') : none;
    case 'LoadBalancer': {
      const ingress = (svc.status?.loadBalancer?.ingress ?? [])
        .map((i) => i.ip ?? i.hostname ?? '')
        .filter((s) => s !== '');
      const all = [...ingress, ...external];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

function printService(svc: Service, nowMs: number): Printed {
  const spec = svc.spec ?? {};
  const ports = (spec.ports ?? [])
    .map(
      (p) =>
        (p.nodePort !== undefined && p.nodePort > 0 ? `${p.port}:${p.nodePort}` : `${p.port}`) +
        `/${p.protocol ?? 'TCP'}`,
    )
    .join(',');
  return {
    cells: [
      svc.metadata.name ?? '',
      spec.type ?? '',
      spec.clusterIPs?.[0] ?? orNone(spec.clusterIP),
      serviceExternalIP(svc),
      orNone(ports),
      ageSince(svc.metadata.creationTimestamp, nowMs),
      formatLabels(spec.selector),
    ],
  };
}

/** At most this many endpoints are listed before "+ N more...", as kubectl does. */
const maxListedEndpoints = 3;

function withMore(list: readonly string[], total: number, empty: string): string {
  if (list.length === 0) return empty;
  const text = list.join(',');
  return total > list.length ? `${text} + ${total - list.length} more...` : text;
}

function printEndpoints(ep: Endpoints, nowMs: number): Printed {
  const listed: string[] = [];
  let total = 0;
  for (const subset of ep.subsets ?? []) {
    const addresses = subset.addresses ?? [];
    const ports = subset.ports ?? [];
    if (ports.length === 0) {
      total += addresses.length;
      for (const a of addresses) if (listed.length < maxListedEndpoints) listed.push(a.ip);
      continue;
    }
    for (const p of ports) {
      total += addresses.length;
      for (const a of addresses) {
        if (listed.length < maxListedEndpoints)
          listed.push(a.ip.includes(':') ? `[${a.ip}]:${p.port}` : `${a.ip}:${p.port}`);
      }
    }
  }
  return {
    cells: [
      ep.metadata.name ?? '',
      withMore(listed, total, none),
      ageSince(ep.metadata.creationTimestamp, nowMs),
    ],
  };
}

function printEndpointSlice(slice: EndpointSlice, nowMs: number): Printed {
  const ports = (slice.ports ?? []).map((p) => (p.port !== undefined ? String(p.port) : (p.name ?? '*')));
  const addresses = (slice.endpoints ?? []).flatMap((e) => e.addresses ?? []);
  return {
    cells: [
      slice.metadata.name ?? '',
      slice.addressType,
      withMore(ports.slice(0, maxListedEndpoints), ports.length, '<unset>'),
      withMore(addresses.slice(0, maxListedEndpoints), addresses.length, '<unset>'),
      ageSince(slice.metadata.creationTimestamp, nowMs),
    ],
  };
}

// ---- Config, events, storage, leases -------------------------------------------------------------

function printConfigMap(cm: ConfigMap, nowMs: number): Printed {
  const count = Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length;
  return { cells: [cm.metadata.name ?? '', count, ageSince(cm.metadata.creationTimestamp, nowMs)] };
}

function printSecret(s: Secret, nowMs: number): Printed {
  return {
    cells: [
      s.metadata.name ?? '',
      s.type ?? '',
      Object.keys(s.data ?? {}).length,
      ageSince(s.metadata.creationTimestamp, nowMs),
    ],
  };
}

function printEvent(e: Event, nowMs: number): Printed {
  const first = e.firstTimestamp ?? e.eventTime;
  const firstSeen = ageSince(first, nowMs);
  let lastSeen = e.lastTimestamp === undefined ? firstSeen : ageSince(e.lastTimestamp, nowMs);
  let count = e.count ?? 0;
  if (e.series !== undefined) {
    lastSeen = ageSince(e.series.lastObservedTime, nowMs);
    count = e.series.count ?? 0;
  } else if (count === 0) {
    count = 1; // events of the newer API carry no count when they happened once
  }
  const involved = e.involvedObject ?? {};
  const kind = (involved.kind ?? '').toLowerCase();
  const target = involved.name !== undefined && involved.name !== '' ? `${kind}/${involved.name}` : kind;
  const firstNonEmpty = (a: string | undefined, b: string | undefined): string =>
    a !== undefined && a !== '' ? a : (b ?? '');
  const component = firstNonEmpty(e.source?.component, e.reportingComponent);
  const instance = firstNonEmpty(e.source?.host, e.reportingInstance);
  return {
    cells: [
      lastSeen,
      e.type ?? '',
      e.reason ?? '',
      target,
      involved.fieldPath ?? '',
      instance === '' ? component : `${component}, ${instance}`,
      (e.message ?? '').trim(),
      firstSeen,
      count,
      e.metadata.name ?? '',
    ],
  };
}

const accessModeShort: readonly [PersistentVolumeAccessMode, string][] = [
  ['ReadWriteOnce', 'RWO'],
  ['ReadOnlyMany', 'ROX'],
  ['ReadWriteMany', 'RWX'],
  ['ReadWriteOncePod', 'RWOP'],
];

function accessModes(modes: readonly PersistentVolumeAccessMode[] | undefined): string {
  const set = new Set(modes ?? []);
  return accessModeShort
    .filter(([m]) => set.has(m))
    .map(([, s]) => s)
    .join(',');
}

function printPersistentVolume(pv: PersistentVolume, nowMs: number): Printed {
  const spec = pv.spec ?? {};
  const claim =
    spec.claimRef === undefined ? '' : `${spec.claimRef.namespace ?? ''}/${spec.claimRef.name ?? ''}`;
  const storageClass =
    spec.storageClassName ?? pv.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? '';
  return {
    cells: [
      pv.metadata.name ?? '',
      spec.capacity?.storage ?? '0',
      accessModes(spec.accessModes),
      spec.persistentVolumeReclaimPolicy ?? '',
      pv.metadata.deletionTimestamp !== undefined ? 'Terminating' : (pv.status?.phase ?? ''),
      claim,
      storageClass,
      pv.status?.reason ?? '',
      ageSince(pv.metadata.creationTimestamp, nowMs),
      spec.volumeMode ?? '<unset>',
    ],
  };
}

function printPersistentVolumeClaim(pvc: PersistentVolumeClaim, nowMs: number): Printed {
  const spec = pvc.spec ?? {};
  const bound = spec.volumeName !== undefined && spec.volumeName !== '';
  const storageClass =
    spec.storageClassName ?? pvc.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? '';
  return {
    cells: [
      pvc.metadata.name ?? '',
      pvc.metadata.deletionTimestamp !== undefined ? 'Terminating' : (pvc.status?.phase ?? ''),
      spec.volumeName ?? '',
      bound ? (pvc.status?.capacity?.storage ?? '0') : '',
      bound ? accessModes(pvc.status?.accessModes) : '',
      storageClass,
      ageSince(pvc.metadata.creationTimestamp, nowMs),
      spec.volumeMode ?? '<unset>',
    ],
  };
}

function printLease(lease: Lease, nowMs: number): Printed {
  return {
    cells: [
      lease.metadata.name ?? '',
      lease.spec?.holderIdentity ?? '',
      ageSince(lease.metadata.creationTimestamp, nowMs),
    ],
  };
}

function printDefault(obj: KubeObject): Printed {
  return { cells: [obj.metadata.name ?? '', obj.metadata.creationTimestamp ?? ''] };
}

const printers: Readonly<Record<string, Printer>> = {
  '/namespaces': printNamespace,
  '/pods': printPod,
  '/nodes': printNode,
  '/services': printService,
  '/endpoints': printEndpoints,
  '/configmaps': printConfigMap,
  '/secrets': printSecret,
  '/events': printEvent,
  '/persistentvolumes': printPersistentVolume,
  '/persistentvolumeclaims': printPersistentVolumeClaim,
  'apps/deployments': printDeployment,
  'apps/replicasets': printReplicaSet,
  'coordination.k8s.io/leases': printLease,
  'discovery.k8s.io/endpointslices': printEndpointSlice,
};

/** True when the resource has columns of its own (others print Name and Created At). */
export function hasPrinter(info: ResourceInfo): boolean {
  return Object.hasOwn(printers, `${info.group}/${info.plural}`);
}

function rowObject(obj: KubeObject, include: IncludeObject): TableRow['object'] {
  switch (include) {
    case 'None':
      return undefined;
    case 'Object':
      return obj;
    case 'Metadata':
      return { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: obj.metadata };
  }
}

/** The Table of a list of objects of one resource. */
export function toTable(info: ResourceInfo, objects: readonly KubeObject[], options: TableOptions): Table {
  const printer = printers[`${info.group}/${info.plural}`];
  const columns = printer === undefined ? defaultColumns : info.columns;
  const keep = columns.map((c) => options.wide !== false || c.priority === 0);
  const include = options.includeObject ?? 'Metadata';
  const rows: TableRow[] = objects.map((obj) => {
    const printed = printer === undefined ? printDefault(obj) : printer(obj as never, options.nowMs);
    const object = rowObject(obj, include);
    return {
      cells: printed.cells.filter((_, i) => keep[i]),
      ...(printed.conditions === undefined ? {} : { conditions: printed.conditions }),
      ...(object === undefined ? {} : { object }),
    };
  });
  return {
    apiVersion: 'meta.k8s.io/v1',
    kind: 'Table',
    metadata: options.listMeta ?? {},
    columnDefinitions: options.noHeaders === true ? [] : columns.filter((_, i) => keep[i]),
    rows,
  };
}
