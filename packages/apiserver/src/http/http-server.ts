/**
 * The HTTP face of the API server (Fastify): health and metrics endpoints, discovery and
 * OpenAPI, and every resource path. Bodies are read raw (up to Kubernetes' 3 MiB limit,
 * 413 beyond) and parsed by the handlers, so that every failure is a Kubernetes Status.
 */
import type { IncomingMessage } from 'node:http';
import type { Registry } from '@flotilla/actor';
import {
  badRequest,
  internalError,
  maxRequestBodyBytes,
  requestEntityTooLarge,
  unknownResource,
} from '@flotilla/api';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { serveDiscovery, serveOpenApiV2, serveOpenApiV3, serveVersion } from './discovery-routes.ts';
import { parseApiPath } from './paths.ts';
import { type HttpContext, sendStatusError, serveResource } from './resource-routes.ts';

/** A named health check: resolves undefined when healthy, or the reason it is not. */
export type HealthCheck = { readonly name: string; readonly check: () => Promise<string | undefined> };

export type HttpServerOptions = {
  readonly prometheus: Registry;
  /** Checks of `/readyz` and `/healthz`; `/livez` only checks that the process answers. */
  readonly readiness: readonly HealthCheck[];
};

/** A refused body is read and dropped up to this many bytes; beyond, the connection is closed. */
const maxDrainedBodyBytes = 64 * 1024 * 1024;
const maxDrainMs = 10_000;

/** Reads and drops what is left of a request body; false when it had to give up. */
function drainBody(raw: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<boolean> {
  if (raw.complete) return Promise.resolve(true);
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (drained: boolean) => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('error', onError);
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.byteLength;
      if (seen > maxBytes) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = () => finish(false);
    const timer = setTimeout(() => finish(false), timeoutMs);
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('error', onError);
    raw.resume();
  });
}

async function serveHealth(
  req: FastifyRequest,
  reply: FastifyReply,
  endpoint: 'healthz' | 'livez' | 'readyz',
  checks: readonly HealthCheck[],
): Promise<void> {
  const results = await Promise.all(
    [{ name: 'ping', check: async () => undefined }, ...checks].map(async (c) => ({
      name: c.name,
      failure: await c.check().catch((err: unknown) => (err instanceof Error ? err.message : String(err))),
    })),
  );
  const healthy = results.every((r) => r.failure === undefined);
  const verbose = Object.hasOwn(req.query as object, 'verbose');
  reply.code(healthy ? 200 : 500).header('Content-Type', 'text/plain; charset=utf-8');
  if (healthy && !verbose) {
    reply.send('ok');
    return;
  }
  const lines = results.map((r) =>
    r.failure === undefined ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.failure}`,
  );
  reply.send(`${lines.join('\n')}\n${endpoint} check ${healthy ? 'passed' : 'failed'}\n`);
}

export function createHttpServer(h: HttpContext, options: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: maxRequestBodyBytes,
    // Watches and logs last long; Kubernetes ends watches itself (timeoutSeconds).
    requestTimeout: 0,
    return503OnClosing: true,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler(async (err: { code?: string; statusCode?: number; message?: string }, req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
      // Read the rest of the body (up to a bound) so that the client, still sending, gets
      // the 413 rather than a reset connection.
      if (!(await drainBody(req.raw, maxDrainedBodyBytes, maxDrainMs))) reply.header('Connection', 'close');
      return sendStatusError(reply, requestEntityTooLarge(maxRequestBodyBytes));
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return sendStatusError(reply, badRequest(err.message ?? 'bad request'));
    }
    h.registry.log.error({ err }, 'unhandled HTTP error');
    return sendStatusError(reply, internalError(err.message ?? 'unknown error'));
  });
  app.setNotFoundHandler((_req, reply) => sendStatusError(reply, unknownResource()));
  // Open watches and logs would keep close() waiting forever: end them first.
  app.addHook('preClose', async () => {
    for (const close of [...h.openStreams]) close();
  });

  app.get('/version', async (_req, reply) => serveVersion(reply));
  for (const endpoint of ['healthz', 'livez', 'readyz'] as const) {
    const checks = endpoint === 'livez' ? [] : options.readiness;
    app.get(`/${endpoint}`, (req, reply) => serveHealth(req, reply, endpoint, checks));
    app.get(`/${endpoint}/:check`, async (req, reply) => {
      const name = (req.params as { check: string }).check;
      const selected = [{ name: 'ping', check: async () => undefined }, ...checks].filter(
        (c) => c.name === name,
      );
      if (selected.length === 0) return sendStatusError(reply, unknownResource());
      return serveHealth(
        req,
        reply,
        endpoint,
        selected.filter((c) => c.name !== 'ping'),
      );
    });
  }
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', options.prometheus.contentType).send(await options.prometheus.metrics());
  });
  app.get('/openapi/v2', async (req, reply) => serveOpenApiV2(req, reply));
  app.get('/openapi/v3', async (req, reply) => serveOpenApiV3(req, reply, ''));
  app.get('/openapi/v3/*', async (req, reply) =>
    serveOpenApiV3(req, reply, (req.params as { '*': string })['*'].replace(/\/+$/, '')),
  );

  const api = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = parseApiPath(req.url.split('?')[0] ?? '');
    switch (path.kind) {
      case 'coreVersions':
      case 'groups':
      case 'group':
      case 'resources':
        if (req.method !== 'GET') return sendStatusError(reply, unknownResource());
        return serveDiscovery(req, reply, path);
      case 'collection':
      case 'object':
        return serveResource(h, req, reply, path);
      case 'unknown':
        return sendStatusError(reply, unknownResource());
    }
  };
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/api', handler: api });
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/api/*', handler: api });
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/apis', handler: api });
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/apis/*', handler: api });
  return app;
}
