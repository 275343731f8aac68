import { describe, expect, it } from 'vitest';
import { service, slice } from '../../test/net-fixtures.ts';
import { ServiceCatalog, type ServiceObject } from '../net/service-catalog.ts';
import { endpointChainName, maxChainNameLength, serviceChainName } from './chain-names.ts';
import { type ProxyRules, proxyRules, proxyServicePorts, renderRule } from './rules.ts';

function portsOf(...objects: ServiceObject[]) {
  const catalog = new ServiceCatalog();
  for (const object of objects) catalog.apply({ kind: 'added', object });
  return proxyServicePorts(catalog.views());
}

function lines(rules: ProxyRules, table: 'nat' | 'filter', chain: string): string[] {
  return (rules[table].get(chain) ?? []).map((r) => renderRule(chain, r));
}

const web = service('default', 'web', '10.96.0.20', [{ name: 'http', port: 80, nodePort: 30080 }]);
const webSlice = slice(
  'default',
  'web',
  [{ ip: '10.244.2.5' }, { ip: '10.244.1.5' }, { ip: '10.244.1.10' }, { ip: '10.244.1.11', ready: false }],
  [{ name: 'http', port: 8080 }],
);

describe('proxyServicePorts', () => {
  it('keeps ready endpoints serving the port by name and protocol, in address order', () => {
    const other = slice(
      'default',
      'web',
      [{ ip: '10.244.3.3' }],
      [{ name: 'metrics', port: 9090 }],
      'web-other',
    );
    const ports = portsOf(web, webSlice, other);
    expect(ports).toEqual([
      {
        key: 'default/web:http',
        protocol: 'TCP',
        clusterIP: '10.96.0.20',
        port: 80,
        nodePort: 30080,
        affinity: { kind: 'None' },
        endpoints: [
          { ip: '10.244.1.5', port: 8080 },
          { ip: '10.244.1.10', port: 8080 },
          { ip: '10.244.2.5', port: 8080 },
        ],
      },
    ]);
  });

  it('routes neither headless nor ExternalName Services, and gives NodePorts only to NodePort types', () => {
    const headless = service('default', 'h', 'None', [{ name: 'x', port: 1 }]);
    const ext = service('default', 'e', '', [], { type: 'ExternalName', externalName: 'a.b' });
    const clusterOnly = service('default', 'c', '10.96.0.30', [{ port: 81, nodePort: 30081 }], {
      type: 'ClusterIP',
    });
    const ports = portsOf(headless, ext, clusterOnly);
    expect(ports.map((p) => [p.key, p.nodePort])).toEqual([['default/c', undefined]]);
  });
});

