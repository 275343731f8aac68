/**
 * Addresses for the API server's allocators: parse IPs and CIDRs (IPv4 and IPv6), the
 * n-th address of a range, and a bitmap over a range that the API server persists (as
 * Kubernetes persists its RangeAllocation objects) to hand out Service cluster IPs and
 * NodePorts uniquely across replicas. Pure: storing the bitmap is the caller's job.
 * https://kubernetes.io/docs/concepts/services-networking/cluster-ip-allocation/
 */
import { FlotillaError } from '@flotilla/actor';

export type IPFamily = 'IPv4' | 'IPv6';

export type IPAddress = { readonly family: IPFamily; readonly value: bigint };

export type CIDR = {
  readonly family: IPFamily;
  /** The network address (host bits cleared). */
  readonly network: bigint;
  readonly prefixLength: number;
};

const bitsOf = (family: IPFamily): number => (family === 'IPv4' ? 32 : 128);

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    // Leading zeros are refused, as Go's net.ParseIP does (they read as octal elsewhere).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    value = (value << 8n) | BigInt(p);
  }
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tailV4 = parseIPv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): string[] | undefined => {
    if (s === '') return [];
    const g = s.split(':');
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g : undefined;
  };
  const left = groups(halves[0] as string);
  const right = halves.length === 2 ? groups(halves[1] as string) : [];
  if (left === undefined || right === undefined) return undefined;
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  let value = 0n;
  for (const g of all) value = (value << 16n) | BigInt(`0x${g}`);
  if (tailV4 !== undefined) value = (value & ~0xffff_ffffn) | tailV4;
  return value;
}

/** Parses `10.0.0.1` or `fd00::1`; undefined when it is neither. */
export function parseIP(text: string): IPAddress | undefined {
  if (text.includes(':')) {
    const value = parseIPv6(text);
    return value === undefined ? undefined : { family: 'IPv6', value };
  }
  const value = parseIPv4(text);
  return value === undefined ? undefined : { family: 'IPv4', value };
}

