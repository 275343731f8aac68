// The cluster DNS on loopback: real UDP and TCP sockets, in this process.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { silentLogger } from '@flotilla/actor';
import { afterEach, describe, expect, it } from 'vitest';
import { service, slice } from '../../test/net-fixtures.ts';
import type { ServiceObject } from '../net/service-catalog.ts';
import { queryDns, queryMessage } from './client.ts';
import { ClusterDns, type ClusterDnsOptions } from './dns-server.ts';
import { type DnsMessage, decodeMessage, encodeMessage, Rcode, RRType } from './wire.ts';

const started: ClusterDns[] = [];
afterEach(async () => {
  for (const dns of started.splice(0)) await dns.stop();
});

async function startDns(
  objects: readonly ServiceObject[],
  options: Partial<ClusterDnsOptions> = {},
): Promise<ClusterDns> {
  const dns = await ClusterDns.start({
    listen: { address: '127.0.0.1', port: 0 },
    logger: silentLogger(),
    ...options,
  });
  started.push(dns);
  for (const object of objects) dns.handle({ kind: 'added', object });
  dns.handle({ kind: 'synced' });
  return dns;
}

const web = service('default', 'web', '10.96.0.20', [{ name: 'http', port: 80 }]);
const many = Array.from({ length: 100 }, (_, i) => ({
  ip: `10.244.${Math.floor(i / 250)}.${(i % 250) + 1}`,
}));
const big = service('default', 'big', 'None', [{ name: 'http', port: 80 }]);
const bigSlice = slice('default', 'big', many, [{ name: 'http', port: 8080 }]);

const ask = (dns: ClusterDns, name: string, type: number, transport: 'udp' | 'tcp', edns?: number) =>
  queryDns({
    server: '127.0.0.1',
    port: dns.port,
    name,
    type,
    transport,
    ...(edns === undefined ? {} : { ednsUdpPayloadBytes: edns }),
  });

const addresses = (m: DnsMessage) =>
  m.answers.map((a) => (a.data.type === 'A' ? a.data.address : a.data.type));

/** Sends raw bytes over UDP and returns the answer, or undefined after `waitMs`. */
function rawUdp(port: number, bytes: Buffer, waitMs = 300): Promise<Buffer | undefined> {
  const socket = createSocket('udp4');
  return new Promise<Buffer | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), waitMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
    socket.send(bytes, port, '127.0.0.1');
  }).finally(() => socket.close());
}

