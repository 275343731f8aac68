/**
 * Brings a parsed JSON value into the shape Kubernetes stores, driven by a schema:
 * wrong value types are reported with their path, unknown fields are dropped and listed
 * (the API server rejects them in Strict mode and warns in Warn mode), quantities and
 * times take their canonical form, and Go's field presence rules (omitempty, pointers,
 * required fields) decide what is written. The result is what `kubectl get -o json` shows.
 */
import { assertNever } from '@flotilla/actor';
import { formatQuantity, parseQuantity, QuantityError } from '../quantity.ts';
import { formatMicroTime, formatTime, parseTime } from '../time.ts';
import type { Field, ObjectSchema, Schema, Typed } from './schema.ts';
import { goTypeName, shortStructName } from './schema.ts';

/** Problems beyond this count are not collected: one bad manifest must not cost much. */
export const maxReportedProblems = 20;

export type ValueProblem = {
  /** Field path, e.g. `spec.containers[0].ports[0].containerPort`. */
  readonly path: string;
  readonly message: string;
};

export type NormalizeResult<T> = {
  readonly value: T;
  /** Values of the wrong JSON type or unparseable quantities, times and base64. */
  readonly problems: readonly ValueProblem[];
  /** Paths of fields the schema does not know; they are not in `value`. */
  readonly unknownFields: readonly string[];
};

type Context = {
  readonly problems: ValueProblem[];
  readonly unknownFields: string[];
};

/** Normalizes `input` against `schema`; never throws for bad input, it reports it. */
export function normalize<T>(schema: Typed<T>, input: unknown): NormalizeResult<T> {
  const ctx: Context = { problems: [], unknownFields: [] };
  const value = normalizeValue(schema, input, '', '', ctx);
  return { value: value as T, problems: ctx.problems, unknownFields: ctx.unknownFields };
}

function report(ctx: Context, path: string, message: string): undefined {
  if (ctx.problems.length < maxReportedProblems) ctx.problems.push({ path, message });
  return undefined;
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'number' : `number ${value}`;
  return typeof value; // string, object
}

function typeMismatch(
  ctx: Context,
  schema: Schema,
  value: unknown,
  path: string,
  structName: string,
): undefined {
  const where = structName === '' ? 'Go value' : `Go struct field ${structName}.${path}`;
  return report(
    ctx,
    path,
    `json: cannot unmarshal ${jsonKind(value)} into ${where} of type ${goTypeName(schema)}`,
  );
}

