/**
 * The cluster domain's records, from the Services and their endpoints, following the
 * Kubernetes DNS-Based Service Discovery specification:
 * https://github.com/kubernetes/dns/blob/master/docs/specification.md
 *
 * Pure: no sockets, no clock. The index is updated one Service at a time, so an
 * endpoint change costs the size of that Service, not of the cluster.
 */
import { formatIP, parseIP } from '@flotilla/api';
import { compareIPs, type ServiceView } from '../net/service-catalog.ts';
import {
  canonicalName,
  type Question,
  Rcode,
  type RecordData,
  type ResourceRecord,
  RRClass,
  RRType,
} from './wire.ts';

/** The schema version this zone implements, served at `dns-version.<domain>` (TXT). */
export const dnsSchemaVersion = '1.1.0';
/** How long clients may keep a cluster answer (CoreDNS' default for its kubernetes plugin). */
export const defaultRecordTtlSeconds = 5;

export type ClusterZoneOptions = {
  /** The cluster domain, e.g. `cluster.local`. */
  readonly domain: string;
  readonly ttlSeconds: number;
};

/** The zone's verdict on one question. */
export type ZoneAnswer =
  /** Not a name of this zone: forward it, or refuse. */
  | { readonly kind: 'outside' }
  | {
      readonly kind: 'answer';
      readonly rcode: typeof Rcode.NOERROR | typeof Rcode.NXDOMAIN;
      readonly answers: readonly ResourceRecord[];
      readonly authorities: readonly ResourceRecord[];
      readonly additionals: readonly ResourceRecord[];
    };

type SrvTarget = {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
};

/** What one owner name holds. A name with nothing at all still exists (NODATA, not NXDOMAIN). */
type NameEntry = {
  readonly a: readonly string[];
  readonly srv: readonly SrvTarget[];
  readonly cname: string | undefined;
};

const emptyEntry: NameEntry = { a: [], srv: [], cname: undefined };

/** `10.244.1.5` → `10-244-1-5`: the system-assigned hostname of an endpoint without one. */
export function dashedIP(ip: string): string {
  return ip.replaceAll('.', '-');
}

/** `10.96.0.10` → `10.0.96.10.in-addr.arpa`. */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

export class ClusterZone {
  readonly domain: string;
  private readonly ttl: number;
  /** Owner name (canonical) → records; every name a Service provides. */
  private readonly names = new Map<string, NameEntry>();
  /** Which names each Service put in `names`, to take them out again. */
  private readonly namesByService = new Map<string, readonly string[]>();
  /** in-addr.arpa name → Service key → PTR targets. A pod IP can sit in several headless Services. */
  private readonly ptr = new Map<string, Map<string, readonly string[]>>();
  private readonly ptrByService = new Map<string, readonly string[]>();
  /** Namespace → how many Services it has: `<ns>.svc.<domain>` exists while it has one. */
  private readonly namespaces = new Map<string, number>();
  private readonly serviceNamespace = new Map<string, string>();

  constructor(options: ClusterZoneOptions) {
    this.domain = canonicalName(options.domain);
    this.ttl = options.ttlSeconds;
  }

