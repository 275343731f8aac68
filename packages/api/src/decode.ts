/**
 * Request bodies and manifests into normalized objects. JSON and YAML are read the way
 * Kubernetes reads them (YAML 1.1 as in Go's yaml.v2: `0644` is octal, `yes` is true,
 * but timestamps and `8080:80` stay strings), checked against the endpoint's
 * apiVersion and kind, and normalized by the type's schema, with wrong value types
 * reported by path and unknown fields handled per `fieldValidation`.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation
 */
import { FlotillaError } from '@flotilla/actor';
import { type Document, parseAllDocuments, type Tags } from 'yaml';
import { groupVersionOf, resourceForKind } from './registry.ts';
import { deleteOptionsSchema } from './schema/meta.ts';
import { normalize } from './schema/normalize.ts';
import type { ObjectSchema, Typed } from './schema/schema.ts';
import { badRequest, StatusError } from './status.ts';
import type { DeleteOptions, KubeObject, StatusCause } from './types/meta.ts';

/** Kubernetes' limit on a request body (3 MiB); larger bodies get 413. */
export const maxRequestBodyBytes = 3 * 1024 * 1024;
/** A manifest file with more documents than this is refused. */
export const maxManifestDocuments = 1_000;
/** YAML aliases expanded per document at most (guards against "billion laughs"). */
export const maxYamlAliasCount = 100;

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export type DecodeOptions = {
  /** What to do with unknown fields; the API server's default is Warn. */
  readonly fieldValidation?: FieldValidation;
};

export type Decoded<T> = { readonly object: T; readonly warnings: readonly string[] };

/** The kind an endpoint accepts: a resource, or a subresource's kind (Scale, Binding). */
export type DecodeTarget = {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly schema: ObjectSchema;
};

/** A manifest document that cannot be read; `document` counts from 1. */
export class ManifestError extends FlotillaError {
  readonly document: number;
  constructor(document: number, message: string) {
    super('InvalidManifest', `document ${document}: ${message}`, { document });
    this.document = document;
  }
}

/** Parses a JSON request body; a 400 with the position of the mistake when it is not JSON. */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw badRequest(`the request body is not valid JSON: ${detail}`);
  }
}

// Go's yaml.v2 reads timestamps and base-60 numbers as plain strings; so must we.
const customTags = (tags: Tags): Tags =>
  tags.filter((t) => {
    const tag = typeof t === 'string' ? t : t.tag;
    const format = typeof t === 'string' ? undefined : t.format;
    return tag !== 'tag:yaml.org,2002:timestamp' && format !== 'TIME';
  });

