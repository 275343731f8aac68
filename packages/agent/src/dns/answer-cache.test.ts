import { describe, expect, it } from 'vitest';
import { AnswerCache, cacheKey } from './answer-cache.ts';
import { type DnsMessage, decodeMessage, encodeMessage, Rcode, RRClass, RRType } from './wire.ts';

const question = { name: 'www.Example.com', type: RRType.A, class: RRClass.IN };
const answer = (fields: Partial<DnsMessage>): Buffer =>
  encodeMessage({
    id: 7,
    qr: true,
    opcode: 0,
    aa: false,
    tc: false,
    rd: true,
    ra: true,
    ad: false,
    cd: false,
    rcode: Rcode.NOERROR,
    questions: [question],
    answers: [
      { name: 'www.Example.com', class: RRClass.IN, ttl: 60, data: { type: 'A', address: '192.0.2.7' } },
    ],
    authorities: [],
    additionals: [],
    edns: undefined,
    ...fields,
  });
const query = (id: number, name: string): Buffer =>
  encodeMessage({
    ...decodeMessage(answer({})),
    id,
    qr: false,
    answers: [],
    questions: [{ ...question, name }],
  });
const key = cacheKey(question, false, false, false);

describe('AnswerCache', () => {
  it('hands out a copy with the asker’s id and spelling and TTLs aged by the time spent', () => {
    const cache = new AnswerCache(10, 300);
    cache.put(key, answer({}), 1_000);
    const hit = decodeMessage(cache.get(key, query(99, 'WWW.example.COM'), 21_500)!);
    expect(hit.id).toBe(99);
    expect(hit.questions[0]!.name).toBe('WWW.example.COM');
    expect(hit.answers[0]!.ttl).toBe(40);
    expect(cache.get(key, query(1, 'www.example.com'), 61_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('caps TTLs, keeps negative answers for their SOA minimum, and skips what must not be cached', () => {
    const cache = new AnswerCache(10, 30);
    cache.put(key, answer({}), 0);
    expect(cache.get(key, query(1, 'www.example.com'), 30_500)).toBeUndefined();
    const soa = {
      name: 'example.com',
      class: RRClass.IN,
      ttl: 3600,
      data: {
        type: 'SOA' as const,
        mname: 'a',
        rname: 'b',
        serial: 1,
        refresh: 1,
        retry: 1,
        expire: 1,
        minimum: 10,
      },
    };
    cache.put(key, answer({ rcode: Rcode.NXDOMAIN, answers: [], authorities: [soa] }), 0);
    expect(cache.get(key, query(1, 'www.example.com'), 9_000)).toBeDefined();
    expect(cache.get(key, query(1, 'www.example.com'), 10_000)).toBeUndefined();
    for (const skipped of [
      answer({ tc: true }),
      answer({ rcode: Rcode.SERVFAIL }),
      answer({ answers: [] }),
    ]) {
      cache.put(key, skipped, 0);
      expect(cache.size).toBe(0);
    }
  });

  it('evicts the least recently used entry beyond its bound', () => {
    const cache = new AnswerCache(2, 300);
    cache.put('a', answer({}), 0);
    cache.put('b', answer({}), 0);
    cache.get('a', query(1, 'www.example.com'), 0);
    cache.put('c', answer({}), 0);
    expect(cache.size).toBe(2);
    expect(cache.get('b', query(1, 'www.example.com'), 0)).toBeUndefined();
    expect(cache.get('a', query(1, 'www.example.com'), 0)).toBeDefined();
  });
});
