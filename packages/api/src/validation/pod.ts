/**
 * Validation of pods, pod templates and their parts (containers, volumes, probes,
 * affinity, tolerations), and of pod updates, which may change only images, the active
 * deadline and added tolerations. Follows k8s.io/kubernetes/pkg/apis/core/validation.
 * https://kubernetes.io/docs/concepts/workloads/pods/#pod-update-and-replacement
 */
import type { FieldError, FieldPath } from '../field-errors.ts';
import {
  child,
  duplicate,
  forbidden,
  index,
  invalid,
  key,
  notFound,
  notSupported,
  required,
} from '../field-errors.ts';
import {
  isConfigMapKey,
  isDNS1123Label,
  isEnvVarName,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  nameIsDNSSubdomain,
} from '../names.ts';
import { compareQuantities, parseQuantity, QuantityError } from '../quantity.ts';
import type {
  Affinity,
  Binding,
  Container,
  ContainerPort,
  EnvFromSource,
  EnvVar,
  HTTPGetAction,
  KeyToPath,
  LifecycleHandler,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  Pod,
  PodAffinityTerm,
  PodSpec,
  PodTemplateSpec,
  Probe,
  ResourceRequirements,
  Toleration,
  Volume,
} from '../types/core.ts';
import { volumeSourceKeys } from '../types/core.ts';
import type { IntOrString } from '../types/meta.ts';
import {
  nonNegative,
  sameValue,
  validateAnnotations,
  validateDNS1123Subdomain,
  validateLabelSelector,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
  validateQualifiedName,
} from './meta.ts';

const restartPolicies = ['Always', 'OnFailure', 'Never'];
const dnsPolicies = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const pullPolicies = ['Always', 'IfNotPresent', 'Never'];
const protocols = ['SCTP', 'TCP', 'UDP'];
const taintEffects = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
const hostPathTypes = [
  '',
  'DirectoryOrCreate',
  'Directory',
  'FileOrCreate',
  'File',
  'Socket',
  'CharDevice',
  'BlockDevice',
];
const fieldRefPaths = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'metadata.labels',
  'metadata.annotations',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const resourceFieldRefs = [
  'limits.cpu',
  'limits.memory',
  'limits.ephemeral-storage',
  'requests.cpu',
  'requests.memory',
  'requests.ephemeral-storage',
];
/** 0777: the largest file mode of a volume file. */
const maxFileMode = 0o777;
const maxInt32 = 2 ** 31 - 1;

// ---- Small pieces -------------------------------------------------------------------------------

export function validatePortNumOrName(port: IntOrString, path: FieldPath): FieldError[] {
  if (typeof port === 'number') return isValidPortNum(port).map((msg) => invalid(path, port, msg));
  if (port === '') return [required(path)];
  return isValidPortName(port).map((msg) => invalid(path, port, msg));
}

/** A relative path below a volume root: not absolute and without `..` elements. */
function validateLocalDescendingPath(value: string, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (value.startsWith('/')) errs.push(invalid(path, value, 'must be a relative path'));
  if (value.split('/').includes('..')) errs.push(invalid(path, value, "must not contain '..'"));
  return errs;
}

function validateFileMode(mode: number | undefined, path: FieldPath): FieldError[] {
  return mode !== undefined && (mode < 0 || mode > maxFileMode)
    ? [invalid(path, mode, 'must be a number between 0 and 0777 (octal), both inclusive')]
    : [];
}

