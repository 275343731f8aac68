import type { Node } from '@flotilla/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.ts';
import { nodesResource } from '../resources.ts';
import { Harness } from '../testing/harness.ts';
import { node } from '../testing/objects.ts';
import { waitFor } from '../testing/wait.ts';
import { NodeIpamController } from './node-ipam-controller.ts';

let h: Harness;
afterEach(async () => {
  await h.stop();
});

const cidrs = (): Record<string, string | undefined> =>
  Object.fromEntries(h.api.objects<Node>(nodesResource).map((n) => [n.metadata.name ?? '', n.spec?.podCIDR]));

describe('NodeIpamController', () => {
  it('gives every node its own subnet, keeps given ones, and reuses a deleted node’s', async () => {
    h = new Harness();
    const nodes = h.api.resource<Node>(nodesResource);
    const preset = node('preset');
    await nodes.create({ ...preset, spec: { podCIDR: '10.9.0.0/24', podCIDRs: ['10.9.0.0/24'] } });
    await h.run((ctx) => new NodeIpamController(ctx, { clusterCIDR: '10.9.0.0/16', nodeMaskSize: 24 }));
    for (const n of ['a', 'b', 'c']) await nodes.create(node(n));
    await waitFor('all allocated', () => Object.values(cidrs()).every((c) => c !== undefined));
    const first = cidrs();
    expect(first.preset).toBe('10.9.0.0/24');
    expect(new Set(Object.values(first)).size).toBe(4);
    expect(Object.values(first).every((c) => /^10\.9\.[0-3]\.0\/24$/.test(c ?? ''))).toBe(true);
    expect((await nodes.get('a')).spec?.podCIDRs).toEqual([first.a]);
    await nodes.delete('b');
    await nodes.create(node('d'));
    await waitFor('d allocated', () => cidrs().d !== undefined);
    expect(cidrs().d).toBe(first.b);
  });

  it('refuses a node mask that does not fit the cluster CIDR', () => {
    h = new Harness();
    expect(() => new NodeIpamController(h.ctx, { clusterCIDR: '10.9.0.0/24', nodeMaskSize: 16 })).toThrow(
      ConfigError,
    );
  });
});
