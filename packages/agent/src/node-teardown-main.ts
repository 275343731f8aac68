// Removes one agent node's state from inside its network namespace (run under nsenter
// by `teardownNodeInNetns`, for `flo down` and the test harnesses): its pods, containerd,
// shims, cgroups, mounts, bridge, blackhole route and data directory.
// Usage: node node-teardown-main.ts <node> <dataDir> <podCIDR>
import { createLogger } from '@flotilla/actor';
import { destroyNodeState } from './containerd-node.ts';
import { nodePaths } from './node-paths.ts';

const [node, dataDir, podCIDR] = process.argv.slice(2);
if (node === undefined || dataDir === undefined || podCIDR === undefined || podCIDR === '') {
  process.stderr.write('usage: node-teardown-main.ts <node> <dataDir> <podCIDR>\n');
  process.exit(2);
}
const logger = createLogger({ level: process.env.FLOTILLA_LOG_LEVEL ?? 'info' });
await destroyNodeState(nodePaths(node, dataDir), podCIDR, logger);
