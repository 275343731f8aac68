/**
 * Response bodies in the negotiated format: objects and lists as JSON or YAML, or
 * transformed into a Table (kubectl get) or PartialObjectMetadata.
 */
import type { KubeList, KubeObject, ResourceInfo } from '@flotilla/api';
import { toTable } from '@flotilla/api';
import { stringify } from 'yaml';
import type { ResponseFormat } from './negotiation.ts';
import type { IncludeObject } from './query.ts';

export type Encoded = { readonly contentType: string; readonly body: string };

export type TransformOptions = {
  readonly nowMs: number;
  readonly includeObject: IncludeObject;
  /** For watch events after the first: the columns were sent already. */
  readonly noHeaders?: boolean;
};

const jsonType = 'application/json';

function isList(value: KubeObject | KubeList<KubeObject>): value is KubeList<KubeObject> {
  return Array.isArray((value as KubeList<KubeObject>).items);
}

/** An object or list of `info` in `format` (JSON or YAML of anything else, e.g. a Status). */
export function transform(
  info: ResourceInfo | undefined,
  value: KubeObject | KubeList<KubeObject>,
  format: ResponseFormat,
  options: TransformOptions,
): unknown {
  switch (format.kind) {
    case 'json':
    case 'yaml':
      return value;
    case 'table': {
      if (info === undefined || value.kind === 'Status') return value;
      const objects = isList(value) ? value.items : [value];
      const table = toTable(info, objects, {
        nowMs: options.nowMs,
        includeObject: options.includeObject,
        ...(options.noHeaders === true ? { noHeaders: true } : {}),
        ...(isList(value) ? { listMeta: value.metadata } : {}),
      });
      return format.version === 'v1' ? table : { ...table, apiVersion: 'meta.k8s.io/v1beta1' };
    }
    case 'metadata': {
      if (value.kind === 'Status') return value;
      const apiVersion = `meta.k8s.io/${format.version}`;
      const meta = (o: KubeObject) => ({ apiVersion, kind: 'PartialObjectMetadata', metadata: o.metadata });
      return isList(value)
        ? {
            apiVersion,
            kind: 'PartialObjectMetadataList',
            metadata: value.metadata,
            items: value.items.map(meta),
          }
        : meta(value);
    }
  }
}

export function encodeBody(value: unknown, format: ResponseFormat): Encoded {
  if (format.kind === 'yaml') return { contentType: 'application/yaml', body: stringify(value) };
  return { contentType: jsonType, body: JSON.stringify(value) };
}
