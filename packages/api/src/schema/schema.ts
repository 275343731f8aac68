/**
 * A runtime description of every API type: field names, value kinds, how each field is
 * present in Kubernetes' JSON (Go's omitempty, pointers, required fields), and the
 * strategic-merge-patch strategy of lists and structs (the `patchStrategy` and
 * `patchMergeKey` tags of Kubernetes' Go types). One table drives decoding, unknown-field
 * detection and strategic merge patch, so they cannot disagree.
 *
 * `struct<T>()` is checked against the TypeScript type `T` at compile time: a schema
 * must list every field of the type, with a value kind of exactly the field's type.
 */

import { assertNever } from '@flotilla/actor';

declare const valueType: unique symbol;

/**
 * How a field appears in Kubernetes' JSON:
 * - omitempty: an empty string, zero, false, empty list or empty map is left out;
 * - pointer: kept whenever set, zero included (`replicas: 0`);
 * - always: always written; missing scalars and structs are filled with their zero value.
 */
export type Presence = 'omitempty' | 'pointer' | 'always';

/** How strategic merge patch treats a list. */
export type ListPatch =
  | { readonly strategy: 'replace' }
  /** Merge by `mergeKey` (lists of objects) or as a set (lists of scalars, no key). */
  | { readonly strategy: 'merge'; readonly mergeKey?: string; readonly retainKeys: boolean };

export type ObjectSchema = {
  readonly type: 'object';
  /** OpenAPI definition name, e.g. `io.k8s.api.core.v1.PodSpec`. */
  readonly name: string;
  readonly fields: Readonly<Record<string, Field>>;
  /** Strategic merge patch `retainKeys`: a patch may clear the fields it does not list. */
  readonly retainKeys: boolean;
};

export type Schema =
  | { readonly type: 'string' }
  | { readonly type: 'integer'; readonly bits: 32 | 64 }
  | { readonly type: 'number' }
  | { readonly type: 'boolean' }
  | { readonly type: 'quantity' }
  | { readonly type: 'intOrString' }
  | { readonly type: 'time'; readonly micro: boolean }
  | { readonly type: 'bytes' }
  | { readonly type: 'list'; readonly items: Schema; readonly patch: ListPatch }
  | { readonly type: 'map'; readonly values: Schema }
  | ObjectSchema
  | { readonly type: 'any' };

export type Field = { readonly schema: Schema; readonly presence: Presence };

/** A schema that describes values of type T (a compile-time tag only). */
export type Typed<T> = Schema & { readonly [valueType]?: (value: T) => T };
export type TypedObject<T> = ObjectSchema & { readonly [valueType]?: (value: T) => T };
export type TypedField<T> = Field & { readonly [valueType]?: (value: T) => T };

type FieldsOf<T> = {
  readonly [K in keyof T]-?: Typed<Exclude<T[K], undefined>> | TypedField<Exclude<T[K], undefined>>;
};

export const string = <T extends string = string>(): Typed<T> => ({ type: 'string' });
export const int32: Typed<number> = { type: 'integer', bits: 32 };
export const int64: Typed<number> = { type: 'integer', bits: 64 };
export const float64: Typed<number> = { type: 'number' };
export const boolean: Typed<boolean> = { type: 'boolean' };
/** A resource quantity, stored in canonical form. */
export const quantity: Typed<string> = { type: 'quantity' };
export const intOrString: Typed<number | string> = { type: 'intOrString' };
export const time: Typed<string> = { type: 'time', micro: false };
export const microTime: Typed<string> = { type: 'time', micro: true };
/** A byte string, base64 on the wire. */
export const bytes: Typed<string> = { type: 'bytes' };
export const anyValue = <T>(): Typed<T> => ({ type: 'any' });

const replaceList: ListPatch = { strategy: 'replace' };

/** A list that strategic merge patch replaces as a whole (`atomic`). */
export function list<T>(items: Typed<T>): Typed<readonly T[]> {
  return { type: 'list', items, patch: replaceList };
}

/** A list of objects that strategic merge patch merges by `mergeKey`. */
export function mergeList<T>(
  items: Typed<T>,
  mergeKey: string & keyof T,
  options: { readonly retainKeys?: boolean } = {},
): Typed<readonly T[]> {
  return {
    type: 'list',
    items,
    patch: { strategy: 'merge', mergeKey, retainKeys: options.retainKeys ?? false },
  };
}

/** A list of scalars that strategic merge patch merges as a set (`finalizers`). */
export function setList<T extends string | number>(items: Typed<T>): Typed<readonly T[]> {
  return { type: 'list', items, patch: { strategy: 'merge', retainKeys: false } };
}

export function map<T>(values: Typed<T>): Typed<Readonly<Record<string, T>>> {
  return { type: 'map', values };
}

export const pointer = <T>(schema: Typed<T>): TypedField<T> => ({ schema, presence: 'pointer' });
export const always = <T>(schema: Typed<T>): TypedField<T> => ({ schema, presence: 'always' });

/** A struct: every field of T, each with its schema (omitempty unless wrapped). */
export function struct<T>(
  name: string,
  fields: FieldsOf<T>,
  options: { readonly retainKeys?: boolean } = {},
): TypedObject<T> {
  const out: Record<string, Field> = {};
  for (const [key, entry] of Object.entries(fields) as [string, Schema | Field][]) {
    out[key] = 'presence' in entry ? entry : { schema: entry, presence: 'omitempty' };
  }
  return { type: 'object', name, fields: out, retainKeys: options.retainKeys ?? false };
}

/** The Go spelling of a schema's type, used in decode errors the way Kubernetes words them. */
export function goTypeName(schema: Schema): string {
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'integer':
      return `int${schema.bits}`;
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'quantity':
      return 'resource.Quantity';
    case 'intOrString':
      return 'intstr.IntOrString';
    case 'time':
      return schema.micro ? 'v1.MicroTime' : 'v1.Time';
    case 'bytes':
      return '[]uint8';
    case 'list':
      return `[]${goTypeName(schema.items)}`;
    case 'map':
      return `map[string]${goTypeName(schema.values)}`;
    case 'object':
      return shortStructName(schema.name, 2);
    case 'any':
      return 'interface {}';
    default:
      return assertNever(schema, 'schema');
  }
}

/** `io.k8s.api.core.v1.PodSpec` → `PodSpec` (segments 1) or `v1.PodSpec` (segments 2). */
export function shortStructName(name: string, segments: 1 | 2): string {
  return name.split('.').slice(-segments).join('.');
}
