/**
 * The `kube-system/kube-dns` Endpoints the agents keep together: one address per node
 * agent that serves the cluster DNS, ready while its Node is Ready, moved to
 * notReadyAddresses when it is not (so the proxies stop sending queries to a dead
 * agent), and dropped when its Node is gone. Pure: the agents apply it with conflict retries.
 */
import type { EndpointAddress, EndpointSubset, Node } from '@flotilla/api';

export type DnsMember = { readonly ip: string; readonly nodeName?: string; readonly ready: boolean };

const byIP = (a: DnsMember, b: DnsMember) => a.ip.localeCompare(b.ip, 'en', { numeric: true });

/** The members an Endpoints object lists. */
export function dnsMembers(subsets: readonly EndpointSubset[] | undefined): DnsMember[] {
  const member = (a: EndpointAddress, ready: boolean): DnsMember => ({
    ip: a.ip,
    ...(a.nodeName === undefined ? {} : { nodeName: a.nodeName }),
    ready,
  });
  return (subsets ?? []).flatMap((s) => [
    ...(s.addresses ?? []).map((a) => member(a, true)),
    ...(s.notReadyAddresses ?? []).map((a) => member(a, false)),
  ]);
}

/** One subset (ready and not-ready addresses, sorted) for the DNS ports; none when empty. */
export function dnsSubsets(members: readonly DnsMember[], port: number): EndpointSubset[] {
  if (members.length === 0) return [];
  const address = (m: DnsMember): EndpointAddress => ({
    ip: m.ip,
    ...(m.nodeName === undefined ? {} : { nodeName: m.nodeName }),
  });
  const sorted = [...members].sort(byIP);
  const ready = sorted.filter((m) => m.ready).map(address);
  const notReady = sorted.filter((m) => !m.ready).map(address);
  return [
    {
      ...(ready.length === 0 ? {} : { addresses: ready }),
      ...(notReady.length === 0 ? {} : { notReadyAddresses: notReady }),
      ports: [
        { name: 'dns', protocol: 'UDP', port },
        { name: 'dns-tcp', protocol: 'TCP', port },
      ],
    },
  ];
}

function nodeReady(node: Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/**
 * Members as the Node list says they should be: an agent's address is ready while its
 * Node is Ready, and gone with its Node. Addresses without a node name were put there by
 * hand and are left as they are.
 */
export function withNodeReadiness(
  members: readonly DnsMember[],
  nodes: ReadonlyMap<string, Node>,
): DnsMember[] {
  const out: DnsMember[] = [];
  for (const m of members) {
    if (m.nodeName === undefined) {
      out.push(m);
      continue;
    }
    const node = nodes.get(m.nodeName);
    if (node === undefined) continue;
    out.push({ ...m, ready: nodeReady(node) });
  }
  return out;
}
