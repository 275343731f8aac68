import { assertNever } from '@flotilla/actor';
import { type CIDR, cidrSize, formatCIDR, parseCIDR } from '@flotilla/api';
import { runNet } from './command.ts';
import { InvalidNetworkSpecError, RangeConflictError } from './errors.ts';

/**
 * The routing protocol number every route of ours carries (`ip route ... proto 241`):
 * it tells our routes from everyone else's without a state file, so a sync or a
 * teardown after a crash finds exactly what we installed. 241 is unassigned in
 * iproute2's rt_protos.
 */
export const flotillaRouteProtocol = 241;
/**
 * Guard routes (blackholes) use a metric worse than any connected route, so for the
 * same prefix an interface that really holds the range wins and the guard only catches
 * what nothing else routes.
 */
export const guardRouteMetric = 4096;

/** A route in the main table: to a gateway, dropped, or out of a device. */
export type Route =
  | { readonly kind: 'via'; readonly dst: string; readonly gateway: string }
  | { readonly kind: 'blackhole'; readonly dst: string; readonly metric: number }
  | { readonly kind: 'device'; readonly dst: string; readonly dev: string; readonly metric: number };

/** A route's identity for diffing: two routes with the same key are the same route. */
export function routeKey(route: Route): string {
  switch (route.kind) {
    case 'via':
      return `via ${route.dst} ${route.gateway}`;
    case 'blackhole':
      return `blackhole ${route.dst} ${route.metric}`;
    case 'device':
      return `device ${route.dst} ${route.dev} ${route.metric}`;
    default:
      return assertNever(route, 'route');
  }
}

/** Canonical CIDR text (`10.244.1.0/24`); throws on anything that is not an IPv4 CIDR. */
export function canonicalCIDR(text: string): string {
  const cidr = parseCIDR(text);
  if (cidr === undefined || cidr.family !== 'IPv4') {
    throw new InvalidNetworkSpecError(`${JSON.stringify(text)} is not an IPv4 CIDR`);
  }
  return formatCIDR(cidr);
}

function routeArgs(route: Route): string[] {
  switch (route.kind) {
    case 'via':
      return [route.dst, 'via', route.gateway, 'proto', String(flotillaRouteProtocol)];
    case 'blackhole':
      return ['blackhole', route.dst, 'proto', String(flotillaRouteProtocol), 'metric', String(route.metric)];
    case 'device':
      return [
        route.dst,
        'dev',
        route.dev,
        'proto',
        String(flotillaRouteProtocol),
        'metric',
        String(route.metric),
      ];
    default:
      return assertNever(route, 'route');
  }
}

/** Adds the route, or replaces one with the same destination and metric. */
export async function installRoute(netns: string | undefined, route: Route): Promise<void> {
  await runNet('ip', ['route', 'replace', ...routeArgs(route)], { netns });
}

export async function removeRoute(netns: string | undefined, route: Route): Promise<void> {
  await runNet('ip', ['route', 'delete', ...routeArgs(route)], { netns });
}

/** One entry of `ip -j route show`. */
type IpRouteJson = {
  readonly dst?: string;
  readonly type?: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly metric?: number;
  readonly protocol?: string;
};

async function mainTable(netns: string | undefined, onlyOurs: boolean): Promise<readonly IpRouteJson[]> {
  const args = ['-j', 'route', 'show', 'table', 'main'];
  if (onlyOurs) args.push('proto', String(flotillaRouteProtocol));
  return JSON.parse(await runNet('ip', args, { netns })) as IpRouteJson[];
}

const withPrefix = (dst: string): string => (dst.includes('/') ? dst : `${dst}/32`);

/** The routes of ours in a namespace's main table. */
export async function listOwnRoutes(netns: string | undefined): Promise<readonly Route[]> {
  const routes: Route[] = [];
  for (const r of await mainTable(netns, true)) {
    if (r.dst === undefined || r.dst === 'default') continue;
    const dst = withPrefix(r.dst);
    if (r.type === 'blackhole') routes.push({ kind: 'blackhole', dst, metric: r.metric ?? 0 });
    else if (r.gateway !== undefined) routes.push({ kind: 'via', dst, gateway: r.gateway });
    else if (r.dev !== undefined) routes.push({ kind: 'device', dst, dev: r.dev, metric: r.metric ?? 0 });
  }
  return routes;
}

export function cidrsOverlap(a: CIDR, b: CIDR): boolean {
  if (a.family !== b.family) return false;
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

/**
 * Refuses a range that overlaps a route something else installed in the namespace
 * (the default route aside): putting a pod or service range there would shadow it.
 */
export async function checkRangeFree(netns: string | undefined, range: string): Promise<void> {
  const ours = parseCIDR(canonicalCIDR(range))!;
  for (const r of await mainTable(netns, false)) {
    if (r.dst === undefined || r.dst === 'default' || r.protocol === String(flotillaRouteProtocol)) continue;
    const dst = parseCIDR(withPrefix(r.dst));
    if (dst !== undefined && cidrsOverlap(dst, ours)) throw new RangeConflictError(range, JSON.stringify(r));
  }
}
