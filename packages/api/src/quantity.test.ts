import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addQuantities,
  canonicalQuantity,
  compareQuantities,
  formatQuantity,
  parseQuantity,
  QuantityError,
  quantityFormatMessage,
  quantityFromMilli,
  quantityMilliValue,
  quantitySuffixMessage,
  quantityValue,
  subtractQuantities,
} from './quantity.ts';

const q = parseQuantity;

describe('canonical form', () => {
  it.each([
    ['0', '0'],
    ['0Mi', '0'],
    ['500m', '500m'],
    ['0.5', '500m'],
    ['1000m', '1'],
    ['1500m', '1500m'],
    ['1.5k', '1500'],
    ['1k', '1k'],
    ['2000', '2k'],
    ['128Mi', '128Mi'],
    ['1024Mi', '1Gi'],
    ['1.5Gi', '1536Mi'],
    ['0.5Gi', '512Mi'],
    ['0.5Ki', '512'],
    ['1023', '1023'],
    ['0.1Mi', '104857600m'],
    ['2e3', '2e3'],
    ['1.5e3', '1500'],
    ['1E3', '1e3'],
    ['1e-3', '1e-3'],
    ['+3', '3'],
    ['-1.5Gi', '-1536Mi'],
    ['100n', '100n'],
    ['1n', '1n'],
    ['.5', '500m'],
    ['1.', '1'],
    ['5E', '5E'],
    ['1000E', '1000E'],
    ['12345678901234567890', '12345678901234567890'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalQuantity(input)).toBe(expected);
  });

  it('rounds values finer than a nano-unit up, away from zero', () => {
    expect(canonicalQuantity('0.0000000001')).toBe('1n');
    expect(canonicalQuantity('1.0000000001')).toBe('1000000001n');
    expect(canonicalQuantity('-0.0000000001')).toBe('-1n');
    expect(canonicalQuantity('1e-30')).toBe('1e-9'); // an exponent suffix keeps exponent form
  });

  it('caps binary quantities at the largest int64', () => {
    expect(canonicalQuantity('9Ei')).toBe(canonicalQuantity(String(2n ** 63n - 1n)));
  });
});

describe('parse errors', () => {
  it.each([
    ['', quantityFormatMessage],
    ['abc', quantityFormatMessage],
    [' 1', quantityFormatMessage],
    ['1 ', quantityFormatMessage],
    ['1.1.M', quantityFormatMessage],
    ['-', quantityFormatMessage],
    ['1Ki3', quantitySuffixMessage],
    ['1i', quantitySuffixMessage],
    ['0.1mi', quantitySuffixMessage],
    ['1K', quantitySuffixMessage],
    ['1e', quantitySuffixMessage],
    ['1e-', quantitySuffixMessage],
  ])('%j is refused', (input, message) => {
    expect(() => q(input)).toThrow(new QuantityError(input, message));
  });

  it('refuses absurd exponents and lengths instead of computing them', () => {
    expect(() => q('1e1000000')).toThrow(/out of range/);
    expect(() => q('1'.repeat(200))).toThrow(/longer than/);
  });
});

describe('arithmetic', () => {
  it('compares across formats', () => {
    expect(compareQuantities(q('1Gi'), q('1073741824'))).toBe(0);
    expect(compareQuantities(q('1G'), q('1Gi'))).toBe(-1);
    expect(compareQuantities(q('1001m'), q('1'))).toBe(1);
  });

  it("adds in the left operand's format, the right one's when the left is zero", () => {
    expect(formatQuantity(addQuantities(q('1Gi'), q('512Mi')))).toBe('1536Mi');
    expect(formatQuantity(addQuantities(q('100m'), q('1')))).toBe('1100m');
    expect(formatQuantity(addQuantities(q('0'), q('1Ki')))).toBe('1Ki');
    expect(formatQuantity(subtractQuantities(q('1'), q('250m')))).toBe('750m');
  });

  it('rounds values and milli-values up, as the scheduler expects', () => {
    expect(quantityMilliValue(q('1.5'))).toBe(1500);
    expect(quantityMilliValue(q('100n'))).toBe(1);
    expect(quantityValue(q('1.2'))).toBe(2);
    expect(quantityValue(q('128Mi'))).toBe(134217728);
    expect(formatQuantity(quantityFromMilli(2500))).toBe('2500m');
  });

  it('canonical form is stable and keeps the value (property)', () => {
    const suffix = fc.constantFrom('', 'm', 'k', 'M', 'G', 'Ki', 'Mi', 'Gi', 'e3', 'e-2', 'n', 'u');
    fc.assert(
      fc.property(fc.nat({ max: 10_000_000 }), fc.nat({ max: 999 }), suffix, (whole, frac, sfx) => {
        const input = `${whole}.${String(frac).padStart(3, '0')}${sfx}`;
        const once = canonicalQuantity(input);
        expect(canonicalQuantity(once)).toBe(once);
        expect(compareQuantities(q(once), q(input))).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