/** Dotted quad, or RFC 5952 text for IPv6 (lowercase, longest zero run as `::`). */
export function formatIP(ip: IPAddress): string {
  if (ip.family === 'IPv4') {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt((7 - i) * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses `10.96.0.0/12`; host bits may be set (`10.0.0.1/8`), as Go's ParseCIDR allows. */
export function parseCIDR(text: string): CIDR | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (ip === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefixLength = Number(prefixText);
  const bits = bitsOf(ip.family);
  if (prefixLength > bits) return undefined;
  const hostMask = (1n << BigInt(bits - prefixLength)) - 1n;
  return { family: ip.family, network: ip.value & ~hostMask, prefixLength };
}

export function formatCIDR(cidr: CIDR): string {
  return `${formatIP({ family: cidr.family, value: cidr.network })}/${cidr.prefixLength}`;
}

/** How many addresses the CIDR spans (2^(bits - prefix)). */
export function cidrSize(cidr: CIDR): bigint {
  return 1n << BigInt(bitsOf(cidr.family) - cidr.prefixLength);
}

export function cidrContains(cidr: CIDR, ip: IPAddress): boolean {
  return ip.family === cidr.family && ip.value >= cidr.network && ip.value < cidr.network + cidrSize(cidr);
}

export class AddressRangeError extends FlotillaError {
  constructor(message: string) {
    super('AddressRange', message);
  }
}

/** The n-th address of a CIDR, counting the network address as 0. */
export function nthAddress(cidr: CIDR, n: bigint | number): IPAddress {
  const i = BigInt(n);
  if (i < 0n || i >= cidrSize(cidr)) {
    throw new AddressRangeError(`address ${i} is outside ${formatCIDR(cidr)} (${cidrSize(cidr)} addresses)`);
  }
  return { family: cidr.family, value: cidr.network + i };
}

/** The index of an address within a CIDR, or undefined when it lies outside. */
export function addressIndex(cidr: CIDR, ip: IPAddress): bigint | undefined {
  return cidrContains(cidr, ip) ? ip.value - cidr.network : undefined;
}

// ---- Ranges to allocate from --------------------------------------------------------------------

/** The largest range a bitmap covers: 2^20 offsets (128 KiB), Kubernetes' /12 limit for IPv4. */
export const maxRangeSize = 1 << 20;

/** A contiguous range of allocatable things: addresses of a service CIDR, or ports. */
export type AllocationRange = {
  /** `10.96.0.0/12` or `30000-32767`, as configured; it names the range in errors. */
  readonly label: string;
  readonly size: number;
};

export type ServiceIPRange = AllocationRange & { readonly cidr: CIDR };

/**
 * The allocatable cluster IPs of a service CIDR: all addresses but the network address
 * (and the broadcast address for IPv4), so `10.96.0.0/12` starts at 10.96.0.1, which the
 * `kubernetes` service takes.
 */
export function serviceIPRange(text: string): ServiceIPRange {
  const cidr = parseCIDR(text);
  if (cidr === undefined) throw new AddressRangeError(`${JSON.stringify(text)} is not a CIDR`);
  const reserved = cidr.family === 'IPv4' ? 2n : 1n;
  const usable = cidrSize(cidr) - reserved;
  if (usable < 1n) throw new AddressRangeError(`service range ${text} has no usable address`);
  if (usable > BigInt(maxRangeSize)) {
    throw new AddressRangeError(
      `service range ${text} is too large: at most ${maxRangeSize} addresses (a /12 for IPv4)`,
    );
  }
  return { label: formatCIDR(cidr), cidr, size: Number(usable) };
}

/** The cluster IP at an offset of the range (offset 0 is the first usable address). */
export function serviceIPAt(range: ServiceIPRange, offset: number): string {
  if (!Number.isInteger(offset) || offset < 0 || offset >= range.size) {
    throw new AddressRangeError(`offset ${offset} is outside service range ${range.label}`);
  }
  return formatIP(nthAddress(range.cidr, BigInt(offset) + 1n));
}

/** The offset of a cluster IP in the range, or undefined when it is not allocatable there. */
export function serviceIPOffset(range: ServiceIPRange, ip: string): number | undefined {
  const parsed = parseIP(ip);
  if (parsed === undefined) return undefined;
  const index = addressIndex(range.cidr, parsed);
  if (index === undefined || index < 1n || index > BigInt(range.size)) return undefined;
  return Number(index - 1n);
}

export type PortRange = AllocationRange & { readonly base: number };

/** `30000-32767` (or `30000+2767`, base plus count beyond it), as kube-apiserver reads it. */
export function parsePortRange(text: string): PortRange {
  const m = /^([0-9]{1,5})([-+])([0-9]{1,5})$/.exec(text.trim());
  if (!m) throw new AddressRangeError(`${JSON.stringify(text)} is not a port range like 30000-32767`);
  const base = Number(m[1]);
  const end = m[2] === '-' ? Number(m[3]) : base + Number(m[3]);
  if (base < 1 || end > 65535 || end < base)
    throw new AddressRangeError(`port range ${text} is not within 1-65535`);
  return { label: `${base}-${end}`, base, size: end - base + 1 };
}

export const defaultNodePortRange = '30000-32767';

/** The error Kubernetes gives for a requested NodePort outside the range. */
export function portOutOfRangeMessage(range: PortRange): string {
  return `provided port is not in the valid range. The range of valid ports is ${range.label}`;
}

/** What a RangeAllocator persists: its size and its bitmap, base64. */
export type RangeSnapshot = { readonly range: string; readonly size: number; readonly data: string };

/**
 * A bitmap of used offsets in a range. Mutable by design: the API server loads it from
 * storage, allocates in one transaction, and writes the snapshot back with a
 * compare-and-swap, so concurrent replicas never hand out the same offset twice.
 */
export class RangeAllocator {
  readonly range: AllocationRange;
  private readonly bits: Uint8Array;
  private count: number;

  constructor(range: AllocationRange, bits?: Uint8Array) {
    if (!Number.isInteger(range.size) || range.size < 1 || range.size > maxRangeSize) {
      throw new AddressRangeError(`a range holds 1 to ${maxRangeSize} offsets, not ${range.size}`);
    }
    const bytes = Math.ceil(range.size / 8);
    if (bits !== undefined && bits.length !== bytes) {
      throw new AddressRangeError(
        `bitmap of ${bits.length} bytes does not fit range ${range.label} (${bytes} bytes)`,
      );
    }
    this.range = range;
    this.bits = bits === undefined ? new Uint8Array(bytes) : Uint8Array.from(bits);
    this.count = 0;
    for (let i = 0; i < range.size; i++) if (this.has(i)) this.count++;
  }

  /** Restores a persisted allocator; the snapshot must be of the same range. */
  static restore(range: AllocationRange, snapshot: RangeSnapshot): RangeAllocator {
    if (snapshot.range !== range.label || snapshot.size !== range.size) {
      throw new AddressRangeError(
        `stored allocation is for ${snapshot.range} (${snapshot.size}), not ${range.label} (${range.size})`,
      );
    }
    return new RangeAllocator(range, Uint8Array.from(Buffer.from(snapshot.data, 'base64')));
  }

  snapshot(): RangeSnapshot {
    return {
      range: this.range.label,
      size: this.range.size,
      data: Buffer.from(this.bits).toString('base64'),
    };
  }

  get used(): number {
    return this.count;
  }

  get free(): number {
    return this.range.size - this.count;
  }

  has(offset: number): boolean {
    this.check(offset);
    return ((this.bits[offset >> 3] as number) & (1 << (offset & 7))) !== 0;
  }

  /** Takes a specific offset; false when it is already taken. */
  allocate(offset: number): boolean {
    if (this.has(offset)) return false;
    this.bits[offset >> 3] = (this.bits[offset >> 3] as number) | (1 << (offset & 7));
    this.count++;
    return true;
  }

  /**
   * Takes the first free offset at or after `start`, wrapping around; undefined when the
   * range is full. Callers pass a random start to spread allocations.
   */
  allocateNext(start: number): number | undefined {
    if (this.count >= this.range.size) return undefined;
    const size = this.range.size;
    const from = ((Math.trunc(start) % size) + size) % size;
    for (let i = 0; i < size; i++) {
      const offset = (from + i) % size;
      if (this.allocate(offset)) return offset;
    }
    return undefined;
  }

  release(offset: number): void {
    if (!this.has(offset)) return;
    this.bits[offset >> 3] = (this.bits[offset >> 3] as number) & ~(1 << (offset & 7));
    this.count--;
  }

  private check(offset: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.range.size) {
      throw new AddressRangeError(`offset ${offset} is outside range ${this.range.label}`);
    }
  }
}
