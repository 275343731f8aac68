/**
 * Resource quantities (`500m`, `128Mi`, `1.5Gi`, `2e3`) with Kubernetes' rules:
 * https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 * A quantity is held exactly as a count of nano-units (values finer than 1n round up,
 * away from zero, "so that asking for some resource gets some") plus the format its
 * suffix chose, which decides how it prints in canonical form.
 */
import { FlotillaError } from '@flotilla/actor';

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export type Quantity = {
  /** The value times 10^9, exact. */
  readonly nanos: bigint;
  readonly format: QuantityFormat;
};

/** The messages Kubernetes' quantity parser gives, kept word for word since users search for them. */
export const quantityFormatMessage =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const quantitySuffixMessage = "unable to parse quantity's suffix";

export class QuantityError extends FlotillaError {
  readonly input: string;
  constructor(input: string, message: string) {
    super('InvalidQuantity', message, { input });
    this.input = input;
  }
}

/** Longer inputs are refused: no real quantity needs them and parsing stays cheap. */
export const maxQuantityChars = 128;
/** Largest decimal exponent accepted (`1e100`); Kubernetes accepts more, nothing needs it. */
export const maxQuantityExponent = 100;

const nanoScale = 9n;
const oneUnitNanos = 1_000_000_000n;
/** BinarySI quantities are capped at the largest int64, as Kubernetes does. */
const maxBinaryNanos = (2n ** 63n - 1n) * oneUnitNanos;

const decimalSuffixes: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const binarySuffixes: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalSuffixByExponent = new Map(Object.entries(decimalSuffixes).map(([s, e]) => [e, s]));
const binarySuffixByPower = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;

type Parts = { negative: boolean; num: string; denom: string; suffix: string };

/** Splits `-1.5Gi` into sign, integer digits, fraction digits and suffix, as Kubernetes does. */
function split(input: string): Parts {
  let pos = 0;
  let negative = false;
  if (input[0] === '-' || input[0] === '+') {
    negative = input[0] === '-';
    pos = 1;
  }
  const numStart = pos;
  while (pos < input.length && isDigit(input[pos])) pos++;
  const num = input.slice(numStart, pos);
  let denom = '';
  if (input[pos] === '.') {
    pos++;
    const denomStart = pos;
    while (pos < input.length && isDigit(input[pos])) pos++;
    denom = input.slice(denomStart, pos);
  }
  if (num === '' && denom === '' && input[numStart] !== '.')
    throw new QuantityError(input, quantityFormatMessage);
  const suffix = input.slice(pos);
  // The suffix is letters, then an optional sign and digits (an exponent); nothing after.
  const m = /^[eEinumkKMGTP]*([-+]?[0-9]*)$/.exec(suffix);
  if (!m) throw new QuantityError(input, quantityFormatMessage);
  return { negative, num, denom, suffix };
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

type SuffixMeaning = { base: 2 | 10; exponent: number; format: QuantityFormat };

function interpretSuffix(input: string, suffix: string): SuffixMeaning {
  const dec = decimalSuffixes[suffix];
  if (dec !== undefined) return { base: 10, exponent: dec, format: 'DecimalSI' };
  const bin = binarySuffixes[suffix];
  if (bin !== undefined) return { base: 2, exponent: bin, format: 'BinarySI' };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    const exp = suffix.slice(1);
    if (/^[-+]?[0-9]+$/.test(exp)) {
      const exponent = Number(exp);
      if (Math.abs(exponent) > maxQuantityExponent) {
        throw new QuantityError(input, `quantity exponent ${exp} is out of range (±${maxQuantityExponent})`);
      }
      return { base: 10, exponent, format: 'DecimalExponent' };
    }
  }
  throw new QuantityError(input, quantitySuffixMessage);
}