function checkJsonCompatible(value: unknown, path: string): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `${path || 'value'}: ${value} is not a JSON number`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = checkJsonCompatible(value[i], `${path}[${i}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      const problem = checkJsonCompatible(v, path === '' ? k : `${path}.${k}`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  return `${path || 'value'}: this YAML value has no JSON equivalent`;
}

function documentValue(doc: Document.Parsed, n: number): unknown {
  const error = doc.errors[0];
  if (error !== undefined) {
    const where = error.linePos?.[0];
    throw new ManifestError(
      n,
      `${where === undefined ? '' : `line ${where.line}, column ${where.col}: `}${error.message.split('\n')[0]}`,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: maxYamlAliasCount });
  } catch (err) {
    // The yaml library refuses alias expansion beyond the limit with a ReferenceError.
    if (err instanceof ReferenceError) throw new ManifestError(n, err.message);
    throw err;
  }
  const problem = checkJsonCompatible(value, '');
  if (problem !== undefined) throw new ManifestError(n, problem);
  return value;
}

/**
 * Parses a YAML stream into its documents' values, skipping empty documents, as
 * `kubectl apply -f` does. Throws ManifestError naming the document and line.
 */
export function parseYamlDocuments(text: string): unknown[] {
  return numberedDocuments(text).map((d) => d.value);
}

/** The non-empty documents with their position in the stream (from 1). */
function numberedDocuments(text: string): { readonly document: number; readonly value: unknown }[] {
  const docs = parseAllDocuments(text, { version: '1.1', customTags, uniqueKeys: true, prettyErrors: true });
  if (docs.length > maxManifestDocuments) {
    throw new ManifestError(maxManifestDocuments + 1, `more than ${maxManifestDocuments} documents`);
  }
  const out: { document: number; value: unknown }[] = [];
  docs.forEach((doc, i) => {
    const value = documentValue(doc, i + 1);
    if (value !== null && value !== undefined) out.push({ document: i + 1, value });
  });
  return out;
}

/** Parses a YAML request body (one document); a 400 when it is not YAML or holds several. */
export function parseYamlBody(text: string): unknown {
  let values: unknown[];
  try {
    values = parseYamlDocuments(text);
  } catch (err) {
    if (err instanceof ManifestError) throw badRequest(`the request body is not valid YAML: ${err.message}`);
    throw err;
  }
  if (values.length !== 1)
    throw badRequest(`the request body must hold one YAML document, not ${values.length}`);
  return values[0];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindPrefix(target: DecodeTarget): string {
  return `${target.kind} in version ${JSON.stringify(target.version)} cannot be handled as a ${target.kind}`;
}

/**
 * Decodes a request body value for an endpoint that takes `target`: a missing apiVersion
 * or kind is filled in, a different one is a 400; the object is normalized by schema.
 * Wrong value types are a 400 naming each path; unknown fields are a 400 in Strict mode
 * and warnings in Warn mode.
 */
export function decodeFor<T extends KubeObject>(
  target: DecodeTarget,
  value: unknown,
  options: DecodeOptions = {},
): Decoded<T> {
  if (!isPlainObject(value)) {
    throw badRequest(
      `${kindPrefix(target)}: the body must be a JSON object, not ${Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  const expectedApiVersion = groupVersionOf(target);
  if (value.apiVersion !== undefined && value.apiVersion !== expectedApiVersion) {
    throw badRequest(
      `the API version in the data (${String(value.apiVersion)}) does not match the expected API version (${expectedApiVersion})`,
    );
  }
  if (value.kind !== undefined && value.kind !== target.kind) {
    throw badRequest(
      `the kind in the data (${String(value.kind)}) does not match the expected kind (${target.kind})`,
    );
  }
  const {
    value: normalized,
    problems,
    unknownFields,
  } = normalize(target.schema as Typed<Record<string, unknown>>, value);
  if (problems.length > 0) {
    const causes: StatusCause[] = problems.map((p) => ({
      reason: 'FieldValueTypeInvalid',
      message: p.message,
      field: p.path,
    }));
    throw badRequest(`${kindPrefix(target)}: ${problems.map((p) => p.message).join('; ')}`, causes);
  }
  const unknownMessages = unknownFields.map((f) => `unknown field ${JSON.stringify(f)}`);
  const mode = options.fieldValidation ?? 'Warn';
  if (mode === 'Strict' && unknownMessages.length > 0) {
    throw badRequest(
      `${kindPrefix(target)}: strict decoding error: ${unknownMessages.join(', ')}`,
      unknownFields.map((f) => ({ reason: 'FieldValueInvalid', message: 'unknown field', field: f })),
    );
  }
  const object = { ...normalized, apiVersion: expectedApiVersion, kind: target.kind } as unknown as T;
  return { object, warnings: mode === 'Warn' ? unknownMessages : [] };
}

/**
 * Decodes an object by its own apiVersion and kind (a manifest document, an object
 * arriving over NATS); a 400 when no resource serves that kind.
 */
export function decodeObject<T extends KubeObject>(value: unknown, options: DecodeOptions = {}): Decoded<T> {
  if (!isPlainObject(value)) throw badRequest('an object must be a JSON object');
  const { apiVersion, kind } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') throw badRequest("Object 'apiVersion' is missing");
  if (typeof kind !== 'string' || kind === '') throw badRequest("Object 'Kind' is missing");
  const info = resourceForKind(apiVersion, kind);
  if (info === undefined)
    throw badRequest(
      `no kind ${JSON.stringify(kind)} is registered for version ${JSON.stringify(apiVersion)}`,
    );
  return decodeFor<T>(info, value, options);
}

/** DeleteOptions bodies carry apiVersion `v1` or `meta.k8s.io/v1` (or none). */
export function decodeDeleteOptions(value: unknown): DeleteOptions {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) throw badRequest('DeleteOptions must be a JSON object');
  const { apiVersion, kind, ...rest } = value;
  if (apiVersion !== undefined && apiVersion !== 'v1' && apiVersion !== 'meta.k8s.io/v1') {
    throw badRequest(`DeleteOptions in version ${JSON.stringify(apiVersion)} cannot be handled`);
  }
  if (kind !== undefined && kind !== 'DeleteOptions') {
    throw badRequest(
      `the kind in the data (${String(kind)}) does not match the expected kind (DeleteOptions)`,
    );
  }
  const { value: out, problems } = normalize(deleteOptionsSchema, rest);
  if (problems.length > 0) throw badRequest(`DeleteOptions: ${problems.map((p) => p.message).join('; ')}`);
  return out;
}

/**
 * A manifest (one or more YAML or JSON documents, `kind: List` expanded) as normalized
 * objects in file order. Throws ManifestError naming the document.
 */
export function decodeManifests(text: string, options: DecodeOptions = {}): Decoded<readonly KubeObject[]> {
  const objects: KubeObject[] = [];
  const warnings: string[] = [];
  for (const { document: n, value } of numberedDocuments(text)) {
    const items =
      isPlainObject(value) && value.kind === 'List' && Array.isArray(value.items)
        ? (value.items as unknown[])
        : [value];
    for (const item of items) {
      try {
        const decoded = decodeObject(item, options);
        objects.push(decoded.object);
        warnings.push(...decoded.warnings.map((w) => `document ${n}: ${w}`));
      } catch (err) {
        if (err instanceof StatusError) throw new ManifestError(n, err.message);
        throw err;
      }
    }
  }
  return { object: objects, warnings };
}
