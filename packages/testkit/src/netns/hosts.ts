import { destroyUnderlay, Underlay, type UnderlayOptions } from '@flotilla/agent/net';
import { registerCleanup } from '../cleanup.ts';

/**
 * An underlay with `hosts` (network namespaces acting as machines, addresses in order
 * from .2), removed when the test file ends. Whatever a crashed run of the same name
 * left behind is removed first.
 */
export async function startUnderlay(
  options: UnderlayOptions & { readonly hosts: readonly string[] },
): Promise<Underlay> {
  await destroyUnderlay(options);
  const underlay = await Underlay.create(options);
  registerCleanup({ name: `underlay ${options.name}`, run: () => underlay.destroy() });
  for (const host of options.hosts) await underlay.addHost(host);
  return underlay;
}
