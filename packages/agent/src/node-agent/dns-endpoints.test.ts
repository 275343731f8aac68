import type { Node } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { dnsMembers, dnsSubsets, withNodeReadiness } from './dns-endpoints.ts';

const node = (name: string, ready: 'True' | 'False' | 'Unknown'): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  status: { conditions: [{ type: 'Ready', status: ready }] },
});

describe('kube-dns endpoints', () => {
  it('keeps a ready node ready, moves a NotReady one aside, drops a deleted one, leaves hand-made ones', () => {
    const members = dnsMembers([
      {
        addresses: [{ ip: '10.0.0.3', nodeName: 'b' }, { ip: '10.0.0.2', nodeName: 'a' }, { ip: '10.0.0.9' }],
        notReadyAddresses: [{ ip: '10.0.0.4', nodeName: 'c' }],
      },
    ]);
    const nodes = new Map([
      ['a', node('a', 'True')],
      ['b', node('b', 'Unknown')],
      ['c', node('c', 'True')],
    ]);
    expect(dnsSubsets(withNodeReadiness(members, nodes), 53)).toEqual([
      {
        addresses: [{ ip: '10.0.0.2', nodeName: 'a' }, { ip: '10.0.0.4', nodeName: 'c' }, { ip: '10.0.0.9' }],
        notReadyAddresses: [{ ip: '10.0.0.3', nodeName: 'b' }],
        ports: [
          { name: 'dns', protocol: 'UDP', port: 53 },
          { name: 'dns-tcp', protocol: 'TCP', port: 53 },
        ],
      },
    ]);
    nodes.delete('b');
    expect(withNodeReadiness(members, nodes).map((m) => m.ip)).toEqual(['10.0.0.2', '10.0.0.9', '10.0.0.4']);
  });

  it('has no subset without members', () => {
    expect(dnsSubsets([], 53)).toEqual([]);
    expect(dnsMembers(undefined)).toEqual([]);
  });
});
