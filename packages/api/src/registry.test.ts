import { describe, expect, it } from 'vitest';
import { decodeObject } from './decode.ts';
import { applyDefaults } from './defaults.ts';
import {
  aggregatedDiscovery,
  aggregatedDiscoveryContentType,
  apiGroupList,
  apiResourceList,
  apiVersions,
  negotiateDiscovery,
} from './discovery.ts';
import { checkFieldSelector, matchesFields, parseFieldSelector, selectableFields } from './fields.ts';
import { SelectorError } from './labels.ts';
import { findResource, groupVersionOf, resourceByName, resourceForKind, resources } from './registry.ts';
import { hasPrinter, toTable } from './table.ts';
import type { Event, Pod } from './types/core.ts';
import { validateCreate } from './validation/validate.ts';

describe('registry', () => {
  it('finds resources by path, kind and every name a user types', () => {
    expect(findResource('apps', 'v1', 'deployments')?.kind).toBe('Deployment');
    expect(resourceForKind('v1', 'Pod')?.plural).toBe('pods');
    for (const [name, plural] of [
      ['po', 'pods'],
      ['svc', 'services'],
      ['deploy', 'deployments'],
      ['rs', 'replicasets'],
      ['ns', 'namespaces'],
      ['no', 'nodes'],
      ['cm', 'configmaps'],
      ['ep', 'endpoints'],
      ['ev', 'events'],
      ['pv', 'persistentvolumes'],
      ['pvc', 'persistentvolumeclaims'],
      ['deployments.apps', 'deployments'],
      ['Lease', 'leases'],
    ]) {
      expect(resourceByName(name as string)?.plural, name).toBe(plural);
    }
    expect(resourceByName('widgets')).toBeUndefined();
  });

  it('gives every resource a schema, columns with a printer, and validation', () => {
    for (const r of resources) {
      expect(r.schema.name.endsWith(`.${r.kind}`), r.kind).toBe(true);
      expect(hasPrinter(r), r.plural).toBe(true);
      // The pipeline the API server runs: decode (normalize), default, validate, print.
      const decoded = decodeObject({
        apiVersion: groupVersionOf(r),
        kind: r.kind,
        metadata: { name: 'x' },
      }).object;
      const empty = applyDefaults(decoded);
      expect(() => validateCreate(empty), r.kind).not.toThrow();
      const table = toTable(r, [empty], { nowMs: 0 });
      expect(table.rows[0]?.cells.length, r.plural).toBe(r.columns.length);
    }
  });
});

describe('discovery', () => {
  it('serves the legacy documents', () => {
    expect(apiVersions('10.0.0.1:6443')).toEqual({
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '10.0.0.1:6443' }],
    });
    expect(apiGroupList().groups.map((g) => g.preferredVersion.groupVersion)).toEqual([
      'apps/v1',
      'coordination.k8s.io/v1',
      'discovery.k8s.io/v1',
    ]);
    const core = apiResourceList('', 'v1');
    const names = core?.resources.map((r) => r.name) ?? [];
    expect(names).toEqual(
      expect.arrayContaining(['pods', 'pods/binding', 'pods/log', 'pods/status', 'nodes/status']),
    );
    expect(core?.resources.find((r) => r.name === 'pods')).toEqual({
      name: 'pods',
      singularName: 'pod',
      namespaced: true,
      kind: 'Pod',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: ['po'],
      categories: ['all'],
    });
    expect(apiResourceList('apps', 'v1')?.resources.find((r) => r.name === 'deployments/scale')).toEqual({
      name: 'deployments/scale',
      singularName: '',
      namespaced: true,
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
      verbs: ['get', 'patch', 'update'],
    });
    expect(apiResourceList('batch', 'v1')).toBeUndefined();
  });

  it('serves the aggregated documents kubectl 1.27+ asks for', () => {
    const core = aggregatedDiscovery('core', 'v2');
    expect(core.apiVersion).toBe('apidiscovery.k8s.io/v2');
    const pods = core.items[0]?.versions[0]?.resources.find((r) => r.resource === 'pods');
    expect(pods?.subresources?.map((s) => s.subresource)).toEqual(['binding', 'log', 'status']);
    expect(pods?.scope).toBe('Namespaced');
    const groups = aggregatedDiscovery('groups', 'v2beta1');
    expect(groups.items.map((i) => i.metadata.name)).toEqual([
      'apps',
      'coordination.k8s.io',
      'discovery.k8s.io',
    ]);
    const scale = groups.items[0]?.versions[0]?.resources.find((r) => r.resource === 'deployments')
      ?.subresources?.[0];
    expect(scale).toEqual({
      subresource: 'scale',
      responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
      verbs: ['get', 'patch', 'update'],
    });
  });

  it('negotiates with the Accept headers kubectl sends', () => {
    // Captured from kubectl 1.27 and 1.33 against a local server.
    const v127 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
    const v133 =
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
    expect(negotiateDiscovery(v127)).toEqual({ kind: 'aggregated', version: 'v2beta1' });
    expect(negotiateDiscovery(v133)).toEqual({ kind: 'aggregated', version: 'v2' });
    expect(negotiateDiscovery('application/json')).toEqual({ kind: 'legacy' });
    expect(negotiateDiscovery(undefined)).toEqual({ kind: 'legacy' });
    expect(negotiateDiscovery('application/vnd.kubernetes.protobuf')).toEqual({ kind: 'none' });
    expect(aggregatedDiscoveryContentType('v2')).toBe(
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    );
  });
});

