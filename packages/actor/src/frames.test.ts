import { describe, expect, it } from 'vitest';
import { decode, encode } from './codec.ts';
import { parseFrame } from './frames.ts';

describe('parseFrame', () => {
  it('accepts each well-formed frame kind', () => {
    const frames = [
      { v: 1, k: 'ask', id: 'a.1', m: 'get', t: 100, b: { key: 'x' } },
      { v: 1, k: 'tell', m: 'note', b: null },
      { v: 1, k: 'ok', b: [1, 2] },
      { v: 1, k: 'err', e: { code: 'NotFound', message: 'nope' } },
      { v: 1, k: 'open', id: 's', m: 'watch', b: {}, r: '_INBOX.x', w: 8, hb: 100 },
      { v: 1, k: 'item', s: 1, p: encode('x') },
      { v: 1, k: 'hb', s: 0 },
      { v: 1, k: 'end', s: 3 },
      { v: 1, k: 'fail', s: 3, e: { code: 'StreamGap', message: 'm' } },
      { v: 1, k: 'credit', id: 's', a: 4 },
      { v: 1, k: 'cancel', id: 's' },
    ];
    for (const f of frames) {
      const parsed = parseFrame(encode(f));
      expect(parsed.ok, JSON.stringify(f)).toBe(true);
    }
  });

  it('names the reason for garbage and never throws', () => {
    expect(parseFrame(new Uint8Array([0x82]))).toEqual({ ok: false, reason: 'undecodable' });
    expect(parseFrame(encode('hello'))).toEqual({ ok: false, reason: 'not-a-frame' });
    expect(parseFrame(encode([1, 2]))).toEqual({ ok: false, reason: 'not-a-frame' });
    expect(parseFrame(encode({ v: 2, k: 'ask' }))).toEqual({ ok: false, reason: 'version' });
    expect(parseFrame(encode({ v: 1, k: 'bogus' }))).toEqual({ ok: false, reason: 'unknown-kind' });
    expect(parseFrame(encode({ v: 1, k: 'ask', id: 1, m: 'x', t: 1 }))).toEqual({
      ok: false,
      reason: 'malformed-ask',
    });
    expect(parseFrame(encode({ v: 1, k: 'open', id: 's', m: 'w', r: 'i', w: 0, hb: 1 }))).toEqual({
      ok: false,
      reason: 'malformed-open',
    });
    expect(parseFrame(encode({ v: 1, k: 'item', s: -1, p: encode(1) }))).toEqual({
      ok: false,
      reason: 'malformed-item',
    });
  });

  it('survives random bytes', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      const bytes = new Uint8Array(rnd() % 64);
      for (let j = 0; j < bytes.length; j++) bytes[j] = rnd() & 0xff;
      expect(() => parseFrame(bytes)).not.toThrow();
    }
  });

  it('round-trips nested values without records', () => {
    const value = { a: [1, 'two', { three: 3n > 2n }], big: 2 ** 40 };
    expect(decode(encode(value))).toEqual(value);
    // binary comes back as bytes (a Buffer on Node)
    const bytes = decode(encode({ p: new Uint8Array([1, 2, 3]) })) as { p: Uint8Array };
    expect(bytes.p).toBeInstanceOf(Uint8Array);
    expect([...bytes.p]).toEqual([1, 2, 3]);
  });
});