  /** Replaces what the Service `key` (`namespace/name`) provides; `undefined` removes it. */
  updateService(key: string, view: ServiceView | undefined): void {
    this.removeService(key);
    if (view === undefined) return;
    const ns = view.namespace.toLowerCase();
    this.namespaces.set(ns, (this.namespaces.get(ns) ?? 0) + 1);
    const entries = new Map<string, NameEntry>();
    const ptrs = new Map<string, string[]>();
    const svcName = `${view.name}.${view.namespace}.svc.${this.domain}`.toLowerCase();
    const put = (name: string, entry: Partial<NameEntry>) => {
      const before = entries.get(name) ?? emptyEntry;
      entries.set(name, {
        a: [...before.a, ...(entry.a ?? [])],
        srv: [...before.srv, ...(entry.srv ?? [])],
        cname: entry.cname ?? before.cname,
      });
    };
    const addPtr = (ip: string, target: string) => {
      const name = reverseName(ip);
      ptrs.set(name, [...(ptrs.get(name) ?? []), target]);
    };
    // Every SRV owner `_port._proto.<svc>` has the empty non-terminal `_proto.<svc>` above it.
    const srvName = (port: string, protocol: string) => {
      const proto = `_${protocol.toLowerCase()}.${svcName}`;
      if (!entries.has(proto)) put(proto, {});
      return `_${port.toLowerCase()}.${proto}`;
    };
    const address = view.address;
    switch (address.kind) {
      case 'clusterIP': {
        put(svcName, { a: [address.ip] });
        addPtr(address.ip, svcName);
        for (const port of view.ports) {
          if (port.name === '') continue;
          put(srvName(port.name, port.protocol), {
            srv: [{ priority: 0, weight: 100, port: port.port, target: svcName }],
          });
        }
        break;
      }
      case 'headless': {
        const usable = view.endpoints.filter((e) => e.ready || view.publishNotReadyAddresses);
        // No ready endpoint: the name does not exist (specification §2.4.1).
        if (usable.length === 0) break;
        const ips = [...new Set(usable.map((e) => e.ip))].sort(compareIPs);
        put(svcName, { a: ips });
        const hostOf = (e: (typeof usable)[number]) =>
          `${(e.hostname ?? dashedIP(e.ip)).toLowerCase()}.${svcName}`;
        for (const e of usable) {
          const host = hostOf(e);
          if (!(entries.get(host)?.a ?? []).includes(e.ip)) put(host, { a: [e.ip] });
          if (!(ptrs.get(reverseName(e.ip)) ?? []).includes(host)) addPtr(e.ip, host);
        }
        for (const port of view.ports) {
          if (port.name === '') continue;
          const targets = new Map<string, SrvTarget>();
          for (const e of usable) {
            const epPort = e.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
            if (epPort === undefined) continue;
            const target = hostOf(e);
            targets.set(`${target}:${epPort.port}`, { priority: 0, weight: 0, port: epPort.port, target });
          }
          if (targets.size === 0) continue;
          // Equal shares of 100, as CoreDNS gives them (RFC 2782 weights are relative).
          const weight = Math.max(1, Math.floor(100 / targets.size));
          const srv = [...targets.values()]
            .sort((x, y) => x.target.localeCompare(y.target) || x.port - y.port)
            .map((t) => ({ ...t, weight }));
          put(srvName(port.name, port.protocol), { srv });
        }
        break;
      }
      case 'externalName':
        put(svcName, address.name === '' ? {} : { cname: canonicalName(address.name) });
        break;
      case 'unallocated':
        put(svcName, {});
        break;
    }
    for (const [name, entry] of entries) this.names.set(name, entry);
    this.namesByService.set(key, [...entries.keys()]);
    for (const [name, targets] of ptrs) {
      let byService = this.ptr.get(name);
      if (byService === undefined) {
        byService = new Map();
        this.ptr.set(name, byService);
      }
      byService.set(key, targets);
    }
    this.ptrByService.set(key, [...ptrs.keys()]);
    this.serviceNamespace.set(key, ns);
  }

  private removeService(key: string): void {
    for (const name of this.namesByService.get(key) ?? []) this.names.delete(name);
    this.namesByService.delete(key);
    for (const name of this.ptrByService.get(key) ?? []) {
      const byService = this.ptr.get(name);
      byService?.delete(key);
      if (byService?.size === 0) this.ptr.delete(name);
    }
    this.ptrByService.delete(key);
    const ns = this.serviceNamespace.get(key);
    if (ns !== undefined) {
      const left = (this.namespaces.get(ns) ?? 1) - 1;
      if (left === 0) this.namespaces.delete(ns);
      else this.namespaces.set(ns, left);
      this.serviceNamespace.delete(key);
    }
  }

  /** The zone's answer to one question; the question's own spelling is kept as the owner name. */
  answer(q: Question): ZoneAnswer {
    const qname = canonicalName(q.name);
    if (q.class !== RRClass.IN && q.class !== RRClass.ANY) return { kind: 'outside' };
    if (qname.endsWith('.in-addr.arpa')) return this.answerPtr(q, qname);
    if (qname !== this.domain && !qname.endsWith(`.${this.domain}`)) return { kind: 'outside' };
    const owner = q.name.endsWith('.') ? q.name.slice(0, -1) : q.name;
    const relative = qname === this.domain ? '' : qname.slice(0, -(this.domain.length + 1));
    const labels = relative === '' ? [] : relative.split('.');
    if (labels.length === 0) return this.answerApex(q, owner);
    if (relative === 'dns-version') {
      return this.records(q, owner, [{ type: 'TXT', texts: [dnsSchemaVersion] }], RRType.TXT);
    }
    if (relative === 'svc' || relative === 'pod') return this.noData();
    if (labels.length === 2 && labels[1] === 'svc') {
      return this.namespaces.has(labels[0]!) ? this.noData() : this.nxDomain();
    }
    if (labels.length === 3 && labels[2] === 'pod') return this.answerPod(q, owner, labels[0]!);
    const entry = this.names.get(qname);
    if (entry === undefined) return this.nxDomain();
    return this.answerEntry(q, owner, entry);
  }

