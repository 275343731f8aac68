import { join } from 'node:path';
import type { SeccompProfile as ApiSeccompProfile, Pod } from '@flotilla/api';
import { clusterNdots, clusterSearchPath } from '../dns/resolv-conf.ts';
import type { DnsConfig, PortMapping, SandboxConfig, SeccompProfile } from '../runtime/runtime.ts';
import { nodeLabel, podNameLabel, podNamespaceLabel, podUidLabel } from './labels.ts';

/** The cluster's DNS as kubelet's --cluster-dns and --cluster-domain give it. */
export type ClusterDns = {
  /** The cluster DNS service's addresses; empty when the cluster has none yet. */
  readonly servers: readonly string[];
  readonly domain: string;
};

export const defaultClusterDns: ClusterDns = { servers: [], domain: 'cluster.local' };

/** resolv.conf limits glibc and musl honour, as kubelet enforces them. */
export const maxDnsNameservers = 3;
export const maxDnsSearches = 32;
/** Linux limits host names to 63 bytes. */
const maxHostnameBytes = 63;

export type ResolvConf = {
  readonly servers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
};

/** `nameserver`, `search`/`domain` and `options` lines of a resolv.conf. */
export function parseResolvConf(text: string): ResolvConf {
  const servers: string[] = [];
  let searches: string[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword === 'nameserver' && rest[0] !== undefined) servers.push(rest[0]);
    else if (keyword === 'search' || keyword === 'domain') searches = rest;
    else if (keyword === 'options') options.push(...rest);
  }
  return { servers, searches, options };
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs.filter((x) => x !== ''))];

/**
 * The pod's resolv.conf (kubelet's dns.go): ClusterFirst points at the cluster DNS with
 * the namespace's search path and `ndots:5`; Default copies the node's; None leaves only
 * what the pod's dnsConfig says, which is merged last in every policy. A ClusterFirst pod
 * on the host's network, or in a cluster without DNS, gets Default, as kubelet does.
 * https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-dns-policy
 */
export function dnsConfigFor(pod: Pod, cluster: ClusterDns, host: ResolvConf): DnsConfig {
  const spec = pod.spec;
  let policy = spec?.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'ClusterFirst' && spec?.hostNetwork === true) policy = 'Default';
  if ((policy === 'ClusterFirst' || policy === 'ClusterFirstWithHostNet') && cluster.servers.length === 0) {
    policy = 'Default';
  }
  let servers: string[] = [];
  let searches: string[] = [];
  let options: string[] = [];
  switch (policy) {
    case 'ClusterFirst':
    case 'ClusterFirstWithHostNet': {
      // The same path and ndots the cluster DNS add-on documents (dns/resolv-conf.ts).
      servers = [...cluster.servers];
      searches = [
        ...clusterSearchPath(pod.metadata.namespace ?? 'default', cluster.domain),
        ...host.searches,
      ];
      options = [`ndots:${clusterNdots}`];
      break;
    }
    case 'Default':
      servers = [...host.servers];
      searches = [...host.searches];
      options = [...host.options];
      break;
    case 'None':
      break;
  }
  const extra = spec?.dnsConfig;
  if (extra !== undefined) {
    servers.push(...(extra.nameservers ?? []));
    searches.push(...(extra.searches ?? []));
    // Options merge by name; the pod's win.
    const byName = new Map(options.map((o) => [o.split(':')[0] ?? o, o]));
    for (const o of extra.options ?? []) {
      if (o.name === undefined) continue;
      byName.set(o.name, o.value === undefined ? o.name : `${o.name}:${o.value}`);
    }
    options = [...byName.values()];
  }
  return {
    servers: unique(servers).slice(0, maxDnsNameservers),
    searches: unique(searches).slice(0, maxDnsSearches),
    options: unique(options),
  };
}

/** The pod's host name and, with a subdomain, its domain (kubelet's GeneratePodHostNameAndDomain). */
export function hostnameFor(
  pod: Pod,
  clusterDomain: string,
): { readonly hostname: string; readonly domain: string } {
  let hostname = pod.spec?.hostname || pod.metadata.name || '';
  if (Buffer.byteLength(hostname) > maxHostnameBytes)
    hostname = hostname.slice(0, maxHostnameBytes).replace(/[-.]+$/, '');
  const sub = pod.spec?.subdomain;
  const domain = sub ? `${sub}.${pod.metadata.namespace ?? 'default'}.svc.${clusterDomain}` : '';
  return { hostname, domain };
}

