import { assertNever } from '@flotilla/actor';
import type { Protocol } from '@flotilla/api';
import { compareIPs, type ServiceView, type SessionAffinity } from '../net/service-catalog.ts';
import {
  endpointChainName,
  markMasqChain,
  nodePortsChain,
  postroutingChain,
  serviceChainName,
  servicesChain,
} from './chain-names.ts';

/** One endpoint a Service port sends to. */
export type ProxyEndpoint = { readonly ip: string; readonly port: number };

/** One port of one Service, as the proxy routes it: a virtual address and its ready endpoints. */
export type ProxyServicePort = {
  /** `namespace/name:port` (`namespace/name` for an unnamed port): names the chains and comments. */
  readonly key: string;
  readonly protocol: Protocol;
  readonly clusterIP: string;
  readonly port: number;
  readonly nodePort: number | undefined;
  readonly affinity: SessionAffinity;
  /** Ready endpoints, unique, in address order. */
  readonly endpoints: readonly ProxyEndpoint[];
};

/** One rule: its arguments after `-A CHAIN`, one token each (no shell quoting). */
export type Rule = readonly string[];
/** Chains and their rules, in order. */
export type ChainSet = ReadonlyMap<string, readonly Rule[]>;
/** The chains of ours in the two tables the proxy writes. */
export type ProxyRules = { readonly nat: ChainSet; readonly filter: ChainSet };
export type TableName = keyof ProxyRules;
export const proxyTables: readonly TableName[] = ['nat', 'filter'];

/**
 * The mark that asks FLOTILLA-POSTROUTING to masquerade a connection. The bit
 * kube-proxy uses (0x4000): the two never run on one node.
 */
export const masqueradeMark = '0x4000';

/**
 * The ports the proxy routes, from the Services: those with a cluster IP (headless and
 * ExternalName Services are DNS-only), each with its ready endpoints that serve a port
 * of the same name and protocol. Sorted by key, so equal inputs give equal rules.
 */
export function proxyServicePorts(views: readonly ServiceView[]): readonly ProxyServicePort[] {
  const out = views.flatMap(portsOfView);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.protocol.localeCompare(b.protocol)));
}

/**
 * Memoized on the view object: the catalog hands out the same view until its Service
 * changes, so a sync recomputes only the Services that changed (and the rule fragments
 * below keep their identity, which the restore plan compares first).
 */
const portsByView = new WeakMap<ServiceView, readonly ProxyServicePort[]>();

function portsOfView(view: ServiceView): readonly ProxyServicePort[] {
  const cached = portsByView.get(view);
  if (cached !== undefined) return cached;
  const out: ProxyServicePort[] = [];
  if (view.address.kind === 'clusterIP') {
    const base = `${view.namespace}/${view.name}`;
    for (const port of view.ports) {
      const seen = new Set<string>();
      const endpoints: ProxyEndpoint[] = [];
      for (const ep of view.endpoints) {
        if (!ep.ready) continue;
        const target = ep.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
        if (target === undefined) continue;
        const id = `${ep.ip}:${target.port}`;
        if (seen.has(id)) continue;
        seen.add(id);
        endpoints.push({ ip: ep.ip, port: target.port });
      }
      endpoints.sort((a, b) => compareIPs(a.ip, b.ip) || a.port - b.port);
      out.push({
        key: port.name === '' ? base : `${base}:${port.name}`,
        protocol: port.protocol,
        clusterIP: view.address.ip,
        port: port.port,
        nodePort:
          view.type === 'NodePort' || view.type === 'LoadBalancer' ? (port.nodePort ?? undefined) : undefined,
        affinity: view.sessionAffinity,
        endpoints,
      });
    }
  }
  portsByView.set(view, out);
  return out;
}

/** Comments carry names only; anything else is dropped so a rule can never be malformed by one. */
function comment(text: string): Rule {
  return ['-m', 'comment', '--comment', text.replace(/[^A-Za-z0-9_.:/ >-]/g, '')];
}

function protocolMatch(protocol: Protocol): string {
  switch (protocol) {
    case 'TCP':
      return 'tcp';
    case 'UDP':
      return 'udp';
    case 'SCTP':
      return 'sctp';
    default:
      return assertNever(protocol, 'protocol');
  }
}

