/**
 * What clients read before they touch a resource: `/version`, discovery (`/api`, `/apis`,
 * aggregated or legacy by the Accept header), and the OpenAPI documents kubectl uses for
 * apply and explain. The documents are built once per process (they depend only on the
 * code) and served as bytes.
 * https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api
 */
import { createHash } from 'node:crypto';
import {
  aggregatedDiscovery,
  aggregatedDiscoveryContentType,
  apiGroupDocument,
  apiGroupList,
  apiResourceList,
  apiVersions,
  encodeOpenApiV2,
  negotiateDiscovery,
  notAcceptable,
  openApiV2Document,
  openApiV2ProtobufContentType,
  openApiV3Document,
  openApiV3GroupVersions,
  openApiV3Index,
  parseAccept,
  serverVersion,
  unknownResource,
} from '@flotilla/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiPath } from './paths.ts';
import { sendStatusError } from './resource-routes.ts';

type DiscoveryPath = Extract<ApiPath, { kind: 'coreVersions' | 'groups' | 'group' | 'resources' }>;

function sendJson(reply: FastifyReply, value: unknown, contentType = 'application/json'): void {
  reply
    .code(200)
    .header('Content-Type', contentType)
    .send(Buffer.from(JSON.stringify(value)));
}

export function serveVersion(reply: FastifyReply): void {
  sendJson(reply, serverVersion);
}

/** `/api`, `/apis`, `/apis/<group>`, `/api/v1`, `/apis/<group>/<version>`. */
export function serveDiscovery(req: FastifyRequest, reply: FastifyReply, path: DiscoveryPath): void {
  switch (path.kind) {
    case 'coreVersions':
    case 'groups': {
      const format = negotiateDiscovery(req.headers.accept);
      switch (format.kind) {
        case 'aggregated':
          return sendJson(
            reply,
            aggregatedDiscovery(path.kind === 'coreVersions' ? 'core' : 'groups', format.version),
            aggregatedDiscoveryContentType(format.version),
          );
        case 'legacy':
          return sendJson(
            reply,
            path.kind === 'coreVersions' ? apiVersions(req.headers.host ?? '') : apiGroupList(),
          );
        case 'none':
          return sendStatusError(
            reply,
            notAcceptable('only application/json discovery documents are served'),
          );
      }
      return;
    }
    case 'group': {
      const doc = apiGroupDocument(path.group);
      return doc === undefined ? sendStatusError(reply, unknownResource()) : sendJson(reply, doc);
    }
    case 'resources': {
      const doc = apiResourceList(path.group, path.version);
      return doc === undefined ? sendStatusError(reply, unknownResource()) : sendJson(reply, doc);
    }
  }
}

type OpenApiBytes = {
  readonly v2Json: Buffer;
  readonly v2Protobuf: Buffer;
  readonly v3: ReadonlyMap<string, { readonly body: Buffer; readonly hash: string }>;
  readonly v3Index: Buffer;
};

let cached: OpenApiBytes | undefined;

/** Every document, built on first use. */
function openApi(): OpenApiBytes {
  if (cached !== undefined) return cached;
  const v2 = openApiV2Document();
  const v3 = new Map<string, { body: Buffer; hash: string }>();
  for (const gv of openApiV3GroupVersions()) {
    const body = Buffer.from(JSON.stringify(openApiV3Document(gv)));
    // Clients cache each document by this hash, so it is the hash of the bytes served.
    v3.set(gv, { body, hash: createHash('sha512').update(body).digest('hex').toUpperCase() });
  }
  cached = {
    v2Json: Buffer.from(JSON.stringify(v2)),
    v2Protobuf: Buffer.from(encodeOpenApiV2(v2)),
    v3,
    v3Index: Buffer.from(JSON.stringify(openApiV3Index((gv) => v3.get(gv)?.hash ?? ''))),
  };
  return cached;
}

function wantsProtobuf(accept: string | undefined): boolean {
  return parseAccept(accept ?? '').some((a) =>
    a.type.startsWith('application/com.github.proto-openapi.spec.v2'),
  );
}

/** `/openapi/v2`: protobuf when asked for it (kubectl always does), JSON otherwise. */
export function serveOpenApiV2(req: FastifyRequest, reply: FastifyReply): void {
  const docs = openApi();
  if (wantsProtobuf(req.headers.accept)) {
    reply.code(200).header('Content-Type', openApiV2ProtobufContentType).send(docs.v2Protobuf);
    return;
  }
  reply.code(200).header('Content-Type', 'application/json').send(docs.v2Json);
}

/** `/openapi/v3` and `/openapi/v3/<api/v1|apis/<group>/<version>>`. */
export function serveOpenApiV3(req: FastifyRequest, reply: FastifyReply, gvPath: string): void {
  const docs = openApi();
  if (gvPath === '') {
    reply
      .code(200)
      .header('Content-Type', 'application/json')
      .header('Cache-Control', 'no-cache, private')
      .send(docs.v3Index);
    return;
  }
  const doc = docs.v3.get(gvPath);
  if (doc === undefined) return sendStatusError(reply, unknownResource());
  const hash = (req.query as Record<string, unknown>).hash;
  // A request naming the current hash may be cached for good: the URL changes with the bytes.
  reply.header('Cache-Control', hash === doc.hash ? 'public, immutable' : 'no-cache, private');
  reply.header('Etag', `"${doc.hash}"`);
  reply.code(200).header('Content-Type', 'application/json').send(doc.body);
}
