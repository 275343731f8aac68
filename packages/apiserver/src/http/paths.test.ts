import { describe, expect, it } from 'vitest';
import { parseApiPath } from './paths.ts';

const summary = (path: string) => {
  const p = parseApiPath(path);
  switch (p.kind) {
    case 'collection':
      return `collection ${p.info.group}/${p.info.plural} ns=${p.namespace ?? '-'}`;
    case 'object':
      return `object ${p.info.group}/${p.info.plural} ns=${p.namespace ?? '-'} name=${p.name} sub=${p.subresource ?? '-'}`;
    case 'group':
      return `group ${p.group}`;
    case 'resources':
      return `resources ${p.group}/${p.version}`;
    default:
      return p.kind;
  }
};

describe('parseApiPath', () => {
  it('reads discovery paths', () => {
    expect(summary('/api')).toBe('coreVersions');
    expect(summary('/apis')).toBe('groups');
    expect(summary('/apis/apps')).toBe('group apps');
    expect(summary('/api/v1')).toBe('resources /v1');
    expect(summary('/apis/coordination.k8s.io/v1')).toBe('resources coordination.k8s.io/v1');
  });

  it('reads namespaced collections and objects with their subresources', () => {
    expect(summary('/api/v1/pods')).toBe('collection /pods ns=-');
    expect(summary('/api/v1/namespaces/default/pods')).toBe('collection /pods ns=default');
    expect(summary('/api/v1/namespaces/default/pods/web-1')).toBe('object /pods ns=default name=web-1 sub=-');
    expect(summary('/api/v1/namespaces/default/pods/web-1/log')).toBe(
      'object /pods ns=default name=web-1 sub=log',
    );
    expect(summary('/apis/apps/v1/namespaces/shop/deployments/web/scale')).toBe(
      'object apps/deployments ns=shop name=web sub=scale',
    );
  });

  it('tells the namespaces resource from the namespaced paths under it', () => {
    expect(summary('/api/v1/namespaces')).toBe('collection /namespaces ns=-');
    expect(summary('/api/v1/namespaces/shop')).toBe('object /namespaces ns=- name=shop sub=-');
    expect(summary('/api/v1/namespaces/shop/finalize')).toBe(
      'object /namespaces ns=- name=shop sub=finalize',
    );
    expect(summary('/api/v1/namespaces/shop/status')).toBe('object /namespaces ns=- name=shop sub=status');
    expect(summary('/api/v1/nodes/n1/status')).toBe('object /nodes ns=- name=n1 sub=status');
  });

  it('decodes escaped segments and refuses what names no resource', () => {
    expect(summary('/api/v1/namespaces/default/configmaps/a%2Eb')).toBe(
      'object /configmaps ns=default name=a.b sub=-',
    );
    for (const bad of [
      '/apis/foo/v1/bars',
      '/api/v2/pods',
      '/apis/v1/pods',
      '/api/v1/namespaces/default/nodes',
      '/api/v1/pods/web',
      '/api/v1/namespaces/default/pods/a/log/more',
      '/api/v1/nodes/n1/status/more',
      '/api/v1/namespaces/default/pods/%E0%A4%A',
      '/apis/core',
    ]) {
      expect(parseApiPath(bad).kind, bad).toBe('unknown');
    }
  });
});
