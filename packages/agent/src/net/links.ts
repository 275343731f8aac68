import { writeFileSync } from 'node:fs';
import { runNet } from './command.ts';
import { InvalidNetworkSpecError } from './errors.ts';

/** Linux limits interface names to 15 bytes. */
export const maxInterfaceNameBytes = 15;

/** One end of a link: an interface name inside a namespace (the caller's when `netns` is absent). */
export type LinkEnd = { readonly netns?: string | undefined; readonly name: string };

export function checkInterfaceName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || Buffer.byteLength(name) > maxInterfaceNameBytes) {
    throw new InvalidNetworkSpecError(`interface name ${JSON.stringify(name)} is not a valid Linux name`);
  }
}

/** A bridge, up, without addresses. */
export async function addBridge(end: LinkEnd): Promise<void> {
  checkInterfaceName(end.name);
  await runNet('ip', ['link', 'add', end.name, 'type', 'bridge'], { netns: end.netns });
  await setLinkUp(end);
}

/**
 * A veth pair whose ends are created directly in their namespaces, so neither name ever
 * appears (or can collide) in the namespace that runs the command.
 */
export async function addVethPair(a: LinkEnd, b: LinkEnd): Promise<void> {
  checkInterfaceName(a.name);
  checkInterfaceName(b.name);
  const args = ['link', 'add', a.name];
  if (a.netns !== undefined) args.push('netns', a.netns);
  args.push('type', 'veth', 'peer', 'name', b.name);
  if (b.netns !== undefined) args.push('netns', b.netns);
  await runNet('ip', args);
}

export async function setLinkUp(end: LinkEnd): Promise<void> {
  await runNet('ip', ['link', 'set', end.name, 'up'], { netns: end.netns });
}

export async function deleteLink(end: LinkEnd): Promise<void> {
  await runNet('ip', ['link', 'delete', end.name], { netns: end.netns });
}

/**
 * Enslaves `port` to `bridge` (same namespace) and brings it up. Hairpin lets a frame
 * leave by the port it came in on: a pod reaching itself through its Service's address.
 */
export async function attachToBridge(
  port: LinkEnd,
  bridge: string,
  options: { hairpin: boolean },
): Promise<void> {
  await runNet('ip', ['link', 'set', port.name, 'master', bridge], { netns: port.netns });
  if (options.hairpin) {
    await runNet('ip', ['link', 'set', port.name, 'type', 'bridge_slave', 'hairpin', 'on'], {
      netns: port.netns,
    });
  }
  await setLinkUp(port);
}

/** Adds `address/prefix` (e.g. `10.99.0.2/24`) to an interface. */
export async function addAddress(end: LinkEnd, addressWithPrefix: string): Promise<void> {
  await runNet('ip', ['address', 'add', addressWithPrefix, 'dev', end.name], { netns: end.netns });
}

/** Whether the interface exists in its namespace. */
export async function linkExists(end: LinkEnd): Promise<boolean> {
  try {
    await runNet('ip', ['link', 'show', end.name], { netns: end.netns });
    return true;
  } catch {
    return false;
  }
}

/**
 * Sets a sysctl of a namespace (`net.ipv4.ip_forward`, ...). Network sysctls are per
 * namespace, so a node namespace's forwarding says nothing about the machine's.
 */
export async function setSysctl(netns: string | undefined, key: string, value: string): Promise<void> {
  if (!/^[a-z0-9_.-]+$/.test(key)) throw new InvalidNetworkSpecError(`sysctl key ${JSON.stringify(key)}`);
  if (netns === undefined) {
    writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, `${value}\n`);
    return;
  }
  await runNet('sysctl', ['-q', '-w', `${key}=${value}`], { netns });
}

export async function readSysctl(netns: string | undefined, key: string): Promise<string> {
  if (!/^[a-z0-9_.-]+$/.test(key)) throw new InvalidNetworkSpecError(`sysctl key ${JSON.stringify(key)}`);
  return (await runNet('sysctl', ['-n', key], { netns })).trim();
}
