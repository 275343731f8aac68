/**
 * API errors as Kubernetes' `Status` objects, with the HTTP code, `reason`, `details` and
 * messages kubectl prints (k8s.io/apimachinery/pkg/api/errors). `StatusError` carries the
 * Status through a throw and across NATS (registered as a remote error), so a controller
 * calling the API over NATS sees the same NotFound or Conflict as kubectl over HTTP.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#api-errors
 */
import { FlotillaError, registerRemoteError } from '@flotilla/actor';
import type { FieldError } from './field-errors.ts';
import { causeTypeOf, fieldErrorBody, formatFieldErrors } from './field-errors.ts';
import type { Status, StatusCause, StatusDetails, StatusReason } from './types/meta.ts';

/** A resource with its group: `{ group: 'apps', resource: 'deployments' }`. */
export type GroupResource = { readonly group: string; readonly resource: string };
/** A kind with its group: `{ group: 'apps', kind: 'Deployment' }`. */
export type GroupKind = { readonly group: string; readonly kind: string };

/** The wire code of StatusError (FlotillaError.code). */
export const statusErrorCode = 'ApiStatus';

export class StatusError extends FlotillaError {
  readonly status: Status;
  constructor(status: Status) {
    super(statusErrorCode, status.message ?? status.reason ?? `status ${status.code}`, status);
    this.status = status;
  }
  /** The HTTP status code (404, 409, ...). */
  get httpCode(): number {
    return this.status.code;
  }
  get reason(): StatusReason {
    return this.status.reason ?? '';
  }
}

export function isStatus(value: unknown): value is Status {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.kind === 'Status' && typeof v.code === 'number' && (v.status === 'Success' || v.status === 'Failure')
  );
}

registerRemoteError(statusErrorCode, (message, data) =>
  isStatus(data) ? new StatusError(data) : new StatusError(failure(500, 'InternalError', message)),
);

/** `deployments.apps`, or `pods` for the core group, as in kubectl's messages. */
export function qualifiedResource(gr: GroupResource): string {
  return gr.group === '' ? gr.resource : `${gr.resource}.${gr.group}`;
}

/** `Deployment.apps`, or `Pod` for the core group. */
export function qualifiedKind(gk: GroupKind): string {
  return gk.group === '' ? gk.kind : `${gk.kind}.${gk.group}`;
}

