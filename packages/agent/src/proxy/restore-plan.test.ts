import { describe, expect, it } from 'vitest';
import { service, slice } from '../../test/net-fixtures.ts';
import { ServiceCatalog, type ServiceObject } from '../net/service-catalog.ts';
import { endpointChainName, serviceChainName } from './chain-names.ts';
import { type InstalledChains, planRestore } from './restore-plan.ts';
import { jumpRules, type ProxyRules, proxyRules, proxyServicePorts } from './rules.ts';

function rulesOf(...objects: ServiceObject[]): ProxyRules {
  const catalog = new ServiceCatalog();
  for (const object of objects) catalog.apply({ kind: 'added', object });
  return proxyRules(proxyServicePorts(catalog.views()));
}

const installedOf = (rules: ProxyRules): InstalledChains => ({
  nat: new Set(rules.nat.keys()),
  filter: new Set(rules.filter.keys()),
});
const none: InstalledChains = { nat: new Set(), filter: new Set() };

const web = service('default', 'web', '10.96.0.20', [{ name: 'http', port: 80 }]);
const api = service('default', 'api', '10.96.0.21', [{ name: 'http', port: 80 }]);
const eps = (...ips: string[]) => ips.map((ip) => ({ ip }));
const port = [{ name: 'http', port: 8080 }];

describe('planRestore', () => {
  const before = rulesOf(
    web,
    api,
    slice('default', 'web', eps('10.244.1.2', '10.244.2.2', '10.244.3.2'), port),
    slice('default', 'api', eps('10.244.1.3'), port, 'api-1'),
  );

  it('writes every chain when nothing is known, and only declares, fills and deletes chains of ours', () => {
    const plan = planRestore(before, undefined, {
      nat: new Set(['FLOTILLA-SVC-STALESTALESTALE']),
      filter: new Set(),
    });
    const all = [
      ...[...before.nat.keys()].map((chain) => ({ table: 'nat', chain })),
      ...[...before.filter.keys()].map((chain) => ({ table: 'filter', chain })),
    ];
    expect(new Set(plan.written.map((c) => `${c.table} ${c.chain}`))).toEqual(
      new Set(all.map((c) => `${c.table} ${c.chain}`)),
    );
    expect(plan.deleted).toEqual([{ table: 'nat', chain: 'FLOTILLA-SVC-STALESTALESTALE' }]);
    const script = plan.script.split('\n');
    expect(script[0]).toBe('*nat');
    for (const line of script) {
      expect(line).toMatch(
        /^(\*nat|\*filter|COMMIT|:FLOTILLA-[A-Z0-9-]+ - \[0:0\]|-A FLOTILLA-[A-Z0-9-]+ .*|-X FLOTILLA-[A-Z0-9-]+|)$/,
      );
    }
    // Deletions come after every rule that could still jump to the deleted chain.
    expect(script.indexOf('-X FLOTILLA-SVC-STALESTALESTALE')).toBeGreaterThan(
      script.findLastIndex((l) => l.startsWith('-A ')),
    );
  });

  it('changes nothing when the rules are the same', () => {
    expect(planRestore(before, before, installedOf(before))).toEqual({
      script: '',
      written: [],
      deleted: [],
    });
  });

  it('rewrites only the Service chain and deletes only the endpoint chain when one endpoint goes', () => {
    const after = rulesOf(
      web,
      api,
      slice('default', 'web', eps('10.244.1.2', '10.244.3.2'), port),
      slice('default', 'api', eps('10.244.1.3'), port, 'api-1'),
    );
    const plan = planRestore(after, before, installedOf(before));
    expect(plan.written).toEqual([{ table: 'nat', chain: serviceChainName('default/web:http', 'TCP') }]);
    expect(plan.deleted).toEqual([
      { table: 'nat', chain: endpointChainName('default/web:http', 'TCP', '10.244.2.2:8080') },
    ]);
  });

  it('rewrites the entry chains and deletes the Service chains when a Service goes', () => {
    const after = rulesOf(web, slice('default', 'web', eps('10.244.1.2', '10.244.2.2', '10.244.3.2'), port));
    const plan = planRestore(after, before, installedOf(before));
    expect(plan.written).toEqual([{ table: 'nat', chain: 'FLOTILLA-SERVICES' }]);
    expect(plan.deleted.map((c) => c.chain).sort()).toEqual(
      [
        serviceChainName('default/api:http', 'TCP'),
        endpointChainName('default/api:http', 'TCP', '10.244.1.3:8080'),
      ].sort(),
    );
  });

  it('writes a chain again when it vanished from the kernel, even if the rules did not change', () => {
    const svc = serviceChainName('default/web:http', 'TCP');
    const installed = installedOf(before);
    const gone: InstalledChains = {
      nat: new Set([...installed.nat].filter((c) => c !== svc)),
      filter: installed.filter,
    };
    expect(planRestore(before, before, gone).written).toEqual([{ table: 'nat', chain: svc }]);
  });

  it('starts from nothing on a machine without chains of ours', () => {
    const plan = planRestore(before, undefined, none);
    expect(plan.deleted).toEqual([]);
    expect(plan.written.length).toBe(before.nat.size + before.filter.size);
  });

  it('inserts missing jumps from the built-in chains at their head, in the same transaction', () => {
    const jumps = jumpRules.filter((j) => j.chain === 'PREROUTING' || j.chain === 'FORWARD');
    const plan = planRestore(before, before, installedOf(before), jumps);
    expect(plan.written).toEqual([]);
    expect(plan.script).toBe(
      [
        '*nat',
        '-I PREROUTING 1 -m comment --comment "flotilla service portals" -j FLOTILLA-SERVICES',
        'COMMIT',
        '*filter',
        '-I FORWARD 1 -m conntrack --ctstate NEW -m comment --comment "flotilla service portals" -j FLOTILLA-SERVICES',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
});
