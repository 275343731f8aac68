import { describe, expect, it } from 'vitest';
import { podResolvConf } from './resolv-conf.ts';

describe('podResolvConf', () => {
  it('points at the cluster DNS with the namespace search path and ndots:5', () => {
    expect(podResolvConf({ nameservers: ['10.96.0.10'], namespace: 'shop', domain: 'cluster.local' })).toBe(
      'nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    );
  });

  it('keeps at most three nameservers, as the C libraries read no more', () => {
    const text = podResolvConf({
      nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3', '4.4.4.4'],
      namespace: 'a',
      domain: 'c.l',
    });
    expect(text.match(/^nameserver/gm)).toHaveLength(3);
  });
});
