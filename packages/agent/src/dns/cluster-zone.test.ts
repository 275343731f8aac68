import { describe, expect, it } from 'vitest';
import { service, slice } from '../../test/net-fixtures.ts';
import { ServiceCatalog, type ServiceObject } from '../net/service-catalog.ts';
import { ClusterZone, type ZoneAnswer } from './cluster-zone.ts';
import { Rcode, RRClass, RRType } from './wire.ts';

function zoneWith(...objects: ServiceObject[]): { zone: ClusterZone; catalog: ServiceCatalog } {
  const catalog = new ServiceCatalog();
  const zone = new ClusterZone({ domain: 'cluster.local', ttlSeconds: 5 });
  for (const object of objects) {
    for (const key of catalog.apply({ kind: 'added', object })) zone.updateService(key, catalog.view(key));
  }
  return { zone, catalog };
}

const ask = (zone: ClusterZone, name: string, type: number = RRType.A): ZoneAnswer =>
  zone.answer({ name, type, class: RRClass.IN });

/** The answer's rcode and records in presentation form, for compact expectations. */
function show(
  a: ZoneAnswer,
): { rcode?: number; answers?: string[]; additionals?: string[]; soa?: boolean } | 'outside' {
  if (a.kind === 'outside') return 'outside';
  const text = (rr: { name: string; data: Record<string, unknown> }) => {
    const { type, ...rest } = rr.data;
    return `${rr.name} ${String(type)} ${Object.values(rest).join(' ')}`;
  };
  return {
    rcode: a.rcode,
    answers: a.answers.map(text),
    additionals: a.additionals.map(text),
    soa: a.authorities.some((r) => r.data.type === 'SOA'),
  };
}

const web = service('default', 'web', '10.96.0.20', [
  { name: 'http', port: 80 },
  { name: 'dns', port: 53, protocol: 'UDP' },
  { port: 9000 },
]);
const webSlice = slice(
  'default',
  'web',
  [{ ip: '10.244.1.5' }, { ip: '10.244.2.5' }],
  [
    { name: 'http', port: 8080 },
    { name: 'dns', port: 5353, protocol: 'UDP' },
  ],
);
const db = service('prod', 'db', 'None', [{ name: 'pg', port: 5432 }]);
const dbSlice = slice(
  'prod',
  'db',
  [
    { ip: '10.244.2.7', hostname: 'db-0' },
    { ip: '10.244.1.7' },
    { ip: '10.244.1.8', ready: false, hostname: 'db-2' },
  ],
  [{ name: 'pg', port: 5433 }],
);