/**
 * The probability that endpoint `i` of `n` is taken, given that none before it was:
 * 1/n, 1/(n-1), ..., 1/2 — each endpoint ends up with 1/n overall. Ten decimals, as
 * kube-proxy writes them.
 */
export function endpointProbability(i: number, n: number): string {
  return (1 / (n - i)).toFixed(10);
}

/** The jump rules from the built-in chains into ours. */
export type JumpRule = { readonly table: TableName; readonly chain: string; readonly rule: Rule };

export const jumpRules: readonly JumpRule[] = [
  { table: 'nat', chain: 'PREROUTING', rule: [...comment('flotilla service portals'), '-j', servicesChain] },
  { table: 'nat', chain: 'OUTPUT', rule: [...comment('flotilla service portals'), '-j', servicesChain] },
  { table: 'nat', chain: 'POSTROUTING', rule: [...comment('flotilla postrouting'), '-j', postroutingChain] },
  {
    table: 'filter',
    chain: 'FORWARD',
    rule: [
      '-m',
      'conntrack',
      '--ctstate',
      'NEW',
      ...comment('flotilla service portals'),
      '-j',
      servicesChain,
    ],
  },
  {
    table: 'filter',
    chain: 'OUTPUT',
    rule: [
      '-m',
      'conntrack',
      '--ctstate',
      'NEW',
      ...comment('flotilla service portals'),
      '-j',
      servicesChain,
    ],
  },
];

/** The rules one Service port contributes: to the entry chains, and its own chains. */
type PortFragment = {
  readonly services: readonly Rule[];
  readonly nodePorts: readonly Rule[];
  readonly rejects: readonly Rule[];
  readonly chains: readonly (readonly [string, readonly Rule[]])[];
};

/** Memoized on the port object (see portsByView): unchanged ports keep their rule arrays. */
const fragmentsByPort = new WeakMap<ProxyServicePort, PortFragment>();

function fragmentOf(sp: ProxyServicePort): PortFragment {
  const cached = fragmentsByPort.get(sp);
  if (cached !== undefined) return cached;
  const fragment = buildFragment(sp);
  fragmentsByPort.set(sp, fragment);
  return fragment;
}

function buildFragment(sp: ProxyServicePort): PortFragment {
  const proto = protocolMatch(sp.protocol);
  if (sp.endpoints.length === 0) {
    const reject: Rule = [
      '-d',
      `${sp.clusterIP}/32`,
      '-p',
      proto,
      ...comment(`${sp.key} has no endpoints`),
      '-m',
      proto,
      '--dport',
      String(sp.port),
      '-j',
      'REJECT',
    ];
    return { services: [], nodePorts: [], rejects: [reject], chains: [] };
  }
  const svcChain = serviceChainName(sp.key, sp.protocol);
  const services: Rule[] = [
    [
      '-d',
      `${sp.clusterIP}/32`,
      '-p',
      proto,
      ...comment(`${sp.key} cluster IP`),
      '-m',
      proto,
      '--dport',
      String(sp.port),
      '-j',
      svcChain,
    ],
  ];
  const nodePorts: Rule[] = [];
  if (sp.nodePort !== undefined) {
    const match = ['-p', proto, ...comment(sp.key), '-m', proto, '--dport', String(sp.nodePort)];
    nodePorts.push([...match, '-j', markMasqChain], [...match, '-j', svcChain]);
  }
  const chains: (readonly [string, readonly Rule[]])[] = [];
  const svcRules: Rule[] = [];
  const n = sp.endpoints.length;
  const sepChains = sp.endpoints.map((ep) => endpointChainName(sp.key, sp.protocol, `${ep.ip}:${ep.port}`));
  if (sp.affinity.kind === 'ClientIP') {
    const seconds = String(sp.affinity.timeoutSeconds);
    sp.endpoints.forEach((ep, i) => {
      const sep = sepChains[i]!;
      svcRules.push([
        ...comment(`${sp.key} -> ${ep.ip}:${ep.port}`),
        '-m',
        'recent',
        '--name',
        sep,
        '--rcheck',
        '--seconds',
        seconds,
        '--reap',
        '-j',
        sep,
      ]);
    });
  }
  sp.endpoints.forEach((ep, i) => {
    const sep = sepChains[i]!;
    const pick =
      i < n - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', endpointProbability(i, n)] : [];
    svcRules.push([...comment(`${sp.key} -> ${ep.ip}:${ep.port}`), ...pick, '-j', sep]);
    const affinity = sp.affinity.kind === 'ClientIP' ? ['-m', 'recent', '--name', sep, '--set'] : [];
    chains.push([
      sep,
      [
        ['-s', `${ep.ip}/32`, ...comment(sp.key), '-j', markMasqChain],
        [
          '-p',
          proto,
          ...comment(sp.key),
          ...affinity,
          '-j',
          'DNAT',
          '--to-destination',
          `${ep.ip}:${ep.port}`,
        ],
      ],
    ]);
  });
  chains.push([svcChain, svcRules]);
  return { services, nodePorts, rejects: [], chains };
}