const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** `structName` is the Go struct that holds the value (for messages); '' at the top. */
function normalizeValue(
  schema: Schema,
  value: unknown,
  path: string,
  structName: string,
  ctx: Context,
): unknown {
  switch (schema.type) {
    case 'string':
      return typeof value === 'string' ? value : typeMismatch(ctx, schema, value, path, structName);
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        return typeMismatch(ctx, schema, value, path, structName);
      }
      const inRange =
        schema.bits === 32 ? value >= int32Min && value <= int32Max : Number.isSafeInteger(value);
      if (!inRange) return report(ctx, path, `${path}: ${value} overflows int${schema.bits}`);
      return value;
    }
    case 'number':
      return typeof value === 'number' ? value : typeMismatch(ctx, schema, value, path, structName);
    case 'boolean':
      return typeof value === 'boolean' ? value : typeMismatch(ctx, schema, value, path, structName);
    case 'quantity': {
      if (typeof value !== 'string' && typeof value !== 'number') {
        return typeMismatch(ctx, schema, value, path, structName);
      }
      try {
        return formatQuantity(parseQuantity(String(value)));
      } catch (err) {
        if (err instanceof QuantityError) return report(ctx, path, `${path}: ${err.message}`);
        throw err;
      }
    }
    case 'intOrString':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' && Number.isInteger(value) && value >= int32Min && value <= int32Max) {
        return value;
      }
      return typeMismatch(ctx, schema, value, path, structName);
    case 'time': {
      if (typeof value !== 'string') return typeMismatch(ctx, schema, value, path, structName);
      const parsed = parseTime(value);
      if (parsed === undefined) {
        return report(
          ctx,
          path,
          `${path}: invalid time ${JSON.stringify(value)}: must be RFC 3339, e.g. 2006-01-02T15:04:05Z`,
        );
      }
      return schema.micro ? formatMicroTime(parsed) : formatTime(parsed);
    }
    case 'bytes': {
      if (typeof value !== 'string') return typeMismatch(ctx, schema, value, path, structName);
      if (!base64.test(value)) return report(ctx, path, `${path}: illegal base64 data`);
      return value;
    }
    case 'list': {
      if (!Array.isArray(value)) return typeMismatch(ctx, schema, value, path, structName);
      const out: unknown[] = [];
      value.forEach((item, i) => {
        const v =
          item === null
            ? zeroOf(schema.items, ctx)
            : normalizeValue(schema.items, item, `${path}[${i}]`, structName, ctx);
        if (v !== undefined) out.push(v);
      });
      return out;
    }
    case 'map': {
      if (!isPlainObject(value)) return typeMismatch(ctx, schema, value, path, structName);
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(value)) {
        const v =
          item === null
            ? zeroOf(schema.values, ctx)
            : normalizeValue(schema.values, item, `${path}[${k}]`, structName, ctx);
        if (v !== undefined) out[k] = v;
      }
      return out;
    }
    case 'object':
      if (!isPlainObject(value)) return typeMismatch(ctx, schema, value, path, structName);
      return normalizeObject(schema, value, path, ctx);
    case 'any':
      return structuredClone(value);
    default:
      return assertNever(schema, 'schema');
  }
}

function normalizeObject(
  schema: ObjectSchema,
  value: Record<string, unknown>,
  path: string,
  ctx: Context,
): object {
  const out: Record<string, unknown> = {};
  const goName = shortStructName(schema.name, 1);
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(schema.fields, key) && ctx.unknownFields.length < maxReportedProblems) {
      ctx.unknownFields.push(join(path, key));
    }
  }
  for (const [key, field] of Object.entries(schema.fields)) {
    const raw = value[key];
    const fieldPath = join(path, key);
    const v =
      raw === undefined || raw === null
        ? undefined
        : normalizeValue(field.schema, raw, fieldPath, goName, ctx);
    const kept = applyPresence(field, v, ctx);
    if (kept !== undefined) out[key] = kept;
  }
  return out;
}

function applyPresence(field: Field, value: unknown, ctx: Context): unknown {
  switch (field.presence) {
    case 'pointer':
      return value;
    case 'always':
      return value === undefined ? zeroOf(field.schema, ctx) : value;
    case 'omitempty':
      return isEmpty(field.schema, value) ? undefined : value;
    default:
      return assertNever(field.presence, 'presence');
  }
}

/** Go's omitempty: structs, quantities and times are never "empty", only absent. */
function isEmpty(schema: Schema, value: unknown): boolean {
  if (value === undefined) return true;
  switch (schema.type) {
    case 'string':
    case 'bytes':
      return value === '';
    case 'integer':
    case 'number':
      return value === 0;
    case 'boolean':
      return value === false;
    case 'list':
      return (value as unknown[]).length === 0;
    case 'map':
      return Object.keys(value as object).length === 0;
    default:
      return false;
  }
}

/** The zero value Kubernetes writes for a required field that was not given. */
function zeroOf(schema: Schema, ctx: Context): unknown {
  switch (schema.type) {
    case 'string':
    case 'bytes':
      return '';
    case 'integer':
    case 'number':
    case 'intOrString':
      return 0;
    case 'boolean':
      return false;
    case 'quantity':
      return '0';
    case 'list':
      return [];
    case 'map':
      return {};
    case 'object':
      return normalizeObject(schema, {}, '', ctx);
    case 'time':
    case 'any':
      return undefined;
    default:
      return assertNever(schema, 'schema');
  }
}
