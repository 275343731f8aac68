/**
 * What a response is encoded as, from the Accept header: plain JSON (or YAML), a
 * server-side printed Table (`as=Table`, what kubectl get asks for), or only metadata
 * (`as=PartialObjectMetadata`). Protobuf is not spoken: a client that accepts nothing else
 * gets 406.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#alternate-representations-of-resources
 */
import { parseAccept } from '@flotilla/api';

export type MetaVersion = 'v1' | 'v1beta1';

export type ResponseFormat =
  | { readonly kind: 'json' }
  | { readonly kind: 'yaml' }
  | { readonly kind: 'table'; readonly version: MetaVersion }
  | { readonly kind: 'metadata'; readonly version: MetaVersion };

const json: ResponseFormat = { kind: 'json' };

/**
 * The first acceptable format in the client's order; `transforms` allows Table and
 * metadata (reads of a resource). Undefined when nothing acceptable is offered.
 */
export function negotiate(accept: string | undefined, transforms: boolean): ResponseFormat | undefined {
  if (accept === undefined || accept.trim() === '') return json;
  for (const { type, params } of parseAccept(accept)) {
    const jsonLike = type === 'application/json' || type === '*/*' || type === 'application/*';
    if (type === 'application/yaml' && params.as === undefined) return { kind: 'yaml' };
    if (!jsonLike) continue;
    if (params.as === undefined) return json;
    if (!transforms || params.g !== 'meta.k8s.io') continue;
    const version = params.v === 'v1' || params.v === 'v1beta1' ? params.v : undefined;
    if (version === undefined) continue;
    if (params.as === 'Table') return { kind: 'table', version };
    if (params.as === 'PartialObjectMetadata' || params.as === 'PartialObjectMetadataList') {
      return { kind: 'metadata', version };
    }
  }
  return undefined;
}
