/**
 * The resource endpoints over HTTP: one handler that reads the verb from the method and
 * path, the options from the query, the body by its Content-Type, runs the verb, and
 * answers in the negotiated format. Watches and logs are streamed with chunked encoding,
 * one JSON watch event per line.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { DeleteOptions, KubeObject, PatchType } from '@flotilla/api';
import {
  decodeDeleteOptions,
  internalError,
  notAcceptable,
  parseAccept,
  parseJsonBody,
  parseYamlBody,
  StatusError,
  scaleOf,
  unsupportedMediaType,
} from '@flotilla/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiServerMetrics } from '../metrics.ts';
import type { CollectionRef, RegistryContext } from '../registry/context.ts';
import { deleteCollection, deleteObject } from '../registry/deletes.ts';
import { openPodLog, type PodLogTarget } from '../registry/pod-logs.ts';
import { getObject, listObjects } from '../registry/reads.ts';
import { ObjectWatch } from '../registry/watch.ts';
import { bindPod, createObject, patchObject, updateObject } from '../registry/writes.ts';
import { encodeBody, transform } from './encode.ts';
import type { InflightLimiter } from './inflight.ts';
import { negotiate, type ResponseFormat } from './negotiation.ts';
import { type Operation, operationOf } from './operations.ts';
import type { ApiPath } from './paths.ts';
import { decodeProtobufDeleteOptions, decodeProtobufObject, protobufMediaType } from './protobuf.ts';
import {
  deleteOptionsOf,
  includeObjectOf,
  isWatch,
  listOptionsOf,
  logOptionsOf,
  type Query,
  watchOptionsOf,
  writeOptionsOf,
} from './query.ts';

export type HttpContext = {
  readonly registry: RegistryContext;
  /** Bounds requests handled at once (watches and logs aside). */
  readonly inflight: InflightLimiter;
  readonly logTarget: PodLogTarget;
  readonly metrics: ApiServerMetrics;
  /** How long a watch without timeoutSeconds lasts (Kubernetes picks 30-60 minutes at random). */
  readonly watchTimeoutMs: () => number;
  /** Closers of the watch and log streams open now, run when the server shuts down. */
  readonly openStreams: Set<() => void>;
};

type ResourcePath = Extract<ApiPath, { kind: 'collection' | 'object' }>;

const objectMediaTypes = ['application/json', 'application/yaml', protobufMediaType];
const patchMediaTypes: Readonly<Record<string, PatchType>> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
};

function mediaType(req: FastifyRequest): string {
  const header = req.headers['content-type'];
  if (header === undefined || header === '') return 'application/json';
  return parseAccept(header)[0]?.type ?? 'application/json';
}

function bodyBytes(req: FastifyRequest): Uint8Array {
  return Buffer.isBuffer(req.body) ? req.body : new Uint8Array();
}

function bodyText(req: FastifyRequest): string {
  const body = req.body;
  return Buffer.isBuffer(body) ? body.toString('utf8') : '';
}

function objectBody(req: FastifyRequest): unknown {
  const type = mediaType(req);
  if (type === protobufMediaType) return decodeProtobufObject(bodyBytes(req));
  const text = bodyText(req);
  switch (type) {
    case 'application/json':
      return parseJsonBody(text);
    case 'application/yaml':
    case 'application/x-yaml':
    case 'text/yaml':
      return parseYamlBody(text);
    default:
      throw unsupportedMediaType(type, objectMediaTypes);
  }
}

function patchBody(req: FastifyRequest): { readonly patchType: PatchType; readonly patch: unknown } {
  const type = mediaType(req);
  const patchType = patchMediaTypes[type];
  // Server-side apply (application/apply-patch+yaml) is not implemented: kubectl's
  // client-side apply sends strategic merge patches.
  if (patchType === undefined) throw unsupportedMediaType(type, Object.keys(patchMediaTypes));
  return { patchType, patch: parseJsonBody(bodyText(req)) };
}

function deleteBody(req: FastifyRequest): DeleteOptions {
  if (mediaType(req) === protobufMediaType && bodyBytes(req).length > 0) {
    return decodeDeleteOptions(decodeProtobufDeleteOptions(bodyBytes(req)));
  }
  const text = bodyText(req);
  if (text.trim() === '') return {};
  return decodeDeleteOptions(
    mediaType(req) === 'application/json' ? parseJsonBody(text) : parseYamlBody(text),
  );
}