/**
 * The whole rule set for the given ports (kube-proxy's iptables mode, in chains of ours):
 *
 * - nat FLOTILLA-SERVICES matches each cluster IP and port and jumps to that port's
 *   FLOTILLA-SVC chain; its last rule sends traffic to the node's own addresses to
 *   FLOTILLA-NODEPORTS, which marks it for masquerading (the reply must come back through
 *   this node) and jumps to the same FLOTILLA-SVC chain.
 * - FLOTILLA-SVC picks an endpoint with `-m statistic --mode random` (1/n, 1/(n-1), ...),
 *   after `-m recent` checks when the Service has ClientIP affinity.
 * - FLOTILLA-SEP DNATs to one endpoint, marking for masquerade only a packet from the
 *   endpoint itself (a pod reaching itself through its Service: hairpin).
 * - filter FLOTILLA-SERVICES rejects new connections to a port without endpoints, so
 *   clients fail at once instead of timing out.
 */
export function proxyRules(ports: readonly ProxyServicePort[]): ProxyRules {
  const nat = new Map<string, readonly Rule[]>();
  const filter = new Map<string, readonly Rule[]>();
  const services: Rule[] = [];
  const nodePorts: Rule[] = [];
  const rejects: Rule[] = [];
  for (const sp of ports) {
    const f = fragmentOf(sp);
    services.push(...f.services);
    nodePorts.push(...f.nodePorts);
    rejects.push(...f.rejects);
    for (const [chain, rules] of f.chains) nat.set(chain, rules);
  }
  services.push([
    ...comment('flotilla service nodeports - must be last'),
    '!',
    '-d',
    '127.0.0.0/8',
    '-m',
    'addrtype',
    '--dst-type',
    'LOCAL',
    '-j',
    nodePortsChain,
  ]);
  nat.set(servicesChain, services);
  nat.set(nodePortsChain, nodePorts);
  nat.set(markMasqChain, [['-j', 'MARK', '--or-mark', masqueradeMark]]);
  nat.set(postroutingChain, [
    ['-m', 'mark', '!', '--mark', `${masqueradeMark}/${masqueradeMark}`, '-j', 'RETURN'],
    // Clear the mark so a packet that is routed again (a tunnel, a second pass) is not masqueraded twice.
    ['-j', 'MARK', '--xor-mark', masqueradeMark],
    [...comment('flotilla service traffic requiring SNAT'), '-j', 'MASQUERADE'],
  ]);
  filter.set(servicesChain, rejects);
  return { nat, filter };
}

/**
 * A rule as an iptables-restore line (appended, or inserted at `position`): tokens with
 * spaces or quotes are double-quoted.
 */
export function renderRule(chain: string, rule: Rule, position?: number): string {
  const tokens = rule.map((t) => (/^[^\s"']+$/.test(t) ? t : `"${t.replace(/["\\]/g, '')}"`));
  const op = position === undefined ? `-A ${chain}` : `-I ${chain} ${position}`;
  return `${op} ${tokens.join(' ')}`;
}

/** The chain a rule jumps to (`-j X`), if any. */
export function jumpTarget(rule: Rule): string | undefined {
  const i = rule.lastIndexOf('-j');
  return i < 0 ? undefined : rule[i + 1];
}

/** How many rules a rule set holds (for logs and measurements). */
export function ruleCount(rules: ProxyRules): number {
  let n = 0;
  for (const table of proxyTables) for (const chain of rules[table].values()) n += chain.length;
  return n;
}