/** Parses a quantity; throws QuantityError with Kubernetes' message when it is not one. */
export function parseQuantity(input: string): Quantity {
  if (input.length === 0) throw new QuantityError(input, quantityFormatMessage);
  if (input.length > maxQuantityChars) {
    throw new QuantityError(input, `quantity is longer than ${maxQuantityChars} characters`);
  }
  const { negative, num, denom, suffix } = split(input);
  const { base, exponent, format } = interpretSuffix(input, suffix);
  let mantissa = BigInt(`${num}${denom}` || '0');
  let scale = -denom.length; // value = mantissa * 10^scale
  if (base === 10) scale += exponent;
  else mantissa *= 2n ** BigInt(exponent);
  let nanos: bigint;
  const shift = scale + Number(nanoScale);
  if (shift >= 0) {
    nanos = mantissa * 10n ** BigInt(shift);
  } else if (mantissa === 0n) {
    nanos = 0n;
  } else if (-shift > mantissa.toString().length) {
    nanos = 1n; // far below a nano-unit: the smallest representable amount
  } else {
    const divisor = 10n ** BigInt(-shift);
    nanos = (mantissa + divisor - 1n) / divisor; // round up, away from zero
  }
  let outFormat = format;
  if (format === 'BinarySI') {
    if (nanos > maxBinaryNanos) nanos = maxBinaryNanos;
    // Fractions of one unit print in decimal: "0.5Ki" is 512, never a fractional Ki.
    if (nanos > 0n && nanos < oneUnitNanos) outFormat = 'DecimalSI';
  }
  return { nanos: negative ? -nanos : nanos, format: outFormat };
}

/** True when `input` parses as a quantity. */
export function isQuantity(input: string): boolean {
  try {
    parseQuantity(input);
    return true;
  } catch (err) {
    if (err instanceof QuantityError) return false;
    throw err;
  }
}

/**
 * The canonical string form: no fractional digits, the largest suffix that loses no
 * precision, and base-1024 suffixes only for BinarySI quantities of whole units >= 1Ki.
 */
export function formatQuantity(q: Quantity): string {
  if (q.nanos === 0n) return '0';
  const sign = q.nanos < 0n ? '-' : '';
  const abs = q.nanos < 0n ? -q.nanos : q.nanos;
  if (q.format === 'BinarySI' && abs >= 1024n * oneUnitNanos && abs % oneUnitNanos === 0n) {
    let units = abs / oneUnitNanos;
    let power = 0;
    while (units % 1024n === 0n && power < binarySuffixByPower.length - 1) {
      units /= 1024n;
      power++;
    }
    return `${sign}${units}${binarySuffixByPower[power]}`;
  }
  let mantissa = abs;
  let exponent = -Number(nanoScale);
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  while (((exponent % 3) + 3) % 3 !== 0) {
    mantissa *= 10n;
    exponent--;
  }
  if (q.format === 'DecimalExponent') {
    return `${sign}${mantissa}${exponent === 0 ? '' : `e${exponent}`}`;
  }
  if (exponent > 18) {
    mantissa *= 10n ** BigInt(exponent - 18);
    exponent = 18;
  }
  return `${sign}${mantissa}${decimalSuffixByExponent.get(exponent) ?? ''}`;
}

/** Parses and prints back in canonical form: `0.5` → `500m`, `1.5Gi` → `1536Mi`. */
export function canonicalQuantity(input: string): string {
  return formatQuantity(parseQuantity(input));
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
}

/** a + b, in a's format (b's when a is zero), as Kubernetes' Quantity.Add. */
export function addQuantities(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos + b.nanos, format: a.nanos === 0n ? b.format : a.format };
}

/** a - b, in a's format (b's when a is zero). */
export function subtractQuantities(a: Quantity, b: Quantity): Quantity {
  return { nanos: a.nanos - b.nanos, format: a.nanos === 0n ? b.format : a.format };
}

function ceilDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n > 0n ? q + 1n : q;
}

/** The value rounded up to a whole unit (bytes, pods), as Quantity.Value. */
export function quantityValue(q: Quantity): number {
  return Number(ceilDiv(q.nanos, oneUnitNanos));
}

/** The value in thousandths rounded up (millicores), as Quantity.MilliValue. */
export function quantityMilliValue(q: Quantity): number {
  return Number(ceilDiv(q.nanos, 1_000_000n));
}

/** A quantity of whole units, e.g. bytes in BinarySI or a pod count in DecimalSI. */
export function quantityFromValue(value: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  return { nanos: BigInt(value) * oneUnitNanos, format };
}

/** A quantity of thousandths, e.g. 1500 millicores → `1500m`. */
export function quantityFromMilli(milli: number | bigint): Quantity {
  return { nanos: BigInt(milli) * 1_000_000n, format: 'DecimalSI' };
}
