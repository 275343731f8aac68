import { describe, expect, test } from 'vitest';
import { containerdConfig } from './containerd/containerd-config.ts';
import { bridgeNameFor, nodePaths } from './node-paths.ts';

describe('node paths', () => {
  test('every path and the bridge derive from the node: two nodes share nothing', () => {
    const a = nodePaths('node-a');
    const b = nodePaths('node-b');
    expect(a.dataDir).toBe('/var/lib/flotilla/agent/node-a');
    const values = (p: typeof a) =>
      Object.entries(p)
        .filter(([k]) => k !== 'nodeName')
        .map(([, v]) => v);
    for (const v of values(a)) expect(values(b)).not.toContain(v);
    expect(a.bridge).toMatch(/^flo[0-9a-f]{10}$/);
    expect(bridgeNameFor('node-a')).toBe(a.bridge);
    expect(a.bridge.length).toBeLessThanOrEqual(15);
  });

  test('names that are not DNS names, and socket paths too long for Linux, are refused', () => {
    expect(() => nodePaths('Node_A')).toThrow('not a DNS name');
    expect(() => nodePaths('n', `/tmp/${'x'.repeat(100)}`)).toThrow('longer than');
  });

  test("containerd's config: the node's own directories, and the settings these machines need", () => {
    const p = nodePaths('node-a', '/d/node-a');
    const toml = containerdConfig(p);
    for (const want of [
      'version = 2',
      'root = "/d/node-a/containerd/root"',
      'state = "/d/node-a/containerd/state"',
      'address = "/d/node-a/containerd/containerd.sock"',
      'sandbox_image = "localhost/pause:1"',
      'restrict_oom_score_adj = true',
      'netns_mounts_under_state_dir = true',
      'stream_server_address = "127.0.0.1"',
      'stream_server_port = "0"',
      'BinaryName = "/usr/sbin/runc"',
      'Root = "/d/node-a/runc"',
      'bin_dir = "/usr/lib/cni"',
      'conf_dir = "/d/node-a/cni/net.d"',
      'max_conf_num = 1',
    ]) {
      expect(toml).toContain(want);
    }
    expect(toml).toContain('"io.containerd.internal.v1.opt"');
  });
});