function failure(code: number, reason: StatusReason, message: string, details?: StatusDetails): Status {
  return {
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

function resourceDetails(gr: GroupResource, name: string): StatusDetails {
  return { name, group: gr.group, kind: gr.resource };
}

/** A successful Status, e.g. the answer to deleting a collection. */
export function successStatus(details?: StatusDetails): Status {
  return {
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Success',
    ...(details === undefined ? {} : { details }),
    code: 200,
  };
}

/** 400: a malformed request or body. */
export function badRequest(message: string, causes?: readonly StatusCause[]): StatusError {
  return new StatusError(failure(400, 'BadRequest', message, causes === undefined ? undefined : { causes }));
}

/** 401. */
export function unauthorized(message: string): StatusError {
  return new StatusError(failure(401, 'Unauthorized', message));
}

/** 403: `pods "web" is forbidden: <why>`. */
export function forbidden(gr: GroupResource, name: string, why: string): StatusError {
  const what = name === '' ? qualifiedResource(gr) : `${qualifiedResource(gr)} ${JSON.stringify(name)}`;
  return new StatusError(
    failure(403, 'Forbidden', `${what} is forbidden: ${why}`, resourceDetails(gr, name)),
  );
}

/** 403 for creating in a namespace that is being deleted. */
export function namespaceTerminating(gr: GroupResource, name: string, namespace: string): StatusError {
  const what = name === '' ? qualifiedResource(gr) : `${qualifiedResource(gr)} ${JSON.stringify(name)}`;
  return new StatusError(
    failure(
      403,
      'Forbidden',
      `${what} is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
      {
        ...resourceDetails(gr, name),
        causes: [
          {
            reason: 'NamespaceTerminating',
            message: `namespace ${namespace} is being terminated`,
            field: 'metadata.namespace',
          },
        ],
      },
    ),
  );
}

/** 404: `pods "web" not found`. */
export function notFound(gr: GroupResource, name: string): StatusError {
  return new StatusError(
    failure(
      404,
      'NotFound',
      `${qualifiedResource(gr)} ${JSON.stringify(name)} not found`,
      resourceDetails(gr, name),
    ),
  );
}

/** 404 for a path that names no resource (`the server could not find the requested resource`). */
export function unknownResource(): StatusError {
  return new StatusError(failure(404, 'NotFound', 'the server could not find the requested resource'));
}

/** 405: `<verb> is not supported on resources of kind "pods/log"`. */
export function methodNotSupported(gr: GroupResource, verb: string): StatusError {
  return new StatusError(
    failure(
      405,
      'MethodNotAllowed',
      `${verb} is not supported on resources of kind ${JSON.stringify(qualifiedResource(gr))}`,
      {
        group: gr.group,
        kind: gr.resource,
      },
    ),
  );
}

/** 406: the Accept header asks for nothing the server can produce. */
export function notAcceptable(message: string): StatusError {
  return new StatusError(failure(406, 'NotAcceptable', message));
}

/** 409: `deployments.apps "web" already exists`. */
export function alreadyExists(gr: GroupResource, name: string): StatusError {
  return new StatusError(
    failure(
      409,
      'AlreadyExists',
      `${qualifiedResource(gr)} ${JSON.stringify(name)} already exists`,
      resourceDetails(gr, name),
    ),
  );
}

/** 409 when a name made from generateName is taken: the client may retry. */
export function generateNameConflict(
  gr: GroupResource,
  name: string,
  retryAfterSeconds: number,
): StatusError {
  return new StatusError(
    failure(
      409,
      'AlreadyExists',
      `${qualifiedResource(gr)} ${JSON.stringify(name)} already exists, the server was not able to generate a unique name for the object`,
      { ...resourceDetails(gr, name), retryAfterSeconds },
    ),
  );
}

/** 409: `Operation cannot be fulfilled on <resource> "<name>": <why>`. */
export function conflict(gr: GroupResource, name: string, why: string): StatusError {
  return new StatusError(
    failure(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualifiedResource(gr)} ${JSON.stringify(name)}: ${why}`,
      resourceDetails(gr, name),
    ),
  );
}

/** The reason Kubernetes gives for a write with a stale resourceVersion. */
export const optimisticLockMessage =
  'the object has been modified; please apply your changes to the latest version and try again';

/** 409 for an update or delete with a stale resourceVersion. */
export function staleResourceVersion(gr: GroupResource, name: string): StatusError {
  return conflict(gr, name, optimisticLockMessage);
}

/** 410 Gone. */
export function gone(message: string): StatusError {
  return new StatusError(failure(410, 'Gone', message));
}

/** 410 Expired: a watch or list from a compacted resourceVersion. */
export function resourceExpired(message: string): StatusError {
  return new StatusError(failure(410, 'Expired', message));
}

/** The 410 a watch gets when its resourceVersion is older than the oldest one kept. */
export function tooOldResourceVersion(requested: number | bigint, oldest: number | bigint): StatusError {
  return resourceExpired(`too old resource version: ${requested} (${oldest})`);
}

/** 413: the body exceeds the server's limit. */
export function requestEntityTooLarge(limitBytes: number): StatusError {
  return new StatusError(
    failure(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limitBytes}`),
  );
}

/** 415: a Content-Type the endpoint does not accept. */
export function unsupportedMediaType(contentType: string, accepted: readonly string[]): StatusError {
  return new StatusError(
    failure(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format (${contentType}) - accepted media types include: ${accepted.join(', ')}`,
    ),
  );
}

/**
 * 422: `Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: must be
 * greater than or equal to 0`, with one cause per error. Details name the kind (not the
 * resource), as Kubernetes does for this reason.
 */
export function invalid(gk: GroupKind, name: string, errors: readonly FieldError[]): StatusError {
  const causes: StatusCause[] = errors.map((e) => ({
    reason: causeTypeOf(e.type),
    message: fieldErrorBody(e),
    field: e.field,
  }));
  const prefix = `${qualifiedKind(gk)} ${JSON.stringify(name)} is invalid`;
  const message = errors.length === 0 ? prefix : `${prefix}: ${formatFieldErrors(errors)}`;
  return new StatusError(failure(422, 'Invalid', message, { name, group: gk.group, kind: gk.kind, causes }));
}

/** 422 for a patch that cannot be applied (a failed JSON patch test, a missing path). */
export function unprocessablePatch(message: string): StatusError {
  return new StatusError(failure(422, 'Invalid', message));
}

/** 429. */
export function tooManyRequests(message: string, retryAfterSeconds: number): StatusError {
  return new StatusError(failure(429, 'TooManyRequests', message, { retryAfterSeconds }));
}

/** 500: `Internal error occurred: <what>`. */
export function internalError(what: string): StatusError {
  return new StatusError(
    failure(500, 'InternalError', `Internal error occurred: ${what}`, { causes: [{ message: what }] }),
  );
}

/** 503: e.g. the store has no leader right now. */
export function serviceUnavailable(message: string, retryAfterSeconds?: number): StatusError {
  return new StatusError(
    failure(
      503,
      'ServiceUnavailable',
      message,
      retryAfterSeconds === undefined ? undefined : { retryAfterSeconds },
    ),
  );
}

/** 504: `Timeout: <what>`. */
export function timeout(what: string, retryAfterSeconds: number): StatusError {
  return new StatusError(failure(504, 'Timeout', `Timeout: ${what}`, { retryAfterSeconds }));
}

/** The reason of an error if it carries a Status, else ''. */
export function reasonOf(err: unknown): StatusReason {
  return err instanceof StatusError ? err.reason : '';
}

export const isNotFound = (err: unknown): boolean => reasonOf(err) === 'NotFound';
export const isAlreadyExists = (err: unknown): boolean => reasonOf(err) === 'AlreadyExists';
export const isConflict = (err: unknown): boolean => reasonOf(err) === 'Conflict';
export const isInvalid = (err: unknown): boolean => reasonOf(err) === 'Invalid';
export const isBadRequest = (err: unknown): boolean => reasonOf(err) === 'BadRequest';
/** True for 410 Gone and Expired: the caller must re-list. */
export const isResourceExpired = (err: unknown): boolean =>
  reasonOf(err) === 'Expired' || reasonOf(err) === 'Gone';
