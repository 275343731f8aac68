import { findResource, type ResourceInfo, StatusError } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { operationOf } from './operations.ts';
import type { ApiPath } from './paths.ts';

const pods = findResource('', 'v1', 'pods') as ResourceInfo;
const namespaces = findResource('', 'v1', 'namespaces') as ResourceInfo;
const deployments = findResource('apps', 'v1', 'deployments') as ResourceInfo;

const collection = (info: ResourceInfo, namespace?: string): Extract<ApiPath, { kind: 'collection' }> => ({
  kind: 'collection',
  info,
  namespace,
});
const object = (info: ResourceInfo, name: string, namespace?: string, subresource?: string) =>
  ({ kind: 'object', info, namespace, name, subresource }) as const;

function statusCode(run: () => unknown): number {
  try {
    run();
  } catch (err) {
    if (err instanceof StatusError) return err.status.code;
    throw err;
  }
  return 200;
}

describe('operationOf', () => {
  it('maps methods on collections to list, watch, create and deletecollection', () => {
    expect(operationOf('GET', collection(pods, 'default'), false).verb).toBe('list');
    expect(operationOf('GET', collection(pods), true).verb).toBe('watch');
    expect(operationOf('POST', collection(pods, 'default'), false).verb).toBe('create');
    expect(operationOf('DELETE', collection(pods, 'default'), false).verb).toBe('deletecollection');
  });

  it('maps subresources to their verbs', () => {
    expect(operationOf('GET', object(pods, 'p', 'default', 'log'), false).verb).toBe('log');
    expect(operationOf('POST', object(pods, 'p', 'default', 'binding'), false).verb).toBe('bind');
    expect(operationOf('PUT', object(namespaces, 'n', undefined, 'finalize'), false)).toMatchObject({
      verb: 'update',
      subresource: 'finalize',
    });
    expect(operationOf('PATCH', object(deployments, 'd', 'x', 'scale'), false)).toMatchObject({
      verb: 'patch',
      subresource: 'scale',
    });
    expect(operationOf('GET', object(deployments, 'd', 'x', 'status'), false)).toMatchObject({
      verb: 'get',
      subresource: 'status',
    });
  });

  it('answers 405 for verbs a resource does not serve and 404 for unknown subresources', () => {
    expect(statusCode(() => operationOf('DELETE', collection(namespaces), false))).toBe(405);
    expect(statusCode(() => operationOf('POST', collection(pods), false))).toBe(405);
    expect(statusCode(() => operationOf('PUT', object(pods, 'p', 'default', 'log'), false))).toBe(405);
    expect(
      statusCode(() => operationOf('PATCH', object(namespaces, 'n', undefined, 'finalize'), false)),
    ).toBe(405);
    expect(statusCode(() => operationOf('GET', object(pods, 'p', 'default', 'exec'), false))).toBe(404);
    expect(statusCode(() => operationOf('OPTIONS', object(pods, 'p', 'default'), false))).toBe(405);
  });
});