describe('proxyRules', () => {
  const rules = proxyRules(portsOf(web, webSlice));
  const svc = serviceChainName('default/web:http', 'TCP');
  const seps = ['10.244.1.5', '10.244.1.10', '10.244.2.5'].map((ip) =>
    endpointChainName('default/web:http', 'TCP', `${ip}:8080`),
  );

  it('sends the cluster IP and the NodePort to the Service chain, the NodePort marked for masquerade', () => {
    expect(lines(rules, 'nat', 'FLOTILLA-SERVICES')).toEqual([
      `-A FLOTILLA-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j ${svc}`,
      '-A FLOTILLA-SERVICES -m comment --comment "flotilla service nodeports - must be last" ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j FLOTILLA-NODEPORTS',
    ]);
    expect(lines(rules, 'nat', 'FLOTILLA-NODEPORTS')).toEqual([
      '-A FLOTILLA-NODEPORTS -p tcp -m comment --comment default/web:http -m tcp --dport 30080 -j FLOTILLA-MARK-MASQ',
      `-A FLOTILLA-NODEPORTS -p tcp -m comment --comment default/web:http -m tcp --dport 30080 -j ${svc}`,
    ]);
  });

  it('picks each of n endpoints with probability 1/n, 1/(n-1), ..., then the last for sure', () => {
    expect(lines(rules, 'nat', svc)).toEqual([
      `-A ${svc} -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.3333333333 -j ${seps[0]}`,
      `-A ${svc} -m comment --comment "default/web:http -> 10.244.1.10:8080" -m statistic --mode random --probability 0.5000000000 -j ${seps[1]}`,
      `-A ${svc} -m comment --comment "default/web:http -> 10.244.2.5:8080" -j ${seps[2]}`,
    ]);
  });

  it('DNATs in each endpoint chain, masquerading only the endpoint reaching itself', () => {
    expect(lines(rules, 'nat', seps[0]!)).toEqual([
      `-A ${seps[0]} -s 10.244.1.5/32 -m comment --comment default/web:http -j FLOTILLA-MARK-MASQ`,
      `-A ${seps[0]} -p tcp -m comment --comment default/web:http -j DNAT --to-destination 10.244.1.5:8080`,
    ]);
    expect(lines(rules, 'nat', 'FLOTILLA-POSTROUTING')).toEqual([
      '-A FLOTILLA-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
      '-A FLOTILLA-POSTROUTING -j MARK --xor-mark 0x4000',
      '-A FLOTILLA-POSTROUTING -m comment --comment "flotilla service traffic requiring SNAT" -j MASQUERADE',
    ]);
    expect(lines(rules, 'filter', 'FLOTILLA-SERVICES')).toEqual([]);
  });

  it('remembers a client with -m recent when the Service has ClientIP affinity', () => {
    const sticky = service('default', 'web', '10.96.0.20', [{ name: 'http', port: 80 }], {
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
    });
    const r = proxyRules(portsOf(sticky, webSlice));
    const chain = lines(r, 'nat', svc);
    expect(chain.slice(0, 3)).toEqual(
      seps.map(
        (sep, i) =>
          `-A ${svc} -m comment --comment "default/web:http -> ${['10.244.1.5', '10.244.1.10', '10.244.2.5'][i]}:8080" -m recent --name ${sep} --rcheck --seconds 60 --reap -j ${sep}`,
      ),
    );
    expect(chain).toHaveLength(6);
    expect(lines(r, 'nat', seps[2]!)[1]).toBe(
      `-A ${seps[2]} -p tcp -m comment --comment default/web:http -m recent --name ${seps[2]} --set -j DNAT --to-destination 10.244.2.5:8080`,
    );
  });

  it('rejects new connections to a port without endpoints instead of leaving them to time out', () => {
    const empty = proxyRules(
      portsOf(
        web,
        slice('default', 'web', [{ ip: '10.244.1.5', ready: false }], [{ name: 'http', port: 8080 }]),
      ),
    );
    expect(lines(empty, 'filter', 'FLOTILLA-SERVICES')).toEqual([
      '-A FLOTILLA-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http has no endpoints" -m tcp --dport 80 -j REJECT',
    ]);
    expect(
      [...empty.nat.keys()].filter((c) => c.startsWith('FLOTILLA-S') && c !== 'FLOTILLA-SERVICES'),
    ).toEqual([]);
  });

  it('gives every endpoint an equal share, for any count', () => {
    for (let n = 1; n <= 40; n++) {
      const eps = Array.from({ length: n }, (_, i) => ({ ip: `10.244.0.${i + 1}` }));
      const r = proxyRules(portsOf(web, slice('default', 'web', eps, [{ name: 'http', port: 8080 }])));
      let remaining = 1;
      for (const rule of r.nat.get(svc)!) {
        const i = rule.indexOf('--probability');
        const p = i < 0 ? 1 : Number(rule[i + 1]);
        expect(remaining * p).toBeCloseTo(1 / n, 9);
        remaining *= 1 - p;
      }
      expect(remaining).toBeCloseTo(0, 9);
    }
  });

  it('names chains stably, distinctly, and within iptables limits', () => {
    expect(serviceChainName('default/web:http', 'TCP')).toBe(svc);
    const names = new Set<string>();
    for (let i = 0; i < 500; i++) {
      for (const name of [
        serviceChainName(`ns/s${i}:p`, 'TCP'),
        endpointChainName(`ns/s${i}:p`, 'TCP', '10.0.0.1:80'),
      ]) {
        expect(name.length).toBeLessThanOrEqual(maxChainNameLength);
        expect(name).toMatch(/^FLOTILLA-(SVC|SEP)-[A-Z2-7]{15}$/);
        names.add(name);
      }
    }
    expect(names.size).toBe(1000);
    expect(serviceChainName('default/web:http', 'UDP')).not.toBe(svc);
  });

  it('strips anything but name characters from comments', () => {
    expect(renderRule('X', ['-m', 'comment', '--comment', 'a "b" c', '-j', 'Y'])).toBe(
      '-A X -m comment --comment "a b c" -j Y',
    );
  });
});
