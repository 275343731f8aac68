import { describe, expect, it } from 'vitest';
import { endpoints, service, slice } from '../../test/net-fixtures.ts';
import {
  InMemoryServiceSource,
  ServiceCatalog,
  ServiceSourceFullError,
  serviceView,
} from './service-catalog.ts';

const web = service('default', 'web', '10.96.0.20', [{ name: 'http', port: 80 }]);

describe('serviceView', () => {
  it('normalizes defaults: type, protocol, affinity, unnamed port', () => {
    const view = serviceView(
      service('ns', 'plain', '10.96.0.5', [{ port: 53, protocol: 'UDP' }], { sessionAffinity: 'ClientIP' }),
      [],
      undefined,
    );
    expect(view).toEqual({
      namespace: 'ns',
      name: 'plain',
      type: 'ClusterIP',
      address: { kind: 'clusterIP', ip: '10.96.0.5' },
      ports: [{ name: '', protocol: 'UDP', port: 53, nodePort: undefined }],
      sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 10_800 },
      publishNotReadyAddresses: false,
      endpoints: [],
    });
  });

  it('tells headless, ExternalName and unallocated Services apart', () => {
    expect(serviceView(service('a', 'h', 'None', []), [], undefined).address).toEqual({ kind: 'headless' });
    expect(
      serviceView(
        service('a', 'x', '', [], { type: 'ExternalName', externalName: 'db.example.com' }),
        [],
        undefined,
      ).address,
    ).toEqual({ kind: 'externalName', name: 'db.example.com' });
    expect(serviceView(service('a', 'u', '', []), [], undefined).address).toEqual({ kind: 'unallocated' });
  });

  it('prefers EndpointSlices, reads conditions, sorts addresses numerically', () => {
    const s = slice(
      'default',
      'web',
      [
        { ip: '10.244.0.10', nodeName: 'b' },
        { ip: '10.244.0.9', ready: false, hostname: 'w-1' },
      ],
      [{ name: 'http', port: 8080 }],
    );
    const legacy = endpoints('default', 'web', ['10.1.1.1'], [], [{ name: 'http', port: 1 }]);
    const view = serviceView(web, [s], legacy);
    expect(view.endpoints.map((e) => [e.ip, e.ready, e.hostname, e.nodeName])).toEqual([
      ['10.244.0.9', false, 'w-1', undefined],
      ['10.244.0.10', true, undefined, 'b'],
    ]);
    expect(view.endpoints[0]!.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080 }]);
  });

  it('falls back to the Endpoints object, not-ready addresses included as not ready', () => {
    const view = serviceView(
      web,
      [],
      endpoints('default', 'web', ['10.244.1.2'], ['10.244.1.3'], [{ name: 'http', port: 8080 }]),
    );
    expect(view.endpoints.map((e) => [e.ip, e.ready])).toEqual([
      ['10.244.1.2', true],
      ['10.244.1.3', false],
    ]);
  });
});

describe('ServiceCatalog', () => {
  it('reports which Services each event changed, and follows a slice that moves between Services', () => {
    const catalog = new ServiceCatalog();
    expect(catalog.apply({ kind: 'added', object: web })).toEqual(['default/web']);
    const s = slice('default', 'web', [{ ip: '10.244.0.2' }], [{ name: 'http', port: 8080 }], 'shared');
    expect(catalog.apply({ kind: 'added', object: s })).toEqual(['default/web']);
    expect(catalog.view('default/web')!.endpoints).toHaveLength(1);
    const moved = slice('default', 'api', [{ ip: '10.244.0.2' }], [{ name: 'http', port: 8080 }], 'shared');
    expect(catalog.apply({ kind: 'updated', object: moved })).toEqual(['default/web', 'default/api']);
    expect(catalog.view('default/web')!.endpoints).toHaveLength(0);
    expect(catalog.apply({ kind: 'deleted', object: moved })).toEqual(['default/api']);
    expect(catalog.apply({ kind: 'deleted', object: web })).toEqual(['default/web']);
    expect(catalog.view('default/web')).toBeUndefined();
    expect(catalog.synced).toBe(false);
    catalog.apply({ kind: 'synced' });
    expect(catalog.synced).toBe(true);
  });

  it('keeps a view until its Service changes', () => {
    const catalog = new ServiceCatalog();
    catalog.apply({ kind: 'added', object: web });
    const first = catalog.view('default/web');
    expect(catalog.view('default/web')).toBe(first);
    catalog.apply({ kind: 'added', object: slice('default', 'web', [{ ip: '10.244.0.2' }], []) });
    expect(catalog.view('default/web')).not.toBe(first);
  });
});

describe('InMemoryServiceSource', () => {
  it('delivers events in order and refuses more than its bound', async () => {
    const source = new InMemoryServiceSource(3);
    source.upsert(web);
    source.synced();
    source.delete(web);
    expect(() => source.synced()).toThrow(ServiceSourceFullError);
    source.close();
    const seen: string[] = [];
    for await (const e of source) seen.push(e.kind);
    expect(seen).toEqual(['updated', 'synced', 'deleted']);
  });
});
