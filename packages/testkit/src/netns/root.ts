/** Namespaces, bridges, routes and iptables need root. */
export const runsAsRoot = process.getuid?.() === 0;

/** Prints the one line saying why a root-only suite skips; returns whether it runs. */
export function reportRootSkip(suite: string): boolean {
  if (!runsAsRoot)
    process.stdout.write(`${suite}: skipped, needs root (network namespaces, bridges, iptables)\n`);
  return runsAsRoot;
}
