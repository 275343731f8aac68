import { fromWireError, toWireError } from '@flotilla/actor';
import { describe, expect, it } from 'vitest';
import { invalid as invalidField, required } from './field-errors.ts';
import {
  alreadyExists,
  badRequest,
  conflict,
  generateNameConflict,
  internalError,
  invalid,
  isConflict,
  isNotFound,
  isResourceExpired,
  methodNotSupported,
  namespaceTerminating,
  notFound,
  requestEntityTooLarge,
  StatusError,
  staleResourceVersion,
  tooOldResourceVersion,
  unsupportedMediaType,
} from './status.ts';

const deployments = { group: 'apps', resource: 'deployments' };
const pods = { group: '', resource: 'pods' };

describe('Status errors', () => {
  it('words messages as kubectl prints them', () => {
    expect(notFound(pods, 'web').status).toEqual({
      apiVersion: 'v1',
      kind: 'Status',
      metadata: {},
      status: 'Failure',
      message: 'pods "web" not found',
      reason: 'NotFound',
      details: { name: 'web', group: '', kind: 'pods' },
      code: 404,
    });
    expect(alreadyExists(deployments, 'web').status).toMatchObject({
      code: 409,
      reason: 'AlreadyExists',
      message: 'deployments.apps "web" already exists',
    });
    expect(staleResourceVersion(deployments, 'web').status).toMatchObject({
      code: 409,
      reason: 'Conflict',
      message:
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again',
      details: { name: 'web', group: 'apps', kind: 'deployments' },
    });
    expect(tooOldResourceVersion(5, 120).status).toMatchObject({
      code: 410,
      reason: 'Expired',
      message: 'too old resource version: 5 (120)',
    });
    expect(requestEntityTooLarge(3145728).status).toMatchObject({
      code: 413,
      reason: 'RequestEntityTooLarge',
      message: 'Request entity too large: limit is 3145728',
    });
    expect(methodNotSupported({ group: '', resource: 'pods/log' }, 'create').status).toMatchObject({
      code: 405,
      reason: 'MethodNotAllowed',
      message: 'create is not supported on resources of kind "pods/log"',
    });
    expect(unsupportedMediaType('text/plain', ['application/json']).status.code).toBe(415);
    expect(badRequest('nope').status).toMatchObject({ code: 400, reason: 'BadRequest', message: 'nope' });
    expect(internalError('disk on fire').status).toMatchObject({
      code: 500,
      message: 'Internal error occurred: disk on fire',
    });
    expect(generateNameConflict(pods, 'web-abcde', 1).status.details?.retryAfterSeconds).toBe(1);
    expect(namespaceTerminating(pods, 'web', 'shop').status.message).toBe(
      'pods "web" is forbidden: unable to create new content in namespace shop because it is being terminated',
    );
  });

  it('builds a 422 with one cause per field error', () => {
    const err = invalid({ group: '', kind: 'Pod' }, 'web', [
      required('spec.containers[0].image'),
      invalidField('spec.containers[0].name', 'Web', 'a lowercase RFC 1123 label must consist of ...'),
    ]);
    expect(err.status.message).toBe(
      'Pod "web" is invalid: [spec.containers[0].image: Required value, spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of ...]',
    );
    expect(err.status.details?.causes).toEqual([
      { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' },
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: "Web": a lowercase RFC 1123 label must consist of ...',
        field: 'spec.containers[0].name',
      },
    ]);
  });

  it('crosses the wire as itself, with its Status', () => {
    const original = conflict(deployments, 'web', 'stale');
    const back = fromWireError(toWireError(original));
    expect(back).toBeInstanceOf(StatusError);
    expect((back as StatusError).status).toEqual(original.status);
    expect(isConflict(back)).toBe(true);
    expect(isNotFound(back)).toBe(false);
    expect(isResourceExpired(tooOldResourceVersion(1, 2))).toBe(true);
    expect(isNotFound(new Error('x'))).toBe(false);
  });
});