  private answerEntry(q: Question, owner: string, entry: NameEntry): ZoneAnswer {
    const any = q.type === RRType.ANY;
    if (entry.cname !== undefined && q.type !== RRType.CNAME) {
      // The CNAME answers every type; the client resolves its target (specification §2.5).
      return this.records(q, owner, [{ type: 'CNAME', target: entry.cname }], q.type);
    }
    const data: RecordData[] = [];
    if (entry.cname !== undefined) data.push({ type: 'CNAME', target: entry.cname });
    if (q.type === RRType.A || any) for (const address of entry.a) data.push({ type: 'A', address });
    if (q.type === RRType.SRV || any) for (const s of entry.srv) data.push({ type: 'SRV', ...s });
    if (data.length === 0) return this.noData();
    const additionals: ResourceRecord[] = [];
    const seen = new Set<string>();
    for (const d of data) {
      if (d.type !== 'SRV' || seen.has(d.target)) continue;
      seen.add(d.target);
      for (const address of this.names.get(d.target)?.a ?? []) {
        additionals.push({ name: d.target, class: RRClass.IN, ttl: this.ttl, data: { type: 'A', address } });
      }
    }
    return {
      kind: 'answer',
      rcode: Rcode.NOERROR,
      answers: data.map((d) => ({ name: owner, class: RRClass.IN, ttl: this.ttl, data: d })),
      authorities: [],
      additionals,
    };
  }

  private answerPod(q: Question, owner: string, label: string): ZoneAnswer {
    // `a-b-c-d.<ns>.pod.<domain>` for any well-formed address (the specification's
    // deprecated record, CoreDNS' "pods insecure").
    const ip = label.replaceAll('-', '.');
    if (!/^[0-9]+(-[0-9]+){3}$/.test(label) || parseIP(ip)?.family !== 'IPv4') return this.nxDomain();
    const address = formatIP(parseIP(ip)!);
    return this.records(q, owner, [{ type: 'A', address }], RRType.A);
  }

  private answerPtr(q: Question, qname: string): ZoneAnswer {
    const byService = this.ptr.get(qname);
    if (byService === undefined) return { kind: 'outside' };
    const owner = q.name.endsWith('.') ? q.name.slice(0, -1) : q.name;
    const targets = [...new Set([...byService.values()].flat())].sort();
    return this.records(
      q,
      owner,
      targets.map((target) => ({ type: 'PTR', target })),
      RRType.PTR,
    );
  }

  private answerApex(q: Question, owner: string): ZoneAnswer {
    if (q.type === RRType.SOA || q.type === RRType.ANY) return this.records(q, owner, [this.soa()], q.type);
    if (q.type === RRType.NS) {
      return this.records(q, owner, [{ type: 'NS', target: `ns.dns.${this.domain}` }], RRType.NS);
    }
    return this.noData();
  }

  /** The records when the question asks for their type (or ANY), NODATA otherwise. */
  private records(q: Question, owner: string, data: readonly RecordData[], type: number): ZoneAnswer {
    if (q.type !== type && q.type !== RRType.ANY) return this.noData();
    return {
      kind: 'answer',
      rcode: Rcode.NOERROR,
      answers: data.map((d) => ({ name: owner, class: RRClass.IN, ttl: this.ttl, data: d })),
      authorities: [],
      additionals: [],
    };
  }

  private soa(): RecordData {
    // One fixed serial: replicas must answer alike, and nobody transfers this zone.
    return {
      type: 'SOA',
      mname: `ns.dns.${this.domain}`,
      rname: `hostmaster.${this.domain}`,
      serial: 1,
      refresh: 7200,
      retry: 1800,
      expire: 86_400,
      minimum: this.ttl,
    };
  }

  /** A negative answer carries the zone's SOA, whose minimum is how long to cache it (RFC 2308). */
  private negative(rcode: typeof Rcode.NOERROR | typeof Rcode.NXDOMAIN): ZoneAnswer {
    return {
      kind: 'answer',
      rcode,
      answers: [],
      authorities: [{ name: this.domain, class: RRClass.IN, ttl: this.ttl, data: this.soa() }],
      additionals: [],
    };
  }

  private noData(): ZoneAnswer {
    return this.negative(Rcode.NOERROR);
  }

  private nxDomain(): ZoneAnswer {
    return this.negative(Rcode.NXDOMAIN);
  }
}
