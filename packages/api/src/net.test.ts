import { describe, expect, it } from 'vitest';
import {
  AddressRangeError,
  formatCIDR,
  formatIP,
  nthAddress,
  parseCIDR,
  parseIP,
  parsePortRange,
  portOutOfRangeMessage,
  RangeAllocator,
  serviceIPAt,
  serviceIPOffset,
  serviceIPRange,
} from './net.ts';

describe('addresses', () => {
  it('parses and prints IPv4 and IPv6', () => {
    for (const [text, canonical] of [
      ['10.96.0.1', '10.96.0.1'],
      ['fd00::1', 'fd00::1'],
      ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::', '::'],
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ] as const) {
      const ip = parseIP(text);
      expect(ip, text).toBeDefined();
      expect(formatIP(ip as NonNullable<typeof ip>)).toBe(canonical);
    }
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', '1::2::3', 'fd00:::1', '12345::', 'host']) {
      expect(parseIP(bad), bad).toBeUndefined();
    }
  });

  it('parses CIDRs, clearing host bits, and finds the n-th address', () => {
    const cidr = parseCIDR('10.96.3.4/12');
    expect(cidr && formatCIDR(cidr)).toBe('10.96.0.0/12');
    expect(cidr && formatIP(nthAddress(cidr, 10))).toBe('10.96.0.10');
    expect(parseCIDR('10.0.0.0/33')).toBeUndefined();
    expect(parseCIDR('10.0.0.0')).toBeUndefined();
    const v6 = parseCIDR('fd00:10:96::/112');
    expect(v6 && formatIP(nthAddress(v6, 65535))).toBe('fd00:10:96::ffff');
    expect(() => cidr && nthAddress(cidr, 1 << 20)).toThrow(AddressRangeError);
  });
});

describe('allocation ranges', () => {
  it('skips the network and broadcast addresses of a service CIDR', () => {
    const range = serviceIPRange('10.96.0.0/24');
    expect(range.size).toBe(254);
    expect(serviceIPAt(range, 0)).toBe('10.96.0.1');
    expect(serviceIPAt(range, 253)).toBe('10.96.0.254');
    expect(serviceIPOffset(range, '10.96.0.10')).toBe(9);
    expect(serviceIPOffset(range, '10.96.0.0')).toBeUndefined();
    expect(serviceIPOffset(range, '10.96.0.255')).toBeUndefined();
    expect(serviceIPOffset(range, '10.97.0.1')).toBeUndefined();
    expect(() => serviceIPRange('10.0.0.0/8')).toThrow('too large');
  });

  it('reads port ranges in both forms', () => {
    expect(parsePortRange('30000-32767')).toEqual({ label: '30000-32767', base: 30000, size: 2768 });
    expect(parsePortRange('30000+99').label).toBe('30000-30099');
    expect(() => parsePortRange('32767-30000')).toThrow(AddressRangeError);
    expect(portOutOfRangeMessage(parsePortRange('30000-32767'))).toBe(
      'provided port is not in the valid range. The range of valid ports is 30000-32767',
    );
  });

  it('hands out each offset once, wraps around, and survives a snapshot', () => {
    const range = parsePortRange('30000-30009');
    const a = new RangeAllocator(range);
    expect(a.allocate(3)).toBe(true);
    expect(a.allocate(3)).toBe(false);
    expect(a.allocateNext(3)).toBe(4);
    expect(a.allocateNext(9)).toBe(9);
    expect(a.allocateNext(9)).toBe(0); // wraps
    const b = RangeAllocator.restore(range, a.snapshot());
    expect(b.used).toBe(4);
    const taken = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const next = b.allocateNext(i * 7);
      if (next !== undefined) taken.add(next);
    }
    expect(taken.size).toBe(6);
    expect(b.allocateNext(0)).toBeUndefined();
    expect(b.free).toBe(0);
    b.release(3);
    expect(b.allocateNext(0)).toBe(3);
    expect(() => RangeAllocator.restore(parsePortRange('30000-30010'), a.snapshot())).toThrow(
      AddressRangeError,
    );
    expect(() => b.has(10)).toThrow(AddressRangeError);
  });
});
