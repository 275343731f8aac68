import { describe, expect, it } from 'vitest';
import { negotiate } from './negotiation.ts';

// What kubectl get sends (1.27 through 1.33).
const kubectlGet =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

describe('negotiate', () => {
  it('gives kubectl get a Table and plain clients JSON', () => {
    expect(negotiate(kubectlGet, true)).toEqual({ kind: 'table', version: 'v1' });
    expect(negotiate(kubectlGet, false)).toEqual({ kind: 'json' });
    expect(negotiate(undefined, true)).toEqual({ kind: 'json' });
    expect(negotiate('application/json, */*', true)).toEqual({ kind: 'json' });
    expect(negotiate('application/yaml', true)).toEqual({ kind: 'yaml' });
  });

  it('serves metadata only when asked, and nothing for protobuf alone', () => {
    expect(negotiate('application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io', true)).toEqual({
      kind: 'metadata',
      version: 'v1',
    });
    expect(negotiate('application/vnd.kubernetes.protobuf', true)).toBeUndefined();
    expect(negotiate('application/json;as=Table;v=v2;g=meta.k8s.io', true)).toBeUndefined();
    expect(negotiate('application/vnd.kubernetes.protobuf, application/json', true)).toEqual({
      kind: 'json',
    });
  });
});