/** Warnings (unknown fields under fieldValidation=Warn) as RFC 7234 Warning headers, as Kubernetes sends them. */
function warn(reply: FastifyReply, warnings: readonly string[]): void {
  if (warnings.length === 0) return;
  reply.header(
    'Warning',
    warnings.map((w) => `299 - ${JSON.stringify(w)}`),
  );
}

/**
 * Bodies are sent as bytes: Fastify rewrites the Content-Type of a JSON string (quoting
 * parameters, adding a charset), and clients compare some of ours (aggregated discovery)
 * as Kubernetes writes them.
 */
export function sendStatusError(reply: FastifyReply, err: StatusError): void {
  // Clients (client-go, kubectl) wait and retry when told how long (Kubernetes sends it too).
  const retryAfter = err.status.details?.retryAfterSeconds;
  if (retryAfter !== undefined) reply.header('Retry-After', String(retryAfter));
  reply
    .code(err.status.code)
    .header('Content-Type', 'application/json')
    .send(Buffer.from(JSON.stringify(err.status)));
}

/** Any error as the Status it is, or a 500 (logged) when it is not one. */
export function asStatusError(h: HttpContext, err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  h.registry.log.error({ err }, 'request failed');
  return internalError(err instanceof Error ? err.message : String(err));
}

function verbLabel(op: Operation): string {
  return op.verb === 'bind' ? 'create' : op.verb === 'log' ? 'get' : op.verb;
}

export async function serveResource(
  h: HttpContext,
  req: FastifyRequest,
  reply: FastifyReply,
  path: ResourcePath,
): Promise<void> {
  const started = performance.now();
  const query = req.query as Query;
  let verb = req.method.toLowerCase();
  const resource = path.info.plural;
  const done = (code: number) => {
    h.metrics.requests.inc({ verb, resource, code: String(code), transport: 'http' });
    h.metrics.duration.observe({ verb, resource, transport: 'http' }, (performance.now() - started) / 1000);
  };
  try {
    const op = operationOf(req.method, path, isWatch(query));
    verb = verbLabel(op);
    const reads = op.verb === 'get' || op.verb === 'list' || op.verb === 'watch';
    const format = negotiate(
      req.headers.accept,
      reads && !(op.verb === 'get' && op.subresource !== undefined),
    );
    if (format === undefined) {
      throw notAcceptable(`only the following media types are accepted: application/json, application/yaml`);
    }
    if (op.verb === 'watch') return await serveWatch(h, req, reply, op.ref, query, format, done);
    if (op.verb === 'log') return await serveLog(h, reply, op, query, done);
    const kind = reads ? 'readOnly' : 'mutating';
    const release = h.inflight.acquire(kind);
    let answer: Answer;
    try {
      answer = await run(h, req, op, query);
    } finally {
      release();
    }
    const { code, value, warnings } = answer;
    const nowMs = h.registry.nowMs();
    const body = encodeBody(
      transform(path.info, value, format, { nowMs, includeObject: includeObjectOf(query) }),
      format,
    );
    warn(reply, warnings);
    reply.code(code).header('Content-Type', body.contentType).send(Buffer.from(body.body));
    done(code);
  } catch (err) {
    const status = asStatusError(h, err);
    sendStatusError(reply, status);
    done(status.status.code);
  }
}

type Answer = { readonly code: number; readonly value: KubeObject; readonly warnings: readonly string[] };