describe('field selectors', () => {
  const pods = resourceForKind('v1', 'Pod');
  const events = resourceForKind('v1', 'Event');
  if (pods === undefined || events === undefined) throw new Error('registry incomplete');
  const pod = (nodeName: string | undefined, phase: 'Running' | 'Pending'): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { containers: [], ...(nodeName === undefined ? {} : { nodeName }) },
    status: { phase },
  });

  it('parses =, == and !=, with escapes', () => {
    expect(parseFieldSelector('spec.nodeName=n1,status.phase!=Running,metadata.name==a\\,b')).toEqual([
      { field: 'spec.nodeName', operator: '=', value: 'n1' },
      { field: 'status.phase', operator: '!=', value: 'Running' },
      { field: 'metadata.name', operator: '==', value: 'a,b' },
    ]);
    expect(() => parseFieldSelector('spec.nodeName')).toThrow(
      "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'",
    );
    expect(() => parseFieldSelector('a=b=c')).toThrow(SelectorError);
  });

  it('matches pods by node and phase; an unset field reads as empty', () => {
    const sel = parseFieldSelector('spec.nodeName=n1,status.phase=Running');
    expect(matchesFields(pods, sel, pod('n1', 'Running'))).toBe(true);
    expect(matchesFields(pods, sel, pod('n2', 'Running'))).toBe(false);
    expect(matchesFields(pods, parseFieldSelector('spec.nodeName='), pod(undefined, 'Pending'))).toBe(true);
    expect(matchesFields(pods, parseFieldSelector('metadata.namespace!=shop'), pod('n1', 'Running'))).toBe(
      false,
    );
  });

  it('matches events by their involved object', () => {
    const event: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'e', namespace: 'shop' },
      involvedObject: { kind: 'Pod', name: 'web', namespace: 'shop', uid: 'u1' },
      source: { component: 'scheduler' },
      reason: 'FailedScheduling',
    };
    expect(
      matchesFields(
        events,
        parseFieldSelector('involvedObject.kind=Pod,involvedObject.name=web,source=scheduler'),
        event,
      ),
    ).toBe(true);
    expect(selectableFields(events)).toContain('involvedObject.uid');
  });

  it('refuses fields a resource cannot select on', () => {
    expect(() =>
      checkFieldSelector(pods, parseFieldSelector('spec.restartPolicy=Always,spec.image=x')),
    ).toThrow('field label not supported: spec.image');
    const nodes = resourceForKind('v1', 'Node');
    if (nodes === undefined) throw new Error('no nodes');
    expect(() => checkFieldSelector(nodes, parseFieldSelector('metadata.namespace=x'))).toThrow(
      'field label not supported',
    );
  });
});