function validateKeyToPaths(items: readonly KeyToPath[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (items ?? []).forEach((item, i) => {
    const p = index(path, i);
    if (item.key === '') errs.push(required(child(p, 'key')));
    if (item.path === '') errs.push(required(child(p, 'path')));
    else errs.push(...validateLocalDescendingPath(item.path, child(p, 'path')));
    errs.push(...validateFileMode(item.mode, child(p, 'mode')));
  });
  return errs;
}

function validateFieldRef(fieldPath: string, path: FieldPath): FieldError[] {
  if (fieldPath === '') return [required(child(path, 'fieldPath'))];
  const subscript = /^metadata\.(labels|annotations)\['[^']+'\]$/.test(fieldPath);
  return subscript || fieldRefPaths.includes(fieldPath)
    ? []
    : [notSupported(child(path, 'fieldPath'), fieldPath, fieldRefPaths)];
}

// ---- Volumes ---------------------------------------------------------------------------------------

/** Volumes, returning their names for the volume mounts to check against. */
function validateVolumes(
  volumes: readonly Volume[] | undefined,
  path: FieldPath,
): { errs: FieldError[]; names: Set<string> } {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (volumes ?? []).forEach((v, i) => {
    const p = index(path, i);
    if (v.name === '') errs.push(required(child(p, 'name')));
    else {
      errs.push(...isDNS1123Label(v.name).map((msg) => invalid(child(p, 'name'), v.name, msg)));
      if (names.has(v.name)) errs.push(duplicate(child(p, 'name'), v.name));
      names.add(v.name);
    }
    const sources = volumeSourceKeys.filter((k) => v[k] !== undefined);
    if (sources.length === 0) errs.push(required(p, 'must specify a volume type'));
    for (const extra of sources.slice(1))
      errs.push(forbidden(child(p, extra), 'may not specify more than 1 volume type'));
    if (v.hostPath !== undefined) {
      if (v.hostPath.path === '') errs.push(required(child(p, 'hostPath', 'path')));
      if (v.hostPath.type !== undefined && !hostPathTypes.includes(v.hostPath.type)) {
        errs.push(notSupported(child(p, 'hostPath', 'type'), v.hostPath.type, hostPathTypes));
      }
    }
    if (v.emptyDir !== undefined) {
      const medium = v.emptyDir.medium ?? '';
      if (medium !== '' && medium !== 'Memory')
        errs.push(notSupported(child(p, 'emptyDir', 'medium'), medium, ['', 'Memory']));
      errs.push(...validateQuantityNonNegative(v.emptyDir.sizeLimit, child(p, 'emptyDir', 'sizeLimit')));
    }
    if (v.configMap !== undefined) {
      if (!v.configMap.name) errs.push(required(child(p, 'configMap', 'name')));
      errs.push(...validateFileMode(v.configMap.defaultMode, child(p, 'configMap', 'defaultMode')));
      errs.push(...validateKeyToPaths(v.configMap.items, child(p, 'configMap', 'items')));
    }
    if (v.secret !== undefined) {
      if (!v.secret.secretName) errs.push(required(child(p, 'secret', 'secretName')));
      errs.push(...validateFileMode(v.secret.defaultMode, child(p, 'secret', 'defaultMode')));
      errs.push(...validateKeyToPaths(v.secret.items, child(p, 'secret', 'items')));
    }
    if (v.persistentVolumeClaim !== undefined && v.persistentVolumeClaim.claimName === '') {
      errs.push(required(child(p, 'persistentVolumeClaim', 'claimName')));
    }
    if (v.downwardAPI !== undefined) {
      errs.push(...validateFileMode(v.downwardAPI.defaultMode, child(p, 'downwardAPI', 'defaultMode')));
      (v.downwardAPI.items ?? []).forEach((item, j) => {
        const ip = index(child(p, 'downwardAPI', 'items'), j);
        if (item.path === '') errs.push(required(child(ip, 'path')));
        else errs.push(...validateLocalDescendingPath(item.path, child(ip, 'path')));
        if (item.fieldRef !== undefined)
          errs.push(...validateFieldRef(item.fieldRef.fieldPath, child(ip, 'fieldRef')));
        errs.push(...validateFileMode(item.mode, child(ip, 'mode')));
      });
    }
    if (v.projected !== undefined) {
      errs.push(...validateFileMode(v.projected.defaultMode, child(p, 'projected', 'defaultMode')));
      (v.projected.sources ?? []).forEach((src, j) => {
        const sp = index(child(p, 'projected', 'sources'), j);
        const kinds = (['secret', 'configMap', 'downwardAPI', 'serviceAccountToken'] as const).filter(
          (k) => src[k] !== undefined,
        );
        if (kinds.length === 0) errs.push(required(sp, 'must specify a volume projection type'));
        for (const extra of kinds.slice(1))
          errs.push(forbidden(child(sp, extra), 'may not specify more than 1 volume projection type'));
        if (src.serviceAccountToken !== undefined && src.serviceAccountToken.path === '') {
          errs.push(required(child(sp, 'serviceAccountToken', 'path')));
        }
      });
    }
  });
  return { errs, names };
}

// ---- Containers -----------------------------------------------------------------------------------

function validateQuantityNonNegative(value: string | undefined, path: FieldPath): FieldError[] {
  if (value === undefined) return [];
  try {
    return parseQuantity(value).nanos < 0n
      ? [invalid(path, value, 'must be greater than or equal to 0')]
      : [];
  } catch (err) {
    if (err instanceof QuantityError) return [invalid(path, value, err.message)];
    throw err;
  }
}

const standardContainerResources = new Set(['cpu', 'memory', 'ephemeral-storage']);

function validateResourceName(name: string, path: FieldPath): FieldError[] {
  const errs = validateQualifiedName(name, path);
  if (!name.includes('/')) {
    if (!standardContainerResources.has(name) && !name.startsWith('hugepages-')) {
      errs.push(invalid(path, name, 'must be a standard resource for containers'));
    }
  } else if (!name.startsWith('kubernetes.io/') && name.startsWith('requests.')) {
    errs.push(invalid(path, name, "doesn't follow extended resource name standard"));
  }
  return errs;
}

/** Extended resources (`example.com/gpu`) cannot be overcommitted: requests equal limits. */
const overcommitAllowed = (name: string): boolean => !name.includes('/') || name.startsWith('kubernetes.io/');

export function validateResources(
  resources: ResourceRequirements | undefined,
  path: FieldPath,
): FieldError[] {
  const errs: FieldError[] = [];
  const limits = resources?.limits ?? {};
  const requests = resources?.requests ?? {};
  for (const [name, value] of Object.entries(limits)) {
    const p = key(child(path, 'limits'), name);
    errs.push(...validateResourceName(name, p), ...validateQuantityNonNegative(value, p));
  }
  for (const [name, value] of Object.entries(requests)) {
    const p = key(child(path, 'requests'), name);
    const nameErrs = [...validateResourceName(name, p), ...validateQuantityNonNegative(value, p)];
    errs.push(...nameErrs);
    if (nameErrs.length > 0) continue;
    const limit = limits[name];
    if (limit === undefined) {
      if (!overcommitAllowed(name))
        errs.push(invalid(p, value, 'Limit must be set for non overcommitable resources'));
      continue;
    }
    let cmp: number;
    try {
      cmp = compareQuantities(parseQuantity(value), parseQuantity(limit));
    } catch (err) {
      if (err instanceof QuantityError) continue; // reported as the limit's own error
      throw err;
    }
    if (cmp > 0) errs.push(invalid(p, value, `must be less than or equal to ${name} limit of ${limit}`));
    else if (!overcommitAllowed(name) && cmp !== 0)
      errs.push(invalid(p, value, `must be equal to ${name} limit of ${limit}`));
  }
  return errs;
}

function validatePorts(ports: readonly ContainerPort[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (ports ?? []).forEach((port, i) => {
    const p = index(path, i);
    if (port.name) {
      errs.push(...isValidPortName(port.name).map((msg) => invalid(child(p, 'name'), port.name, msg)));
      if (names.has(port.name)) errs.push(duplicate(child(p, 'name'), port.name));
      names.add(port.name);
    }
    if (port.containerPort === 0) errs.push(required(child(p, 'containerPort')));
    else
      errs.push(
        ...isValidPortNum(port.containerPort).map((msg) =>
          invalid(child(p, 'containerPort'), port.containerPort, msg),
        ),
      );
    if (port.hostPort)
      errs.push(
        ...isValidPortNum(port.hostPort).map((msg) => invalid(child(p, 'hostPort'), port.hostPort, msg)),
      );
    if (!port.protocol) errs.push(required(child(p, 'protocol')));
    else if (!protocols.includes(port.protocol))
      errs.push(notSupported(child(p, 'protocol'), port.protocol, protocols));
  });
  return errs;
}

function validateEnv(env: readonly EnvVar[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (env ?? []).forEach((ev, i) => {
    const p = index(path, i);
    if (ev.name === '') errs.push(required(child(p, 'name')));
    else errs.push(...isEnvVarName(ev.name).map((msg) => invalid(child(p, 'name'), ev.name, msg)));
    const from = ev.valueFrom;
    if (from === undefined) return;
    const vp = child(p, 'valueFrom');
    let sources = 0;
    if (from.fieldRef !== undefined) {
      sources++;
      errs.push(...validateFieldRef(from.fieldRef.fieldPath, child(vp, 'fieldRef')));
    }
    if (from.resourceFieldRef !== undefined) {
      sources++;
      const r = from.resourceFieldRef.resource;
      if (r === '') errs.push(required(child(vp, 'resourceFieldRef', 'resource')));
      else if (!resourceFieldRefs.includes(r))
        errs.push(notSupported(child(vp, 'resourceFieldRef', 'resource'), r, resourceFieldRefs));
    }
    for (const refName of ['configMapKeyRef', 'secretKeyRef'] as const) {
      const ref = from[refName];
      if (ref === undefined) continue;
      sources++;
      if (ref.key === '') errs.push(required(child(vp, refName, 'key')));
      else
        errs.push(...isConfigMapKey(ref.key).map((msg) => invalid(child(vp, refName, 'key'), ref.key, msg)));
      if (!ref.name) errs.push(required(child(vp, refName, 'name')));
    }
    if (sources === 0) {
      errs.push(
        invalid(
          vp,
          '',
          'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
        ),
      );
    } else if (sources > 1) {
      errs.push(invalid(vp, '', 'may not have more than one field specified at a time'));
    }
    if (ev.value && sources > 0) errs.push(invalid(vp, '', 'may not be specified when `value` is not empty'));
  });
  return errs;
}

function validateEnvFrom(envFrom: readonly EnvFromSource[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (envFrom ?? []).forEach((ef, i) => {
    const p = index(path, i);
    if (ef.prefix)
      errs.push(...isEnvVarName(ef.prefix).map((msg) => invalid(child(p, 'prefix'), ef.prefix, msg)));
    const refs = (['configMapRef', 'secretRef'] as const).filter((k) => ef[k] !== undefined);
    if (refs.length === 0) errs.push(invalid(p, '', 'must specify one of: `configMapRef` or `secretRef`'));
    if (refs.length > 1) errs.push(invalid(p, '', 'may not have more than one field specified at a time'));
    for (const r of refs) {
      const name = ef[r]?.name;
      if (!name) errs.push(required(child(p, r, 'name')));
      else errs.push(...validateDNS1123Subdomain(name, child(p, r, 'name')));
    }
  });
  return errs;
}

function validateHTTPGet(action: HTTPGetAction, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!action.path) errs.push(required(child(path, 'path')));
  errs.push(...validatePortNumOrName(action.port, child(path, 'port')));
  if (action.scheme !== undefined && action.scheme !== 'HTTP' && action.scheme !== 'HTTPS') {
    errs.push(notSupported(child(path, 'scheme'), action.scheme, ['HTTP', 'HTTPS']));
  }
  (action.httpHeaders ?? []).forEach((h, i) => {
    if (!/^[-A-Za-z0-9!#$%&'*+.^_`|~]+$/.test(h.name)) {
      errs.push(
        invalid(
          child(index(child(path, 'httpHeaders'), i), 'name'),
          h.name,
          "a valid HTTP header must consist of alphanumeric characters or '-'",
        ),
      );
    }
  });
  return errs;
}

/** Exactly one handler: exec, httpGet, tcpSocket, grpc (probes) or sleep (lifecycle). */
function validateHandler(handler: Probe | LifecycleHandler, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const present = (['exec', 'httpGet', 'tcpSocket', 'grpc', 'sleep'] as const).filter(
    (k) => (handler as Record<string, unknown>)[k] !== undefined,
  );
  if (present.length === 0) errs.push(required(path, 'must specify a handler type'));
  for (const extra of present.slice(1))
    errs.push(forbidden(child(path, extra), 'may not specify more than 1 handler type'));
  const first = present[0];
  if (first === 'exec' && (handler.exec?.command ?? []).length === 0)
    errs.push(required(child(path, 'exec', 'command')));
  if (first === 'httpGet' && handler.httpGet !== undefined)
    errs.push(...validateHTTPGet(handler.httpGet, child(path, 'httpGet')));
  if (first === 'tcpSocket' && handler.tcpSocket !== undefined) {
    errs.push(...validatePortNumOrName(handler.tcpSocket.port, child(path, 'tcpSocket', 'port')));
  }
  const grpc = (handler as Probe).grpc;
  if (first === 'grpc' && grpc !== undefined) {
    errs.push(
      ...isValidPortNum(grpc.port).map((msg) => invalid(child(path, 'grpc', 'port'), grpc.port, msg)),
    );
  }
  const sleep = (handler as LifecycleHandler).sleep;
  if (first === 'sleep' && sleep !== undefined)
    errs.push(...nonNegative(sleep.seconds, child(path, 'sleep', 'seconds')));
  return errs;
}

function validateProbe(probe: Probe | undefined, path: FieldPath, mustSucceedOnce: boolean): FieldError[] {
  if (probe === undefined) return [];
  const errs = validateHandler(probe, path);
  for (const f of [
    'initialDelaySeconds',
    'timeoutSeconds',
    'periodSeconds',
    'successThreshold',
    'failureThreshold',
  ] as const) {
    errs.push(...nonNegative(probe[f], child(path, f)));
  }
  if (probe.terminationGracePeriodSeconds !== undefined && probe.terminationGracePeriodSeconds <= 0) {
    errs.push(
      invalid(
        child(path, 'terminationGracePeriodSeconds'),
        probe.terminationGracePeriodSeconds,
        'must be greater than 0',
      ),
    );
  }
  // Liveness and startup probes decide on one success: a threshold above 1 is meaningless.
  if (mustSucceedOnce && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    errs.push(invalid(child(path, 'successThreshold'), probe.successThreshold, 'must be 1'));
  }
  return errs;
}

type ContainerKind = 'container' | 'init';

function validateContainer(
  c: Container,
  kind: ContainerKind,
  path: FieldPath,
  volumes: ReadonlySet<string>,
): FieldError[] {
  const errs: FieldError[] = [];
  if (c.name === '') errs.push(required(child(path, 'name')));
  else errs.push(...isDNS1123Label(c.name).map((msg) => invalid(child(path, 'name'), c.name, msg)));
  if (!c.image) errs.push(required(child(path, 'image')));
  if (c.imagePullPolicy !== undefined && !pullPolicies.includes(c.imagePullPolicy)) {
    errs.push(notSupported(child(path, 'imagePullPolicy'), c.imagePullPolicy, pullPolicies));
  }
  if (
    c.terminationMessagePolicy !== undefined &&
    !['File', 'FallbackToLogsOnError'].includes(c.terminationMessagePolicy)
  ) {
    errs.push(
      notSupported(child(path, 'terminationMessagePolicy'), c.terminationMessagePolicy, [
        'File',
        'FallbackToLogsOnError',
      ]),
    );
  }
  const sidecar = kind === 'init' && c.restartPolicy === 'Always';
  if (c.restartPolicy !== undefined) {
    if (kind === 'container')
      errs.push(forbidden(child(path, 'restartPolicy'), 'may not be set for non-init containers'));
    else if (c.restartPolicy !== 'Always')
      errs.push(notSupported(child(path, 'restartPolicy'), c.restartPolicy, ['Always']));
  }
  errs.push(...validatePorts(c.ports, child(path, 'ports')));
  errs.push(...validateEnv(c.env, child(path, 'env')));
  errs.push(...validateEnvFrom(c.envFrom, child(path, 'envFrom')));
  errs.push(...validateResources(c.resources, child(path, 'resources')));
  const mountPaths = new Set<string>();
  (c.volumeMounts ?? []).forEach((m, i) => {
    const p = index(child(path, 'volumeMounts'), i);
    if (m.name === '') errs.push(required(child(p, 'name')));
    else if (!volumes.has(m.name)) errs.push(notFound(child(p, 'name'), m.name));
    if (m.mountPath === '') errs.push(required(child(p, 'mountPath')));
    else if (mountPaths.has(m.mountPath))
      errs.push(invalid(child(p, 'mountPath'), m.mountPath, 'must be unique'));
    mountPaths.add(m.mountPath);
    if (m.subPath) errs.push(...validateLocalDescendingPath(m.subPath, child(p, 'subPath')));
    if (
      m.mountPropagation !== undefined &&
      !['None', 'HostToContainer', 'Bidirectional'].includes(m.mountPropagation)
    ) {
      errs.push(
        notSupported(child(p, 'mountPropagation'), m.mountPropagation, [
          'Bidirectional',
          'HostToContainer',
          'None',
        ]),
      );
    }
  });
  if (kind === 'init' && !sidecar) {
    // Plain init containers run to completion: probes and lifecycle hooks make no sense.
    for (const f of ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle'] as const) {
      if (c[f] !== undefined)
        errs.push(
          forbidden(child(path, f), 'may not be set for init containers without restartPolicy=Always'),
        );
    }
  } else {
    errs.push(...validateProbe(c.livenessProbe, child(path, 'livenessProbe'), true));
    errs.push(...validateProbe(c.readinessProbe, child(path, 'readinessProbe'), false));
    errs.push(...validateProbe(c.startupProbe, child(path, 'startupProbe'), true));
    for (const hook of ['postStart', 'preStop'] as const) {
      const h = c.lifecycle?.[hook];
      if (h !== undefined) errs.push(...validateHandler(h, child(path, 'lifecycle', hook)));
    }
  }
  return errs;
}

// ---- Scheduling ------------------------------------------------------------------------------------

function validateNodeSelectorRequirement(
  r: NodeSelectorRequirement,
  path: FieldPath,
  fieldKeys: boolean,
): FieldError[] {
  const errs: FieldError[] = [];
  const values = r.values ?? [];
  switch (r.operator as string) {
    case 'In':
    case 'NotIn':
      if (values.length === 0)
        errs.push(required(child(path, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0)
        errs.push(
          forbidden(
            child(path, 'values'),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
          ),
        );
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1)
        errs.push(
          required(child(path, 'values'), "must be specified single value when `operator` is 'Lt' or 'Gt'"),
        );
      else if (!/^[-+]?[0-9]+$/.test(values[0] as string)) {
        errs.push(
          invalid(
            index(child(path, 'values'), 0),
            values[0],
            "must be an integer when `operator` is 'Lt' or 'Gt'",
          ),
        );
      }
      break;
    default:
      errs.push(invalid(child(path, 'operator'), r.operator, 'not a valid selector operator'));
  }
  if (fieldKeys) {
    // matchFields can only select on the node's name.
    if (r.key !== 'metadata.name') errs.push(notSupported(child(path, 'key'), r.key, ['metadata.name']));
    else if ((r.operator === 'In' || r.operator === 'NotIn') && values.length !== 1) {
      errs.push(
        required(
          child(path, 'values'),
          "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        ),
      );
    }
  } else {
    errs.push(...validateQualifiedName(r.key, child(path, 'key')));
  }
  return errs;
}

export function validateNodeSelectorTerm(term: NodeSelectorTerm, path: FieldPath): FieldError[] {
  return [
    ...(term.matchExpressions ?? []).flatMap((r, i) =>
      validateNodeSelectorRequirement(r, index(child(path, 'matchExpressions'), i), false),
    ),
    ...(term.matchFields ?? []).flatMap((r, i) =>
      validateNodeSelectorRequirement(r, index(child(path, 'matchFields'), i), true),
    ),
  ];
}

function validateWeight(weight: number, path: FieldPath): FieldError[] {
  return weight < 1 || weight > 100 ? [invalid(path, weight, 'must be in the range 1-100')] : [];
}

function validatePodAffinityTerm(term: PodAffinityTerm, path: FieldPath): FieldError[] {
  const errs = validateLabelSelector(term.labelSelector, child(path, 'labelSelector'));
  errs.push(...validateLabelSelector(term.namespaceSelector, child(path, 'namespaceSelector')));
  (term.namespaces ?? []).forEach((ns, i) => {
    errs.push(...isDNS1123Label(ns).map((msg) => invalid(index(child(path, 'namespaces'), i), ns, msg)));
  });
  if (term.topologyKey === '') errs.push(required(child(path, 'topologyKey'), 'can not be empty'));
  else errs.push(...validateQualifiedName(term.topologyKey, child(path, 'topologyKey')));
  return errs;
}

function validateAffinity(affinity: Affinity | undefined, path: FieldPath): FieldError[] {
  if (affinity === undefined) return [];
  const errs: FieldError[] = [];
  const node = affinity.nodeAffinity;
  if (node !== undefined) {
    const np = child(path, 'nodeAffinity');
    const req = node.requiredDuringSchedulingIgnoredDuringExecution;
    if (req !== undefined) {
      const rp = child(np, 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms');
      if (req.nodeSelectorTerms.length === 0)
        errs.push(required(rp, 'must have at least one node selector term'));
      req.nodeSelectorTerms.forEach((t, i) => {
        errs.push(...validateNodeSelectorTerm(t, index(rp, i)));
      });
    }
    (node.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((pref, i) => {
      const pp = index(child(np, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      errs.push(...validateWeight(pref.weight, child(pp, 'weight')));
      errs.push(...validateNodeSelectorTerm(pref.preference, child(pp, 'preference')));
    });
  }
  for (const which of ['podAffinity', 'podAntiAffinity'] as const) {
    const pa = affinity[which];
    if (pa === undefined) continue;
    const pp = child(path, which);
    (pa.requiredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t, i) => {
      errs.push(
        ...validatePodAffinityTerm(t, index(child(pp, 'requiredDuringSchedulingIgnoredDuringExecution'), i)),
      );
    });
    (pa.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((w, i) => {
      const wp = index(child(pp, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      errs.push(...validateWeight(w.weight, child(wp, 'weight')));
      errs.push(...validatePodAffinityTerm(w.podAffinityTerm, child(wp, 'podAffinityTerm')));
    });
  }
  return errs;
}

export function validateTaintEffect(
  effect: string | undefined,
  path: FieldPath,
  allowEmpty: boolean,
): FieldError[] {
  if (effect === undefined || effect === '') return allowEmpty ? [] : [required(path)];
  return taintEffects.includes(effect) ? [] : [notSupported(path, effect, taintEffects)];
}

export function validateTolerations(
  tolerations: readonly Toleration[] | undefined,
  path: FieldPath,
): FieldError[] {
  const errs: FieldError[] = [];
  (tolerations ?? []).forEach((t, i) => {
    const p = index(path, i);
    if (t.key) errs.push(...validateQualifiedName(t.key, child(p, 'key')));
    if (!t.key && t.operator !== 'Exists') {
      errs.push(
        invalid(
          child(p, 'operator'),
          t.operator ?? '',
          'operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ),
      );
    }
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
      errs.push(
        invalid(
          child(p, 'effect'),
          t.effect ?? '',
          "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ),
      );
    }
    const op = t.operator ?? '';
    if (op === 'Equal' || op === '') {
      const msgs = isValidLabelValue(t.value ?? '');
      if (msgs.length > 0) errs.push(invalid(child(p, 'operator'), t.value, msgs.join(';')));
    } else if (op === 'Exists') {
      if (t.value)
        errs.push(invalid(child(p, 'operator'), t, "value must be empty when `operator` is 'Exists'"));
    } else {
      errs.push(notSupported(child(p, 'operator'), op, ['Equal', 'Exists']));
    }
    errs.push(...validateTaintEffect(t.effect, child(p, 'effect'), true));
  });
  return errs;
}

// ---- Pod spec ---------------------------------------------------------------------------------------

export function validatePodSpec(spec: PodSpec | undefined, path: FieldPath): FieldError[] {
  if (spec === undefined) return [required(path)];
  const { errs, names: volumes } = validateVolumes(spec.volumes, child(path, 'volumes'));
  const containerNames = new Set<string>();
  const check = (list: readonly Container[] | undefined, kind: ContainerKind, field: string): void => {
    (list ?? []).forEach((c, i) => {
      const p = index(child(path, field), i);
      errs.push(...validateContainer(c, kind, p, volumes));
      if (c.name !== '') {
        if (containerNames.has(c.name)) errs.push(duplicate(child(p, 'name'), c.name));
        containerNames.add(c.name);
      }
    });
  };
  check(spec.initContainers, 'init', 'initContainers');
  if ((spec.containers ?? []).length === 0) errs.push(required(child(path, 'containers')));
  check(spec.containers, 'container', 'containers');

  if (!spec.restartPolicy) errs.push(required(child(path, 'restartPolicy')));
  else if (!restartPolicies.includes(spec.restartPolicy))
    errs.push(notSupported(child(path, 'restartPolicy'), spec.restartPolicy, restartPolicies));
  if (!spec.dnsPolicy) errs.push(required(child(path, 'dnsPolicy')));
  else if (!dnsPolicies.includes(spec.dnsPolicy))
    errs.push(notSupported(child(path, 'dnsPolicy'), spec.dnsPolicy, dnsPolicies));
  if (spec.dnsPolicy === 'None' && spec.dnsConfig === undefined) {
    errs.push(required(child(path, 'dnsConfig'), 'must provide `dnsConfig` when `dnsPolicy` is None'));
  }
  errs.push(...validateLabels(spec.nodeSelector, child(path, 'nodeSelector')));
  if (spec.nodeName)
    errs.push(
      ...nameIsDNSSubdomain(spec.nodeName, false).map((m) =>
        invalid(child(path, 'nodeName'), spec.nodeName, m),
      ),
    );
  if (spec.serviceAccountName)
    errs.push(...validateDNS1123Subdomain(spec.serviceAccountName, child(path, 'serviceAccountName')));
  for (const f of ['hostname', 'subdomain'] as const) {
    const v = spec[f];
    if (v) errs.push(...isDNS1123Label(v).map((m) => invalid(child(path, f), v, m)));
  }
  errs.push(...nonNegative(spec.terminationGracePeriodSeconds, child(path, 'terminationGracePeriodSeconds')));
  const deadline = spec.activeDeadlineSeconds;
  if (deadline !== undefined && (deadline < 1 || deadline > maxInt32)) {
    errs.push(
      invalid(child(path, 'activeDeadlineSeconds'), deadline, `must be between 1 and ${maxInt32}, inclusive`),
    );
  }
  errs.push(...validateAffinity(spec.affinity, child(path, 'affinity')));
  errs.push(...validateTolerations(spec.tolerations, child(path, 'tolerations')));
  (spec.imagePullSecrets ?? []).forEach((s, i) => {
    if (!s.name) errs.push(required(child(index(child(path, 'imagePullSecrets'), i), 'name')));
  });
  (spec.readinessGates ?? []).forEach((g, i) => {
    errs.push(
      ...validateQualifiedName(
        g.conditionType,
        child(index(child(path, 'readinessGates'), i), 'conditionType'),
      ),
    );
  });
  const spreads = new Set<string>();
  (spec.topologySpreadConstraints ?? []).forEach((c, i) => {
    const p = index(child(path, 'topologySpreadConstraints'), i);
    if (c.maxSkew <= 0) errs.push(invalid(child(p, 'maxSkew'), c.maxSkew, 'must be greater than zero'));
    if (c.topologyKey === '') errs.push(required(child(p, 'topologyKey'), 'can not be empty'));
    else errs.push(...validateQualifiedName(c.topologyKey, child(p, 'topologyKey')));
    if (!['DoNotSchedule', 'ScheduleAnyway'].includes(c.whenUnsatisfiable)) {
      errs.push(
        notSupported(child(p, 'whenUnsatisfiable'), c.whenUnsatisfiable, ['DoNotSchedule', 'ScheduleAnyway']),
      );
    }
    const k = `${c.topologyKey}/${c.whenUnsatisfiable}`;
    if (spreads.has(k)) errs.push(duplicate(p, `{${c.topologyKey}, ${c.whenUnsatisfiable}}`));
    spreads.add(k);
  });
  errs.push(...validateHostPorts(spec, path));
  return errs;
}

/** Host ports are unique per protocol in a pod, and equal the container port on the host's network. */
function validateHostPorts(spec: PodSpec, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const used = new Set<string>();
  for (const [field, list] of [
    ['initContainers', spec.initContainers],
    ['containers', spec.containers],
  ] as const) {
    (list ?? []).forEach((c, i) => {
      (c.ports ?? []).forEach((port, j) => {
        const p = index(child(index(child(path, field), i), 'ports'), j);
        if (spec.hostNetwork === true && port.hostPort && port.hostPort !== port.containerPort) {
          errs.push(
            invalid(
              child(p, 'hostPort'),
              port.hostPort,
              'must match `containerPort` when `hostNetwork` is true',
            ),
          );
        }
        if (!port.hostPort) return;
        const k = `${port.hostIP ?? ''}/${port.hostPort}/${port.protocol ?? 'TCP'}`;
        if (used.has(k))
          errs.push(duplicate(child(p, 'hostPort'), `${port.hostPort}/${port.protocol ?? 'TCP'}`));
        used.add(k);
      });
    });
  }
  return errs;
}

export function validatePodTemplateSpec(
  template: PodTemplateSpec | undefined,
  path: FieldPath,
): FieldError[] {
  if (template === undefined) return [required(path)];
  const meta = template.metadata ?? {};
  return [
    ...validateLabels(meta.labels, child(path, 'metadata', 'labels')),
    ...validateAnnotations(meta.annotations, child(path, 'metadata', 'annotations')),
    ...validatePodSpec(template.spec, child(path, 'spec')),
  ];
}

export function validatePod(pod: Pod): FieldError[] {
  return [
    ...validateObjectMeta(pod.metadata, { namespaced: true, name: nameIsDNSSubdomain }),
    ...validatePodSpec(pod.spec, 'spec'),
  ];
}

// ---- Pod updates ------------------------------------------------------------------------------------

/** Paths where two values differ, at most `max` of them: enough to say what changed. */
export function differingPaths(
  a: unknown,
  b: unknown,
  path: string,
  max: number,
  out: string[] = [],
): string[] {
  if (out.length >= max || sameValue(a, b)) return out;
  const bothObjects = typeof a === 'object' && a !== null && typeof b === 'object' && b !== null;
  if (bothObjects && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b)) {
      if (a.length !== b.length) out.push(path);
      else for (let i = 0; i < a.length; i++) differingPaths(a[i], b[i], `${path}[${i}]`, max, out);
      return out;
    }
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort()) {
      differingPaths(ra[k], rb[k], path === '' ? k : `${path}.${k}`, max, out);
    }
    return out;
  }
  out.push(path);
  return out;
}

const podUpdateRule =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

export function validatePodUpdate(next: Pod, prev: Pod): FieldError[] {
  const errs = [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...validatePodSpec(next.spec, 'spec'),
  ];
  const ns: PodSpec = next.spec ?? { containers: [] };
  const ps: PodSpec = prev.spec ?? { containers: [] };
  for (const field of ['containers', 'initContainers'] as const) {
    const a = ns[field] ?? [];
    const b = ps[field] ?? [];
    if (a.length !== b.length) {
      errs.push(forbidden(child('spec', field), 'pod updates may not add or remove containers'));
      return errs;
    }
  }
  if (ns.activeDeadlineSeconds !== undefined) {
    if (ps.activeDeadlineSeconds !== undefined && ps.activeDeadlineSeconds < ns.activeDeadlineSeconds) {
      errs.push(
        invalid(
          'spec.activeDeadlineSeconds',
          ns.activeDeadlineSeconds,
          'must be less than or equal to previous value',
        ),
      );
    }
  } else if (ps.activeDeadlineSeconds !== undefined) {
    errs.push(
      invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'),
    );
  }
  const newTolerations = ns.tolerations ?? [];
  for (const old of ps.tolerations ?? []) {
    const kept = newTolerations.some(
      (t) =>
        sameValue({ ...t, tolerationSeconds: undefined }, { ...old, tolerationSeconds: undefined }) &&
        (old.tolerationSeconds === undefined ||
          (t.tolerationSeconds !== undefined && t.tolerationSeconds <= old.tolerationSeconds)),
    );
    if (!kept) {
      errs.push(
        forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'),
      );
      break;
    }
  }
  // Compare with the updatable fields taken from the old spec: anything left differs.
  const munge = (
    list: readonly Container[] | undefined,
    from: readonly Container[] | undefined,
  ): Container[] | undefined => list?.map((c, i) => ({ ...c, image: from?.[i]?.image }));
  const grace =
    ps.terminationGracePeriodSeconds !== undefined &&
    ps.terminationGracePeriodSeconds < 0 &&
    ns.terminationGracePeriodSeconds === 1
      ? ps.terminationGracePeriodSeconds
      : ns.terminationGracePeriodSeconds;
  const munged: PodSpec = {
    ...ns,
    containers: munge(ns.containers, ps.containers) ?? [],
    initContainers: munge(ns.initContainers, ps.initContainers),
    activeDeadlineSeconds: ps.activeDeadlineSeconds,
    tolerations: ps.tolerations,
    terminationGracePeriodSeconds: grace,
  };
  if (!sameValue(munged, ps)) {
    const changed = differingPaths(ps, munged, 'spec', 5);
    errs.push(forbidden('spec', `${podUpdateRule}\n  changed: ${changed.join(', ')}`));
  }
  return errs;
}

export function validateBinding(binding: Binding): FieldError[] {
  const errs: FieldError[] = [];
  const target = binding.target ?? {};
  if (target.kind && target.kind !== 'Node') errs.push(notSupported('target.kind', target.kind, ['Node']));
  if (!target.name) errs.push(required('target.name'));
  else
    errs.push(...nameIsDNSSubdomain(target.name, false).map((m) => invalid('target.name', target.name, m)));
  return errs;
}