async function run(
  h: HttpContext,
  req: FastifyRequest,
  op: Exclude<Operation, { verb: 'watch' | 'log' }>,
  query: Query,
): Promise<Answer> {
  const ctx = h.registry;
  switch (op.verb) {
    case 'get': {
      const object = await getObject(ctx, op.ref, listOptionsOf(query).resourceVersion);
      const value = op.subresource === 'scale' ? (scaleOf(object as never) as unknown as KubeObject) : object;
      return { code: 200, value, warnings: [] };
    }
    case 'list': {
      const list = await listObjects(ctx, op.ref, listOptionsOf(query));
      return { code: 200, value: list as unknown as KubeObject, warnings: [] };
    }
    case 'create': {
      const r = await createObject(ctx, op.ref, objectBody(req), writeOptionsOf(query));
      return { code: 201, value: r.object, warnings: r.warnings };
    }
    case 'update': {
      const r = await updateObject(ctx, op.ref, op.subresource, objectBody(req), writeOptionsOf(query));
      return { code: 200, value: r.object, warnings: r.warnings };
    }
    case 'patch': {
      const { patchType, patch } = patchBody(req);
      const r = await patchObject(ctx, op.ref, op.subresource, patchType, patch, writeOptionsOf(query));
      return { code: 200, value: r.object, warnings: r.warnings };
    }
    case 'delete': {
      const options = deleteOptionsOf(query, deleteBody(req));
      const r = await deleteObject(ctx, op.ref, options);
      // Kubernetes answers 202 when dependents are left to the garbage collector explicitly.
      const code = r.pending && options.orphanDependents === false ? 202 : 200;
      return { code, value: r.answer as KubeObject, warnings: [] };
    }
    case 'deletecollection': {
      const options = deleteOptionsOf(query, deleteBody(req));
      const list = await deleteCollection(ctx, op.ref, listOptionsOf(query), options);
      return { code: 200, value: list as unknown as KubeObject, warnings: [] };
    }
    case 'bind': {
      const status = await bindPod(ctx, op.ref, objectBody(req), writeOptionsOf(query));
      return { code: 201, value: status as unknown as KubeObject, warnings: [] };
    }
  }
}

/** Writes a chunk, waiting for the socket to drain when its buffer is full; false once closed. */
async function write(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(chunk)) return true;
  await Promise.race([once(res, 'drain'), once(res, 'close')]);
  return !res.destroyed;
}

function startStream(
  h: HttpContext,
  reply: FastifyReply,
  contentType: string,
  stop: () => void,
): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'Content-Type': contentType,
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();
  const close = () => {
    stop();
    if (!res.writableEnded) res.end();
  };
  h.openStreams.add(close);
  res.once('close', () => {
    stop();
    h.openStreams.delete(close);
  });
  return res;
}

async function serveWatch(
  h: HttpContext,
  req: FastifyRequest,
  reply: FastifyReply,
  ref: CollectionRef,
  query: Query,
  format: ResponseFormat,
  done: (code: number) => void,
): Promise<void> {
  const options = watchOptionsOf(query);
  const includeObject = includeObjectOf(query);
  const watch = await ObjectWatch.open(h.registry, ref, { ...options, defaultTimeoutMs: h.watchTimeoutMs() });
  done(200);
  const res = startStream(h, reply, 'application/json', () => watch.cancel());
  req.log.debug({ resource: ref.info.plural }, 'watch opened');
  h.metrics.watches.inc({ transport: 'http' });
  // Watches stream JSON (YAML is not a streaming format Kubernetes offers).
  const eventFormat: ResponseFormat = format.kind === 'yaml' ? { kind: 'json' } : format;
  let first = true;
  try {
    for await (const event of watch) {
      const object =
        event.type === 'ERROR'
          ? event.object
          : transform(ref.info, event.object, eventFormat, {
              nowMs: h.registry.nowMs(),
              includeObject,
              noHeaders: !first,
            });
      if (event.type !== 'ERROR' && event.type !== 'BOOKMARK') first = false;
      h.metrics.watchEvents.inc({ transport: 'http', type: event.type });
      if (!(await write(res, `${JSON.stringify({ type: event.type, object })}\n`))) break;
    }
  } finally {
    watch.cancel();
    h.metrics.watches.dec({ transport: 'http' });
    if (!res.writableEnded) res.end();
  }
}

async function serveLog(
  h: HttpContext,
  reply: FastifyReply,
  op: Extract<Operation, { verb: 'log' }>,
  query: Query,
  done: (code: number) => void,
): Promise<void> {
  const stream = await openPodLog(h.registry, h.logTarget, op.ref, logOptionsOf(query));
  done(200);
  const res = startStream(h, reply, 'text/plain', () => stream.cancel());
  try {
    for await (const chunk of stream) {
      if (!(await write(res, chunk.text))) break;
    }
  } catch (err) {
    // Headers are out: the client sees the log end early; the reason goes to our log.
    h.registry.log.warn({ err, pod: op.ref.name }, 'pod log stream failed');
  } finally {
    stream.cancel();
    if (!res.writableEnded) res.end();
  }
}
