import type {
  ConfigMap,
  Container,
  ObjectFieldSelector,
  Pod,
  ResourceFieldSelector,
  Secret,
} from '@flotilla/api';
import { parseQuantity, quantityMilliValue } from '@flotilla/api';
import { ContainerConfigError } from '../errors.ts';
import type { ObjectLookup } from './pod-source.ts';

/**
 * Expands `$(NAME)` references as Kubernetes does for env values, command and args:
 * a defined name is replaced, an undefined one is left as written, `$$` is a literal `$`.
 * https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i += 1;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = name === '' ? undefined : lookup(name);
      out += value ?? input.slice(i, close + 1);
      i = close + 1;
      continue;
    }
    out += c;
    i += 1;
  }
  return out;
}

/** Environment variable names Kubernetes accepts (C identifiers and more, not `=`). */
const envNamePattern = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export type EnvContext = {
  readonly lookup: ObjectLookup;
  readonly nodeName: string;
  readonly hostIP: string;
  readonly podIP: string;
  readonly podIPs: readonly string[];
  /** What a limit that is not set stands for in resourceFieldRef (the node's allocatable). */
  readonly nodeAllocatable: { readonly cpuMilli: number; readonly memoryBytes: number };
};

export type EnvVarValue = { readonly name: string; readonly value: string };

/**
 * The container's environment as kubelet builds it: `envFrom` sources in order, then
 * `env` in order (later definitions win), each `env` value expanded against what is
 * defined before it. A missing ConfigMap, Secret or key that is not optional is a
 * `ContainerConfigError` (the container waits with CreateContainerConfigError).
 */
export async function containerEnv(
  pod: Pod,
  container: Container,
  ctx: EnvContext,
): Promise<readonly EnvVarValue[]> {
  const namespace = pod.metadata.namespace ?? 'default';
  const configMaps = new Map<string, Promise<ConfigMap | undefined>>();
  const secrets = new Map<string, Promise<Secret | undefined>>();
  const configMap = (name: string) => {
    const p = configMaps.get(name) ?? ctx.lookup.configMap(namespace, name);
    configMaps.set(name, p);
    return p;
  };
  const secret = (name: string) => {
    const p = secrets.get(name) ?? ctx.lookup.secret(namespace, name);
    secrets.set(name, p);
    return p;
  };

  const env = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef !== undefined) {
      const name = from.configMapRef.name ?? '';
      const cm = await configMap(name);
      if (cm === undefined) {
        if (from.configMapRef.optional === true) continue;
        throw new ContainerConfigError(`configmap "${name}" not found`);
      }
      for (const [k, v] of Object.entries(cm.data ?? {})) {
        if (envNamePattern.test(prefix + k)) env.set(prefix + k, v);
      }
    } else if (from.secretRef !== undefined) {
      const name = from.secretRef.name ?? '';
      const s = await secret(name);
      if (s === undefined) {
        if (from.secretRef.optional === true) continue;
        throw new ContainerConfigError(`secret "${name}" not found`);
      }
      for (const [k, v] of Object.entries(s.data ?? {})) {
        if (envNamePattern.test(prefix + k)) env.set(prefix + k, Buffer.from(v, 'base64').toString('utf8'));
      }
    }
  }

  for (const e of container.env ?? []) {
    const source = e.valueFrom;
    if (source === undefined) {
      env.set(
        e.name,
        expandVars(e.value ?? '', (n) => env.get(n)),
      );
      continue;
    }
    if (source.fieldRef !== undefined) {
      env.set(e.name, fieldValue(pod, source.fieldRef, ctx));
    } else if (source.resourceFieldRef !== undefined) {
      env.set(e.name, resourceValue(pod, container, source.resourceFieldRef, ctx));
    } else if (source.configMapKeyRef !== undefined) {
      const ref = source.configMapKeyRef;
      const cm = await configMap(ref.name ?? '');
      const value = cm?.data?.[ref.key] ?? decodeOptional(cm?.binaryData?.[ref.key]);
      if (value !== undefined) env.set(e.name, value);
      else if (ref.optional !== true) {
        throw new ContainerConfigError(
          cm === undefined
            ? `configmap "${ref.name}" not found`
            : `couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name}`,
        );
      }
    } else if (source.secretKeyRef !== undefined) {
      const ref = source.secretKeyRef;
      const s = await secret(ref.name ?? '');
      const value = decodeOptional(s?.data?.[ref.key]);
      if (value !== undefined) env.set(e.name, value);
      else if (ref.optional !== true) {
        throw new ContainerConfigError(
          s === undefined
            ? `secret "${ref.name}" not found`
            : `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}`,
        );
      }
    }
  }
  return [...env].map(([name, value]) => ({ name, value }));
}

function decodeOptional(base64: string | undefined): string | undefined {
  return base64 === undefined ? undefined : Buffer.from(base64, 'base64').toString('utf8');
}

/** The downward API's pod fields. https://kubernetes.io/docs/concepts/workloads/pods/downward-api/ */
export function fieldValue(
  pod: Pod,
  ref: ObjectFieldSelector,
  ctx: Pick<EnvContext, 'hostIP' | 'podIP' | 'podIPs' | 'nodeName'>,
): string {
  const path = ref.fieldPath;
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m !== null) {
    const map = m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[m[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? 'default';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
      return formatMap(pod.metadata.labels);
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations);
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return ctx.hostIP;
    case 'status.hostIPs':
      return ctx.hostIP;
    case 'status.podIP':
      return ctx.podIP;
    case 'status.podIPs':
      return ctx.podIPs.join(',');
    default:
      throw new ContainerConfigError(`unsupported fieldPath: ${path}`);
  }
}

/** `key="value"` lines, sorted, as the downward API writes label and annotation maps. */
function formatMap(map: Readonly<Record<string, string>> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map?.[k])}`)
    .join('\n');
}

/** A container's request or limit divided by the divisor, rounded up; unset limits are the node's allocatable. */
export function resourceValue(
  pod: Pod,
  self: Container,
  ref: ResourceFieldSelector,
  ctx: Pick<EnvContext, 'nodeAllocatable'>,
): string {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const container = ref.containerName ? containers.find((c) => c.name === ref.containerName) : self;
  if (container === undefined) throw new ContainerConfigError(`container "${ref.containerName}" not found`);
  const [kind, resource] = ref.resource.split('.') as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || (resource !== 'cpu' && resource !== 'memory')) {
    throw new ContainerConfigError(`unsupported container resource: ${ref.resource}`);
  }
  const raw = container.resources?.[kind]?.[resource];
  const divisor = quantityMilliValue(parseQuantity(ref.divisor ?? '1'));
  let milli: number;
  if (raw !== undefined) milli = quantityMilliValue(parseQuantity(raw));
  else if (kind === 'limits') {
    milli = resource === 'cpu' ? ctx.nodeAllocatable.cpuMilli : ctx.nodeAllocatable.memoryBytes * 1000;
  } else milli = 0;
  if (divisor <= 0) throw new ContainerConfigError(`divisor of ${ref.resource} must be positive`);
  return String(Math.ceil(milli / divisor));
}