describe('ClusterZone', () => {
  it('answers a ClusterIP Service with its cluster IP, case-insensitively, keeping the asker spelling', () => {
    const { zone } = zoneWith(web, webSlice);
    expect(show(ask(zone, 'Web.Default.svc.cluster.local.'))).toEqual({
      rcode: Rcode.NOERROR,
      answers: ['Web.Default.svc.cluster.local A 10.96.0.20'],
      additionals: [],
      soa: false,
    });
  });

  it('answers SRV for named ports only, with the Service as target and its A record as additional', () => {
    const { zone } = zoneWith(web, webSlice);
    expect(show(ask(zone, '_http._tcp.web.default.svc.cluster.local', RRType.SRV))).toMatchObject({
      rcode: Rcode.NOERROR,
      answers: ['_http._tcp.web.default.svc.cluster.local SRV 0 100 80 web.default.svc.cluster.local'],
      additionals: ['web.default.svc.cluster.local A 10.96.0.20'],
    });
    expect(show(ask(zone, '_dns._udp.web.default.svc.cluster.local', RRType.SRV))).toMatchObject({
      answers: ['_dns._udp.web.default.svc.cluster.local SRV 0 100 53 web.default.svc.cluster.local'],
    });
    // Wrong protocol, unknown port: no such name. The `_tcp` level exists but holds nothing.
    expect(show(ask(zone, '_dns._tcp.web.default.svc.cluster.local', RRType.SRV))).toMatchObject({
      rcode: Rcode.NXDOMAIN,
      soa: true,
    });
    expect(show(ask(zone, '_tcp.web.default.svc.cluster.local', RRType.SRV))).toMatchObject({
      rcode: Rcode.NOERROR,
      answers: [],
      soa: true,
    });
  });

  it('answers a headless Service with its ready endpoints, and each endpoint by hostname', () => {
    const { zone } = zoneWith(db, dbSlice);
    expect(show(ask(zone, 'db.prod.svc.cluster.local'))).toMatchObject({
      rcode: Rcode.NOERROR,
      answers: ['db.prod.svc.cluster.local A 10.244.1.7', 'db.prod.svc.cluster.local A 10.244.2.7'],
    });
    expect(show(ask(zone, 'db-0.db.prod.svc.cluster.local'))).toMatchObject({
      answers: ['db-0.db.prod.svc.cluster.local A 10.244.2.7'],
    });
    // Without a hostname, the endpoint is named by its dashed address.
    expect(show(ask(zone, '10-244-1-7.db.prod.svc.cluster.local'))).toMatchObject({
      answers: ['10-244-1-7.db.prod.svc.cluster.local A 10.244.1.7'],
    });
    // The not-ready endpoint has no name.
    expect(show(ask(zone, 'db-2.db.prod.svc.cluster.local'))).toMatchObject({ rcode: Rcode.NXDOMAIN });
    expect(show(ask(zone, '_pg._tcp.db.prod.svc.cluster.local', RRType.SRV))).toEqual({
      rcode: Rcode.NOERROR,
      answers: [
        '_pg._tcp.db.prod.svc.cluster.local SRV 0 50 5433 10-244-1-7.db.prod.svc.cluster.local',
        '_pg._tcp.db.prod.svc.cluster.local SRV 0 50 5433 db-0.db.prod.svc.cluster.local',
      ],
      additionals: [
        '10-244-1-7.db.prod.svc.cluster.local A 10.244.1.7',
        'db-0.db.prod.svc.cluster.local A 10.244.2.7',
      ],
      soa: false,
    });
  });

  it('gives NXDOMAIN for a headless Service without ready endpoints, all of them with publishNotReadyAddresses', () => {
    const none = slice('prod', 'db', [{ ip: '10.244.1.8', ready: false }], [{ name: 'pg', port: 5432 }]);
    expect(show(ask(zoneWith(db, none).zone, 'db.prod.svc.cluster.local'))).toMatchObject({
      rcode: Rcode.NXDOMAIN,
    });
    const publish = service('prod', 'db', 'None', [{ name: 'pg', port: 5432 }], {
      publishNotReadyAddresses: true,
    });
    expect(show(ask(zoneWith(publish, none).zone, 'db.prod.svc.cluster.local'))).toMatchObject({
      answers: ['db.prod.svc.cluster.local A 10.244.1.8'],
    });
  });

  it('answers pod records for any well-formed address, and refuses malformed ones', () => {
    const { zone } = zoneWith();
    expect(show(ask(zone, '10-244-1-5.default.pod.cluster.local'))).toMatchObject({
      answers: ['10-244-1-5.default.pod.cluster.local A 10.244.1.5'],
    });
    expect(show(ask(zone, '10-244-1-5.default.pod.cluster.local', RRType.AAAA))).toMatchObject({
      rcode: Rcode.NOERROR,
      answers: [],
    });
    expect(show(ask(zone, '10-244-1-256.default.pod.cluster.local'))).toMatchObject({
      rcode: Rcode.NXDOMAIN,
    });
    expect(show(ask(zone, '10-244-1.default.pod.cluster.local'))).toMatchObject({ rcode: Rcode.NXDOMAIN });
  });

  it('separates NODATA (the name exists) from NXDOMAIN, with the SOA for negative caching', () => {
    const { zone } = zoneWith(web);
    expect(show(ask(zone, 'web.default.svc.cluster.local', RRType.AAAA))).toMatchObject({
      rcode: Rcode.NOERROR,
      answers: [],
      soa: true,
    });
    for (const name of [
      'cluster.local',
      'svc.cluster.local',
      'default.svc.cluster.local',
      'pod.cluster.local',
    ]) {
      expect(show(ask(zone, name)), name).toMatchObject({ rcode: Rcode.NOERROR, answers: [] });
    }
    for (const name of ['nope.default.svc.cluster.local', 'other.svc.cluster.local', 'x.cluster.local']) {
      expect(show(ask(zone, name)), name).toMatchObject({ rcode: Rcode.NXDOMAIN, answers: [], soa: true });
    }
  });

  it('leaves names outside the domain (and unknown reverse names) to the caller', () => {
    const { zone } = zoneWith(web);
    expect(ask(zone, 'example.com')).toEqual({ kind: 'outside' });
    expect(ask(zone, 'cluster.local.example.com')).toEqual({ kind: 'outside' });
    expect(ask(zone, '1.1.168.192.in-addr.arpa', RRType.PTR)).toEqual({ kind: 'outside' });
  });

  it('answers PTR for cluster IPs and headless endpoints', () => {
    const { zone } = zoneWith(web, db, dbSlice);
    expect(show(ask(zone, '20.0.96.10.in-addr.arpa', RRType.PTR))).toMatchObject({
      answers: ['20.0.96.10.in-addr.arpa PTR web.default.svc.cluster.local'],
    });
    expect(show(ask(zone, '7.2.244.10.in-addr.arpa', RRType.PTR))).toMatchObject({
      answers: ['7.2.244.10.in-addr.arpa PTR db-0.db.prod.svc.cluster.local'],
    });
  });

  it('answers ExternalName Services with a CNAME, whatever the type asked', () => {
    const { zone } = zoneWith(
      service('default', 'ext', '', [], { type: 'ExternalName', externalName: 'www.Example.com' }),
    );
    expect(show(ask(zone, 'ext.default.svc.cluster.local', RRType.AAAA))).toMatchObject({
      answers: ['ext.default.svc.cluster.local CNAME www.example.com'],
    });
  });

  it('serves the schema version and the apex SOA', () => {
    const { zone } = zoneWith();
    expect(show(ask(zone, 'dns-version.cluster.local', RRType.TXT))).toMatchObject({
      answers: ['dns-version.cluster.local TXT 1.1.0'],
    });
    expect(show(ask(zone, 'cluster.local', RRType.SOA))).toMatchObject({
      answers: ['cluster.local SOA ns.dns.cluster.local hostmaster.cluster.local 1 7200 1800 86400 5'],
    });
  });

  it('forgets everything of a Service when it goes, and a namespace when its last Service goes', () => {
    const { zone, catalog } = zoneWith(web, webSlice, db, dbSlice);
    for (const object of [web, db]) {
      for (const key of catalog.apply({ kind: 'deleted', object }))
        zone.updateService(key, catalog.view(key));
    }
    for (const [name, type] of [
      ['web.default.svc.cluster.local', RRType.A],
      ['_http._tcp.web.default.svc.cluster.local', RRType.SRV],
      ['db-0.db.prod.svc.cluster.local', RRType.A],
      ['default.svc.cluster.local', RRType.A],
    ] as const) {
      expect(show(ask(zone, name, type)), name).toMatchObject({ rcode: Rcode.NXDOMAIN });
    }
    expect(ask(zone, '20.0.96.10.in-addr.arpa', RRType.PTR)).toEqual({ kind: 'outside' });
  });
});