describe('ClusterDns on loopback', () => {
  it('answers over UDP and TCP, authoritatively, with NXDOMAIN for unknown cluster names', async () => {
    const dns = await startDns([web]);
    for (const transport of ['udp', 'tcp'] as const) {
      const a = await ask(dns, 'web.default.svc.cluster.local', RRType.A, transport);
      expect([a.rcode, a.aa, addresses(a)]).toEqual([Rcode.NOERROR, true, ['10.96.0.20']]);
      const nx = await ask(dns, 'nope.default.svc.cluster.local', RRType.A, transport);
      expect([nx.rcode, nx.authorities[0]?.data.type]).toEqual([Rcode.NXDOMAIN, 'SOA']);
    }
  });

  it('refuses names outside the cluster domain when no upstream is configured', async () => {
    const dns = await startDns([]);
    const r = await ask(dns, 'example.com', RRType.A, 'udp');
    expect([r.rcode, r.ra]).toEqual([Rcode.REFUSED, false]);
  });

  it('truncates a UDP answer that does not fit and gives all of it over TCP', async () => {
    const dns = await startDns([big, bigSlice]);
    const classic = await ask(dns, 'big.default.svc.cluster.local', RRType.A, 'udp');
    expect([classic.tc, classic.answers.length]).toEqual([true, 0]);
    // EDNS offers 4096 but the server caps UDP answers at 1232 bytes: 100 records do not fit.
    const edns = await ask(dns, 'big.default.svc.cluster.local', RRType.A, 'udp', 4096);
    expect([edns.tc, edns.edns?.udpPayloadBytes]).toEqual([true, 1232]);
    const tcp = await ask(dns, 'big.default.svc.cluster.local', RRType.A, 'tcp');
    expect([tcp.tc, tcp.answers.length]).toEqual([false, 100]);
    // 40 records fit in 1232 bytes with EDNS, not in 512 without.
    const forty = service('default', 'forty', 'None', [{ name: 'http', port: 80 }]);
    dns.handle({ kind: 'added', object: forty });
    dns.handle({
      kind: 'added',
      object: slice('default', 'forty', many.slice(0, 40), [{ name: 'http', port: 80 }]),
    });
    expect((await ask(dns, 'forty.default.svc.cluster.local', RRType.A, 'udp')).tc).toBe(true);
    expect((await ask(dns, 'forty.default.svc.cluster.local', RRType.A, 'udp', 1232)).answers).toHaveLength(
      40,
    );
  });

  it('answers malformed and unsupported queries with the right error, and ignores what has no id', async () => {
    const dns = await startDns([web]);
    const ok = queryMessage({ name: 'web.default.svc.cluster.local', type: RRType.A }, 4242);
    const garbage = Buffer.concat([ok.subarray(0, 12), Buffer.from([0x7f, 0x61])]);
    expect(decodeMessage((await rawUdp(dns.port, garbage))!)).toMatchObject({
      id: 4242,
      rcode: Rcode.FORMERR,
    });
    expect(await rawUdp(dns.port, Buffer.from([1, 2, 3]))).toBeUndefined();
    const msg = decodeMessage(ok);
    const notify = encodeMessage({ ...msg, opcode: 4 });
    expect(decodeMessage((await rawUdp(dns.port, notify))!)).toMatchObject({
      opcode: 4,
      rcode: Rcode.NOTIMP,
    });
    const two = encodeMessage({ ...msg, questions: [msg.questions[0]!, msg.questions[0]!] });
    expect(decodeMessage((await rawUdp(dns.port, two))!).rcode).toBe(Rcode.FORMERR);
    const v1 = encodeMessage({
      ...msg,
      edns: { udpPayloadBytes: 1232, version: 1, dnssecOk: false, options: Buffer.alloc(0) },
    });
    expect(decodeMessage((await rawUdp(dns.port, v1))!).rcode).toBe(Rcode.BADVERS);
    // A response sent to the server is not answered (no reflection loops).
    expect(await rawUdp(dns.port, encodeMessage({ ...msg, qr: true }))).toBeUndefined();
  });

  it('answers pipelined TCP queries in order, beyond its per-connection bound, on one connection', async () => {
    // 60 queries in one write against a bound of 4 in flight: the connection pauses and resumes.
    const dns = await startDns([web, big, bigSlice], { maxTcpQueriesPerConnection: 4 });
    const names = [
      'web.default.svc.cluster.local',
      'big.default.svc.cluster.local',
      'x.default.svc.cluster.local',
    ];
    const count = 60;
    const frames = Array.from({ length: count }, (_, i) => {
      const q = queryMessage({ name: names[i % 3]!, type: RRType.A }, 100 + i);
      const f = Buffer.alloc(q.length + 2);
      f.writeUInt16BE(q.length, 0);
      q.copy(f, 2);
      return f;
    });
    const answers = await new Promise<DnsMessage[]>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: dns.port }, () =>
        socket.write(Buffer.concat(frames)),
      );
      let buf = Buffer.alloc(0);
      const out: DnsMessage[] = [];
      socket.on('error', reject);
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          out.push(decodeMessage(buf.subarray(2, 2 + buf.readUInt16BE(0))));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (out.length === count) {
          socket.destroy();
          resolve(out);
        }
      });
    });
    expect(answers.map((a) => a.id)).toEqual(Array.from({ length: count }, (_, i) => 100 + i));
    expect(answers.slice(0, 3).map((a) => [a.rcode, a.answers.length])).toEqual([
      [Rcode.NOERROR, 1],
      [Rcode.NOERROR, 100],
      [Rcode.NXDOMAIN, 0],
    ]);
  });

  it('closes TCP connections beyond its bound', async () => {
    const dns = await startDns([web], { maxTcpConnections: 2 });
    const open = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<ReturnType<typeof connect>>((resolve) => {
            const s = connect({ host: '127.0.0.1', port: dns.port }, () => resolve(s));
          }),
      ),
    );
    // Both served connections are counted before the third arrives.
    for (const s of open)
      expect(await new Promise<boolean>((r) => setTimeout(() => r(!s.destroyed), 50))).toBe(true);
    const closed = await new Promise<boolean>((resolve) => {
      const third = connect({ host: '127.0.0.1', port: dns.port });
      third.on('error', () => resolve(true));
      third.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 2_000);
    });
    expect(closed).toBe(true);
    for (const s of open) s.destroy();
  });

  it('forwards other names to the upstream over the client’s transport, and serves repeats from its cache', async () => {
    // The upstream is another instance, authoritative for its own domain.
    const upstream = await startDns([service('default', 'www', '192.0.2.80', [{ port: 80 }])], {
      domain: 'example.test',
    });
    const dns = await startDns([web], { upstream: { address: '127.0.0.1', port: upstream.port } });
    for (const transport of ['udp', 'tcp'] as const) {
      const r = await ask(dns, 'WWW.default.svc.example.test', RRType.A, transport);
      expect([r.rcode, r.ra, r.aa, addresses(r), r.questions[0]!.name]).toEqual([
        Rcode.NOERROR,
        true,
        true, // the upstream's own flags pass through
        ['192.0.2.80'],
        'WWW.default.svc.example.test',
      ]);
    }
    const nx = await ask(dns, 'nope.default.svc.example.test', RRType.A, 'udp');
    expect(nx.rcode).toBe(Rcode.NXDOMAIN);
    await upstream.stop();
    // Still answered (from the cache, TTL 5 s), with the new asker's spelling.
    const cached = await ask(dns, 'www.DEFAULT.svc.example.test', RRType.A, 'udp');
    expect([addresses(cached), cached.questions[0]!.name]).toEqual([
      ['192.0.2.80'],
      'www.DEFAULT.svc.example.test',
    ]);
    expect((await ask(dns, 'nope.default.svc.example.test', RRType.A, 'udp')).rcode).toBe(Rcode.NXDOMAIN);
  });

  it('answers SERVFAIL when the upstream does not answer in time', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    try {
      const dns = await startDns([], {
        upstream: { address: '127.0.0.1', port: silent.address().port },
        forwardTimeoutMs: 200,
      });
      const r = await ask(dns, 'example.com', RRType.A, 'udp');
      expect(r.rcode).toBe(Rcode.SERVFAIL);
    } finally {
      silent.close();
    }
  });

  it('answers byte for byte alike from two replicas fed the same events in different orders', async () => {
    const objects = [
      web,
      big,
      bigSlice,
      service('prod', 'db', 'None', [{ name: 'pg', port: 5432 }]),
      slice('prod', 'db', many.slice(0, 3), [{ name: 'pg', port: 5432 }]),
    ];
    const a = await startDns(objects);
    const b = await startDns([...objects].reverse());
    const questions: [string, number][] = [
      ['web.default.svc.cluster.local', RRType.A],
      ['big.default.svc.cluster.local', RRType.A],
      ['_pg._tcp.db.prod.svc.cluster.local', RRType.SRV],
      ['10-1-2-3.prod.pod.cluster.local', RRType.A],
      ['nothing.prod.svc.cluster.local', RRType.A],
    ];
    for (const [name, type] of questions) {
      const q = queryMessage({ name, type, ednsUdpPayloadBytes: 1232 }, 77);
      expect(await a.answer(q, 'udp'), name).toEqual(await b.answer(q, 'udp'));
    }
  });
});
