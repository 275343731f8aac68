/**
 * Query parameters of the REST API into the options of each verb; a malformed value is a
 * 400 naming the parameter (as kube-apiserver's parameter codec reports it).
 * https://kubernetes.io/docs/reference/kubernetes-api/common-parameters/common-parameters/
 */
import type {
  DeleteOptions,
  DeletionPropagation,
  ListOptions,
  LogOptions,
  WatchOptions,
} from '@flotilla/api';
import { badRequest } from '@flotilla/api';
import type { WriteOptions } from '../registry/writes.ts';

export type Query = Readonly<Record<string, string | readonly string[] | undefined>>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  // A repeated parameter counts once, by its first value (Go's url.Values.Get).
  return v[0];
}

function int(q: Query, name: string): number | undefined {
  const v = one(q, name);
  if (v === undefined || v === '') return undefined;
  if (!/^-?[0-9]{1,15}$/.test(v))
    throw badRequest(`${name}: invalid value ${JSON.stringify(v)}: not an integer`);
  return Number(v);
}

function bool(q: Query, name: string): boolean | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  switch (v.toLowerCase()) {
    case '':
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw badRequest(`${name}: invalid value ${JSON.stringify(v)}: not a boolean`);
  }
}

export function isWatch(q: Query): boolean {
  return bool(q, 'watch') === true;
}

export function listOptionsOf(q: Query): ListOptions {
  const limit = int(q, 'limit');
  if (limit !== undefined && limit < 0) throw badRequest('limit: must be greater than or equal to 0');
  const match = one(q, 'resourceVersionMatch');
  return {
    labelSelector: one(q, 'labelSelector'),
    fieldSelector: one(q, 'fieldSelector'),
    limit,
    continue: one(q, 'continue'),
    resourceVersion: one(q, 'resourceVersion'),
    resourceVersionMatch: match === '' ? undefined : (match as ListOptions['resourceVersionMatch']),
  };
}

export function watchOptionsOf(q: Query): WatchOptions {
  return {
    labelSelector: one(q, 'labelSelector'),
    fieldSelector: one(q, 'fieldSelector'),
    resourceVersion: one(q, 'resourceVersion'),
    allowWatchBookmarks: bool(q, 'allowWatchBookmarks'),
    timeoutSeconds: int(q, 'timeoutSeconds'),
    sendInitialEvents: bool(q, 'sendInitialEvents'),
  };
}

/** `dryRun=All` (the only value Kubernetes knows); anything else is a 400. */
export function dryRunOf(q: Query): boolean {
  const raw = q.dryRun;
  const values = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
  for (const v of values) {
    if (v !== 'All')
      throw badRequest(`dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`);
  }
  return values.length > 0;
}

export function writeOptionsOf(q: Query): WriteOptions {
  return {
    dryRun: dryRunOf(q),
    fieldValidation: one(q, 'fieldValidation') as WriteOptions['fieldValidation'],
  };
}

/** DeleteOptions from the query, overriding what the body said (kubectl uses either). */
export function deleteOptionsOf(q: Query, body: DeleteOptions): DeleteOptions {
  const grace = int(q, 'gracePeriodSeconds');
  const policy = one(q, 'propagationPolicy');
  const orphan = bool(q, 'orphanDependents');
  const dryRun = dryRunOf(q) ? ['All'] : body.dryRun;
  return {
    ...body,
    ...(grace === undefined ? {} : { gracePeriodSeconds: grace }),
    ...(policy === undefined ? {} : { propagationPolicy: policy as DeletionPropagation }),
    ...(orphan === undefined ? {} : { orphanDependents: orphan }),
    ...(dryRun === undefined ? {} : { dryRun }),
  };
}

export function logOptionsOf(q: Query): LogOptions {
  return {
    container: one(q, 'container'),
    follow: bool(q, 'follow'),
    previous: bool(q, 'previous'),
    tailLines: int(q, 'tailLines'),
    sinceSeconds: int(q, 'sinceSeconds'),
    timestamps: bool(q, 'timestamps'),
    limitBytes: int(q, 'limitBytes'),
  };
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function includeObjectOf(q: Query): IncludeObject {
  const v = one(q, 'includeObject');
  if (v === undefined || v === '') return 'Metadata';
  if (v === 'None' || v === 'Metadata' || v === 'Object') return v;
  throw badRequest(
    `includeObject: Unsupported value: ${JSON.stringify(v)}: supported values: "None", "Metadata", "Object"`,
  );
}
