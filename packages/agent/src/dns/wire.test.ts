import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DnsEncodeError,
  DnsFormatError,
  type DnsMessage,
  decodeMessage,
  encodeMessage,
  encodeWithin,
  nameToLabels,
  Rcode,
  type RecordData,
  RRClass,
  RRType,
  recordTtlOffsets,
} from './wire.ts';

const base: DnsMessage = {
  id: 0x1234,
  qr: true,
  opcode: 0,
  aa: true,
  tc: false,
  rd: true,
  ra: false,
  ad: false,
  cd: false,
  rcode: Rcode.NOERROR,
  questions: [{ name: 'web.default.svc.cluster.local', type: RRType.A, class: RRClass.IN }],
  answers: [],
  authorities: [],
  additionals: [],
  edns: undefined,
};

const rr = (name: string, data: RecordData, ttl = 5) => ({ name, class: RRClass.IN, ttl, data });

describe('DNS wire format', () => {
  it('writes the header and question exactly as RFC 1035 lays them out', () => {
    const query: DnsMessage = {
      ...base,
      qr: false,
      aa: false,
      questions: [{ name: 'a.bc', type: RRType.SRV, class: RRClass.IN }],
    };
    expect(encodeMessage(query).toString('hex')).toBe(
      [
        '1234', // id
        '0100', // RD
        '0001',
        '0000',
        '0000',
        '0000',
        '0161',
        '026263',
        '00', // a . bc . root
        '0021',
        '0001', // SRV IN
      ].join(''),
    );
  });

  it('round-trips every record type it knows, and keeps unknown ones as raw data', () => {
    const msg: DnsMessage = {
      ...base,
      answers: [
        rr('web.default.svc.cluster.local', { type: 'A', address: '10.96.0.10' }),
        rr('web.default.svc.cluster.local', { type: 'AAAA', address: 'fd00::1:2' }),
        rr('alias.default.svc.cluster.local', { type: 'CNAME', target: 'www.example.com' }),
        rr('10.0.96.10.in-addr.arpa', { type: 'PTR', target: 'web.default.svc.cluster.local' }),
        rr('_http._tcp.web.default.svc.cluster.local', {
          type: 'SRV',
          priority: 0,
          weight: 100,
          port: 80,
          target: 'web.default.svc.cluster.local',
        }),
        rr('dns-version.cluster.local', { type: 'TXT', texts: ['1.1.0', ''] }),
        rr('x.cluster.local', { type: 'raw', rrtype: 99, data: Buffer.from([1, 2, 3]) }),
      ],
      authorities: [
        rr('cluster.local', {
          type: 'SOA',
          mname: 'ns.dns.cluster.local',
          rname: 'hostmaster.cluster.local',
          serial: 1,
          refresh: 7200,
          retry: 1800,
          expire: 86400,
          minimum: 5,
        }),
        rr('cluster.local', { type: 'NS', target: 'ns.dns.cluster.local' }),
      ],
      additionals: [rr('web.default.svc.cluster.local', { type: 'A', address: '10.96.0.10' })],
      edns: { udpPayloadBytes: 1232, version: 0, dnssecOk: true, options: Buffer.from('000a0000', 'hex') },
    };
    expect(decodeMessage(encodeMessage(msg))).toEqual(msg);
  });

  it('compresses repeated names with pointers to their first copy', () => {
    const answers = Array.from({ length: 10 }, (_, i) =>
      rr('web.default.svc.cluster.local', { type: 'A', address: `10.0.0.${i + 1}` }),
    );
    const buf = encodeMessage({ ...base, answers });
    // Header 12 + question 31+4 + 10 answers of (pointer 2 + 10 fixed + 4 data).
    expect(buf.length).toBe(12 + 35 + 10 * 16);
    expect(decodeMessage(buf).answers).toEqual(answers);
  });

  it('carries extended response codes in the OPT record', () => {
    const msg: DnsMessage = {
      ...base,
      rcode: Rcode.BADVERS,
      questions: [],
      edns: { udpPayloadBytes: 1232, version: 0, dnssecOk: false, options: Buffer.alloc(0) },
    };
    const buf = encodeMessage(msg);
    expect(buf.readUInt16BE(2) & 0xf).toBe(0);
    expect(decodeMessage(buf).rcode).toBe(Rcode.BADVERS);
    expect(() => encodeMessage({ ...msg, edns: undefined })).toThrow(DnsEncodeError);
  });

  it('escapes label bytes that are not plain characters, and reads them back', () => {
    expect(nameToLabels('a\\.b.c')).toEqual([Buffer.from('a.b'), Buffer.from('c')]);
    expect(nameToLabels('\\000x.y.')).toEqual([Buffer.from([0, 0x78]), Buffer.from('y')]);
    const msg = {
      ...base,
      questions: [{ name: 'we\\.ird\\032name.\\\\x', type: RRType.A, class: RRClass.IN }],
    };
    expect(decodeMessage(encodeMessage(msg)).questions[0]!.name).toBe('we\\.ird\\032name.\\\\x');
  });

  it('refuses names it cannot write', () => {
    expect(() => nameToLabels(`${'a'.repeat(64)}.com`)).toThrow(DnsEncodeError);
    expect(() => nameToLabels(Array.from({ length: 5 }, () => 'a'.repeat(63)).join('.'))).toThrow(
      DnsEncodeError,
    );
    expect(() => nameToLabels('a..b')).toThrow(DnsEncodeError);
  });

  it('rejects malformed messages with a format error, never a crash', () => {
    const good = encodeMessage({
      ...base,
      answers: [rr('web.default.svc.cluster.local', { type: 'A', address: '1.2.3.4' })],
    });
    const bad: Buffer[] = [
      good.subarray(0, 11), // short header
      good.subarray(0, good.length - 1), // cut inside the last record
      Buffer.concat([good, Buffer.from([0])]), // trailing byte
    ];
    // A pointer to itself: a loop.
    const loop = Buffer.from(encodeMessage({ ...base, questions: [] }));
    loop.writeUInt16BE(1, 4);
    bad.push(Buffer.concat([loop, Buffer.from([0xc0, 12, 0, 1, 0, 1])]));
    // A pointer forward, past its own position.
    bad.push(Buffer.concat([loop, Buffer.from([0xc0, 40, 0, 1, 0, 1])]));
    // A label of the reserved 0x40 type.
    bad.push(Buffer.concat([loop, Buffer.from([0x41, 0x61, 0, 0, 1, 0, 1])]));
    // An A record whose data is 3 bytes.
    const short = Buffer.from(good);
    short.writeUInt16BE(3, good.length - 6);
    bad.push(short.subarray(0, good.length - 1));
    for (const b of bad) expect(() => decodeMessage(b), b.toString('hex')).toThrow(DnsFormatError);
  });

  it('never throws anything but a format error on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (bytes) => {
        try {
          decodeMessage(Buffer.from(bytes));
        } catch (err) {
          if (!(err instanceof DnsFormatError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips random messages', () => {
    const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/);
    const name = fc.array(label, { minLength: 0, maxLength: 5 }).map((ls) => ls.join('.'));
    const data: fc.Arbitrary<RecordData> = fc.oneof(
      fc.ipV4().map((address) => ({ type: 'A' as const, address })),
      name.map((target) => ({ type: 'CNAME' as const, target })),
      fc
        .record({ priority: fc.nat(65535), weight: fc.nat(65535), port: fc.nat(65535), target: name })
        .map((s) => ({ type: 'SRV' as const, ...s })),
      fc
        .array(fc.stringMatching(/^[ -~]{0,40}$/), { maxLength: 3 })
        .map((texts) => ({ type: 'TXT' as const, texts })),
    );
    const record = fc.record({ name, class: fc.constant(RRClass.IN), ttl: fc.nat(), data });
    fc.assert(
      fc.property(
        fc.record({ id: fc.nat(65535), answers: fc.array(record, { maxLength: 6 }), qname: name }),
        ({ id, answers, qname }) => {
          const msg: DnsMessage = { ...base, id, answers, questions: [{ name: qname, type: 1, class: 1 }] };
          expect(decodeMessage(encodeMessage(msg))).toEqual(msg);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('truncates to the header and question with TC when the answer does not fit', () => {
    const answers = Array.from({ length: 60 }, (_, i) =>
      rr('db.default.svc.cluster.local', { type: 'A', address: `10.244.0.${i + 1}` }),
    );
    const msg = { ...base, answers };
    expect(encodeMessage(msg).length).toBeGreaterThan(512);
    const cut = decodeMessage(encodeWithin(msg, 512));
    expect(cut.tc).toBe(true);
    expect(cut.answers).toEqual([]);
    expect(cut.questions).toEqual(msg.questions);
    expect(decodeMessage(encodeWithin(msg, 65535)).answers).toHaveLength(60);
  });

  it('finds the TTL field of every record but OPT', () => {
    const msg: DnsMessage = {
      ...base,
      answers: [
        rr('a.b', { type: 'A', address: '1.2.3.4' }, 100),
        rr('a.b', { type: 'A', address: '1.2.3.5' }, 200),
      ],
      edns: { udpPayloadBytes: 1232, version: 0, dnssecOk: false, options: Buffer.alloc(0) },
    };
    const buf = encodeMessage(msg);
    const offsets = recordTtlOffsets(buf);
    expect(offsets.map((o) => buf.readUInt32BE(o))).toEqual([100, 200]);
  });
});
