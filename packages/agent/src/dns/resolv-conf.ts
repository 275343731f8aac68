/**
 * What a pod on the cluster network resolves with (dnsPolicy ClusterFirst): the cluster
 * DNS Service's address, the search path that makes `web` and `web.other` work from
 * namespace `ns`, and ndots:5 so that a name with fewer than five dots tries that path
 * first. https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/
 */

/** glibc and musl read at most three nameservers. */
export const maxResolvConfNameservers = 3;
/** Kubernetes' default: names with fewer dots than this try the search path first. */
export const clusterNdots = 5;

export type PodDnsSettings = {
  /** The cluster DNS Service's cluster IP(s). */
  readonly nameservers: readonly string[];
  /** The pod's namespace. */
  readonly namespace: string;
  /** The cluster domain, e.g. `cluster.local`. */
  readonly domain: string;
  readonly ndots?: number;
};

/** `<ns>.svc.<domain> svc.<domain> <domain>`. */
export function clusterSearchPath(namespace: string, domain: string): readonly string[] {
  return [`${namespace}.svc.${domain}`, `svc.${domain}`, domain];
}

/** The resolv.conf text a pod gets. */
export function podResolvConf(settings: PodDnsSettings): string {
  const lines = [
    ...settings.nameservers.slice(0, maxResolvConfNameservers).map((ns) => `nameserver ${ns}`),
    `search ${clusterSearchPath(settings.namespace, settings.domain).join(' ')}`,
    `options ndots:${settings.ndots ?? clusterNdots}`,
  ];
  return `${lines.join('\n')}\n`;
}