/**
 * The /etc/hosts the kubelet mounts into every container of a pod on the pod network:
 * localhost, the pod's own name at its IP, and the pod's hostAliases.
 * https://kubernetes.io/docs/tasks/network/customize-hosts-file-for-pods/
 */
export function hostsFile(pod: Pod, podIP: string, clusterDomain: string): string {
  const { hostname, domain } = hostnameFor(pod, clusterDomain);
  const lines = [
    '# Managed by the Flotilla agent; changes are overwritten.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  if (podIP !== '')
    lines.push(domain === '' ? `${podIP}\t${hostname}` : `${podIP}\t${hostname}.${domain}\t${hostname}`);
  const aliases = pod.spec?.hostAliases ?? [];
  if (aliases.length > 0) {
    lines.push('', '# Entries added by HostAliases.');
    for (const a of aliases) lines.push(`${a.ip}\t${(a.hostnames ?? []).join('\t')}`);
  }
  return `${lines.join('\n')}\n`;
}

export function seccompFrom(p: ApiSeccompProfile | undefined): SeccompProfile | undefined {
  if (p === undefined) return undefined;
  switch (p.type) {
    case 'RuntimeDefault':
      return { type: 'RuntimeDefault' };
    case 'Unconfined':
      return { type: 'Unconfined' };
    case 'Localhost':
      return { type: 'Localhost', path: p.localhostProfile ?? '' };
    default:
      return undefined;
  }
}

/** The pod's CRI log directory: kubelet's `<root>/<namespace>_<name>_<uid>`. */
export function podLogDirectory(podLogsDir: string, pod: Pod): string {
  return join(podLogsDir, `${pod.metadata.namespace ?? 'default'}_${pod.metadata.name}_${pod.metadata.uid}`);
}

export type SandboxContext = {
  readonly nodeName: string;
  /** The pod's cgroup parent; '' lets the runtime choose. */
  readonly cgroupParent: string;
  readonly podLogsDir: string;
  readonly clusterDomain: string;
  readonly dns: DnsConfig;
};

/** The CRI sandbox of a pod: its namespaces, name, DNS, log directory and labels. */
export function sandboxConfigFor(pod: Pod, attempt: number, ctx: SandboxContext): SandboxConfig {
  const spec = pod.spec;
  const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  const portMappings: PortMapping[] = [];
  for (const c of spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      portMappings.push({
        protocol: p.protocol ?? 'TCP',
        containerPort: p.containerPort,
        hostPort: p.hostPort ?? 0,
        hostIP: p.hostIP ?? '',
      });
    }
  }
  const psc = spec?.securityContext;
  return {
    metadata: {
      name: pod.metadata.name ?? '',
      namespace: pod.metadata.namespace ?? 'default',
      uid: pod.metadata.uid ?? '',
      attempt,
    },
    hostname: spec?.hostNetwork === true ? '' : hostnameFor(pod, ctx.clusterDomain).hostname,
    logDirectory: podLogDirectory(ctx.podLogsDir, pod),
    dnsConfig: ctx.dns,
    portMappings,
    labels: {
      ...(pod.metadata.labels ?? {}),
      [podNameLabel]: pod.metadata.name ?? '',
      [podNamespaceLabel]: pod.metadata.namespace ?? 'default',
      [podUidLabel]: pod.metadata.uid ?? '',
      [nodeLabel]: ctx.nodeName,
    },
    annotations: { ...(pod.metadata.annotations ?? {}) },
    linux: {
      cgroupParent: ctx.cgroupParent,
      network: spec?.hostNetwork === true ? 'node' : 'pod',
      pid: spec?.hostPID === true ? 'node' : spec?.shareProcessNamespace === true ? 'pod' : 'container',
      ipc: spec?.hostIPC === true ? 'node' : 'pod',
      privileged: containers.some((c) => c.securityContext?.privileged === true),
      runAsUser: psc?.runAsUser,
      runAsGroup: psc?.runAsGroup,
      supplementalGroups: [
        ...(psc?.supplementalGroups ?? []),
        ...(psc?.fsGroup === undefined ? [] : [psc.fsGroup]),
      ],
      seccomp: seccompFrom(psc?.seccompProfile),
      sysctls: Object.fromEntries((psc?.sysctls ?? []).map((s) => [s.name, s.value])),
    },
  };
}
