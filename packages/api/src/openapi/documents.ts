/**
 * The OpenAPI documents the API server serves: Swagger 2.0 at `/openapi/v2` (as JSON,
 * and as protobuf through encodeOpenApiV2), and OpenAPI 3.0 per group-version under
 * `/openapi/v3/<api/v1|apis/<group>/<version>>` with the index at `/openapi/v3`.
 */
import { serverVersion } from '../discovery.ts';
import type { ResourceInfo } from '../registry.ts';
import { groupVersionOf, resources } from '../registry.ts';
import type { JsonSchema } from './definitions.ts';
import { definitionsFor } from './definitions.ts';
import { pathsFor } from './paths.ts';

const info = { title: 'Kubernetes', version: serverVersion.gitVersion };

/** What kubectl sends as Accept for `/openapi/v2`. */
export const openApiV2ProtobufAccept = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/**
 * The Content-Type to answer it with: kubectl 1.27 cannot parse the `@` of the Accept
 * form in a response ("mime: unexpected content after media subtype").
 */
export const openApiV2ProtobufContentType = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

/** The whole API as one Swagger 2.0 document. */
export function openApiV2Document(): JsonSchema {
  return {
    swagger: '2.0',
    info,
    paths: pathsFor(resources, 'v2'),
    definitions: definitionsFor(resources, 'v2'),
  };
}

/** `api/v1`, `apis/apps/v1`, ...: the group-versions with an OpenAPI v3 document. */
export function openApiV3GroupVersions(): string[] {
  return [
    ...new Set(resources.map((r) => (r.group === '' ? `api/${r.version}` : `apis/${groupVersionOf(r)}`))),
  ];
}

function resourcesAt(gvPath: string): ResourceInfo[] {
  return resources.filter(
    (r) => (r.group === '' ? `api/${r.version}` : `apis/${groupVersionOf(r)}`) === gvPath,
  );
}

/** The OpenAPI 3.0 document of one group-version (`api/v1`, `apis/apps/v1`), or undefined. */
export function openApiV3Document(gvPath: string): JsonSchema | undefined {
  const selected = resourcesAt(gvPath);
  if (selected.length === 0) return undefined;
  return {
    openapi: '3.0.0',
    info,
    paths: pathsFor(selected, 'v3'),
    components: { schemas: definitionsFor(selected, 'v3') },
  };
}

/**
 * The `/openapi/v3` index. Clients cache documents by the hash in each URL, so
 * `hashOf` must change whenever the document does (the API server hashes the bytes).
 */
export function openApiV3Index(hashOf: (gvPath: string) => string): JsonSchema {
  return {
    paths: Object.fromEntries(
      openApiV3GroupVersions().map((gv) => [
        gv,
        { serverRelativeURL: `/openapi/v3/${gv}?hash=${hashOf(gv)}` },
      ]),
    ),
  };
}
