import { describe, expect, it } from 'vitest';
import * as api from './index.ts';

// The package's only entry point must load on its own and carry the pieces the API
// server composes: decode → defaults → prepare → validate, then print.
describe('public surface', () => {
  it('runs a create through the whole pipeline', () => {
    const info = api.findResource('apps', 'v1', 'deployments');
    if (info === undefined) throw new Error('deployments are not served');
    const body = api.parseYamlBody(
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: "nginx:1.25"}]}\n',
    );
    const { object } = api.decodeFor(info, body, { fieldValidation: 'Strict' });
    const prepared = api.prepareForCreate(info, api.applyDefaults(object), {
      uid: 'u',
      nowMs: 0,
      random: () => 0,
    });
    expect(api.validateCreate(prepared)).toEqual([]);
    const table = api.toTable(info, [prepared], { nowMs: 60_000 });
    expect(table.rows[0]?.cells.slice(0, 5)).toEqual(['web', '0/1', 0, 0, '60s']);
  });
});
