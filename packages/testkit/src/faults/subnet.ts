import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  flotillaRouteProtocol,
  guardRouteMetric,
  NetCommandError,
  removeIgnoringMissing,
  runNet,
} from '@flotilla/agent/net';
import { cidrSize, formatCIDR, formatIP, nthAddress, parseCIDR } from '@flotilla/api';

/**
 * The range fault harnesses carve their /24s from. It exists on this machine only on the
 * bridges and namespaces a harness creates; each /24 in use has a blackhole route in the
 * root namespace, so a packet to it never leaves the machine.
 */
export const faultAddressPool = '10.251.0.0/16';
/**
 * Guard routes are the agent's kind (`proto 241`, metric 4096: an interface that holds the
 * range wins over them); adding one is how a harness claims its range.
 */
const guardProtocol = String(flotillaRouteProtocol);
const guardMetric = String(guardRouteMetric);
/** Where a harness notes what it created, so that a later run can remove it if it died. */
export const faultStateDir = '/run/flotilla-faults';

export type Subnet = {
  /** e.g. `10.251.37.0/24` */
  readonly cidr: string;
  readonly prefixLength: number;
  /** The n-th address (1 = the gateway/root leg by convention). */
  address(n: number): string;
};

type IpRoute = { readonly dst?: string };

function subnetOf(cidr: string): Subnet {
  const parsed = parseCIDR(cidr);
  if (parsed === undefined) throw new RangeError(`${cidr} is not a CIDR`);
  return {
    cidr: formatCIDR(parsed),
    prefixLength: parsed.prefixLength,
    address: (n) => formatIP(nthAddress(parsed, n)),
  };
}

function overlaps(a: string, b: string): boolean {
  const x = parseCIDR(a.includes('/') ? a : `${a}/32`);
  const y = parseCIDR(b.includes('/') ? b : `${b}/32`);
  if (!x || !y || x.family !== y.family) return false;
  return x.network < y.network + cidrSize(y) && y.network < x.network + cidrSize(x);
}

/**
 * Claim a free /24 of the pool: one that no route of the machine touches. Adding its guard
 * route is the claim (`ip route add` fails if another harness added it first), so two runs
 * on one machine never share a range. Bounded: one try per /24 of the pool.
 */
export async function claimSubnet(): Promise<Subnet> {
  const routes = JSON.parse(await runNet('ip', ['-j', 'route', 'show', 'table', 'main'])) as IpRoute[];
  const taken = routes.map((r) => r.dst).filter((d): d is string => d !== undefined && d !== 'default');
  const pool = parseCIDR(faultAddressPool)!;
  const slices = Number(cidrSize(pool) / 256n);
  const start = Math.floor(Math.random() * slices);
  for (let i = 0; i < slices; i++) {
    const base = nthAddress(pool, ((start + i) % slices) * 256);
    const cidr = `${formatIP(base)}/24`;
    if (taken.some((t) => overlaps(t, cidr))) continue;
    try {
      await runNet('ip', guardArgs('add', cidr));
      return subnetOf(cidr);
    } catch (err) {
      if (err instanceof NetCommandError && /File exists/i.test(err.stderr)) continue;
      throw err;
    }
  }
  throw new RangeError(`no free /24 left in ${faultAddressPool}`);
}

export async function releaseSubnet(cidr: string): Promise<void> {
  await removeIgnoringMissing(runNet('ip', guardArgs('delete', cidr)));
}

function guardArgs(verb: 'add' | 'delete', cidr: string): string[] {
  return ['route', verb, 'blackhole', cidr, 'proto', guardProtocol, 'metric', guardMetric];
}

/** The guard route's removal, synchronous, for a process's exit hook (best effort). */
export function releaseSubnetSync(cidr: string): void {
  spawnSync('ip', guardArgs('delete', cidr), { stdio: 'ignore', timeout: 10_000 });
}

/** What a harness created, noted on disk until it tears it down. */
export type FaultState = {
  readonly kind: 'netns' | 'containers';
  readonly name: string;
  readonly pid: number;
  readonly cidr: string;
  /** For containers: the daemon the network lives on. */
  readonly dockerHost?: string;
};

export function writeFaultState(state: FaultState): void {
  mkdirSync(faultStateDir, { recursive: true });
  const file = join(faultStateDir, `${state.name}.json`);
  // Written whole then renamed: a sweeper never reads half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify(state));
  renameSync(`${file}.tmp`, file);
}

export function removeFaultState(name: string): void {
  rmSync(join(faultStateDir, `${name}.json`), { force: true });
}

/** States left by harness processes that are no longer alive. */
export function orphanedFaultStates(): FaultState[] {
  let files: string[];
  try {
    files = readdirSync(faultStateDir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: FaultState[] = [];
  for (const f of files) {
    try {
      const state = JSON.parse(readFileSync(join(faultStateDir, f), 'utf8')) as FaultState;
      if (!isAlive(state.pid)) out.push(state);
    } catch {
      // unreadable: not ours to judge; leave it
    }
  }
  return out;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
