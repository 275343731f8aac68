/**
 * OpenAPI v2 as protocol buffers: kubectl downloads `/openapi/v2` only in this form
 * (Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf) and refuses JSON
 * there. This encodes the part of gnostic's `openapi.v2.Document` message that the
 * documents built here use; field numbers follow gnostic's OpenAPIv2.proto.
 */
import type { JsonSchema } from './definitions.ts';

type Scalar = string | boolean | number | Uint8Array;
type FieldEntry = readonly [number, Scalar];

const textEncoder = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Encodes fields in order; proto3 defaults (empty strings, false, 0) are left out. */
function message(fields: readonly (FieldEntry | readonly FieldEntry[] | undefined)[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: number[] | Uint8Array): void => {
    const arr = bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes);
    parts.push(arr);
    size += arr.length;
  };
  const isList = (f: FieldEntry | readonly FieldEntry[]): f is readonly FieldEntry[] =>
    f.length === 0 || Array.isArray(f[0]);
  const flat = fields.flatMap((f) => (f === undefined ? [] : isList(f) ? f : [f]));
  for (const [field, value] of flat) {
    if (value === '' || value === false || value === 0) continue;
    if (typeof value === 'boolean' || typeof value === 'number') {
      push(varint((field << 3) | 0));
      push(varint(value === true ? 1 : (value as number)));
    } else {
      const bytes = typeof value === 'string' ? textEncoder.encode(value) : value;
      push(varint((field << 3) | 2));
      push(varint(bytes.length));
      push(bytes);
    }
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const repeated = (field: number, values: readonly Scalar[]): FieldEntry[] =>
  values.map((v) => [field, v] as const);
const entries = (v: unknown): [string, unknown][] =>
  typeof v === 'object' && v !== null ? Object.entries(v) : [];

/** Vendor extensions (`x-...` keys) as NamedAny with the value as YAML text (JSON is YAML). */
function vendorExtensions(field: number, obj: JsonSchema): FieldEntry[] {
  return entries(obj)
    .filter(([k]) => k.startsWith('x-'))
    .map(
      ([k, v]) =>
        [
          field,
          message([
            [1, k],
            [2, message([[2, `${JSON.stringify(v)}\n`]])],
          ]),
        ] as const,
    );
}

export function encodeSchema(s: JsonSchema): Uint8Array {
  const type = s.type;
  const items = s.items as JsonSchema | undefined;
  const additional = s.additionalProperties as JsonSchema | undefined;
  const props = entries(s.properties);
  return message([
    [1, str(s.$ref)],
    [2, str(s.format)],
    [4, str(s.description)],
    repeated(19, (s.required as string[] | undefined) ?? []),
    additional === undefined ? undefined : [21, message([[1, encodeSchema(additional)]])],
    typeof type === 'string' ? [22, message([[1, type]])] : undefined,
    items === undefined ? undefined : [23, message([[1, encodeSchema(items)]])],
    props.length === 0
      ? undefined
      : [
          25,
          message(
            props.map(
              ([name, v]) =>
                [
                  1,
                  message([
                    [1, name],
                    [2, encodeSchema(v as JsonSchema)],
                  ]),
                ] as const,
            ),
          ),
        ],
    vendorExtensions(31, s),
  ]);
}

function encodeParameter(p: JsonSchema): Uint8Array {
  if (p.in === 'body') {
    const body = message([
      [1, str(p.description)],
      [2, str(p.name)],
      [3, 'body'],
      [4, p.required === true],
      [5, encodeSchema(p.schema as JsonSchema)],
    ]);
    return message([[1, message([[1, body]])]]);
  }
  // Query and path sub-schemas share their first fields; type and uniqueItems differ in number.
  const isQuery = p.in === 'query';
  const sub = message([
    [1, p.required === true],
    [2, str(p.in)],
    [3, str(p.description)],
    [4, str(p.name)],
    [isQuery ? 6 : 5, str(p.type)],
    [isQuery ? 20 : 19, p.uniqueItems === true],
  ]);
  return message([[1, message([[2, message([[isQuery ? 3 : 4, sub]])]])]]);
}

function encodeOperation(op: JsonSchema): Uint8Array {
  const responses = entries(op.responses).map(([code, r]) => {
    const resp = r as JsonSchema;
    const schema = resp.schema as JsonSchema | undefined;
    const response = message([
      [1, str(resp.description)],
      schema === undefined ? undefined : [2, message([[1, encodeSchema(schema)]])],
    ]);
    return [
      1,
      message([
        [1, code],
        [2, message([[1, response]])],
      ]),
    ] as const;
  });
  return message([
    [5, str(op.operationId)],
    repeated(6, (op.produces as string[] | undefined) ?? []),
    repeated(7, (op.consumes as string[] | undefined) ?? []),
    ((op.parameters as JsonSchema[] | undefined) ?? []).map((p) => [8, encodeParameter(p)] as const),
    [9, message(responses)],
    vendorExtensions(13, op),
  ]);
}

const methodFields: Readonly<Record<string, number>> = { get: 2, put: 3, post: 4, delete: 5, patch: 8 };

/** The protobuf bytes of a Swagger 2.0 document built by openApiV2Document. */
export function encodeOpenApiV2(doc: JsonSchema): Uint8Array {
  const info = doc.info as JsonSchema;
  const paths = entries(doc.paths).map(([path, item]) => {
    const ops = entries(item)
      .filter(([method]) => methodFields[method] !== undefined)
      .map(([method, op]) => [methodFields[method] as number, encodeOperation(op as JsonSchema)] as const);
    return [
      2,
      message([
        [1, path],
        [2, message(ops)],
      ]),
    ] as const;
  });
  const definitions = entries(doc.definitions).map(
    ([name, s]) =>
      [
        1,
        message([
          [1, name],
          [2, encodeSchema(s as JsonSchema)],
        ]),
      ] as const,
  );
  return message([
    [1, str(doc.swagger)],
    [
      2,
      message([
        [1, str(info.title)],
        [2, str(info.version)],
      ]),
    ],
    [8, message(paths)],
    [9, message(definitions)],
  ]);
}
