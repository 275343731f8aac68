/**
 * Strategic merge patch, as the API server applies it to built-in types: maps merge,
 * lists follow their field's strategy from the schema (merged by a key such as a
 * container's `name`, merged as a set, or replaced), and the directives kubectl sends
 * are honoured: `$patch: replace|delete|merge`, `$retainKeys`,
 * `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.
 * https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md
 */
import type { ObjectSchema, Schema } from '../schema/schema.ts';
import { jsonEqual } from './json-patch.ts';
import { PatchError } from './patch-error.ts';

const patchDirective = '$patch';
const retainKeysDirective = '$retainKeys';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList/';
const setElementOrderPrefix = '$setElementOrder/';

type Json = unknown;
type JsonObject = Record<string, Json>;

function isObject(v: Json): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isDirectiveKey = (k: string): boolean =>
  k === patchDirective ||
  k === retainKeysDirective ||
  k.startsWith(deleteFromPrimitiveListPrefix) ||
  k.startsWith(setElementOrderPrefix);

/** The schema of `key` inside `schema`: a struct's field or a map's values. */
function childSchema(schema: Schema | undefined, key: string): Schema | undefined {
  if (schema === undefined) return undefined;
  if (schema.type === 'object') return schema.fields[key]?.schema;
  if (schema.type === 'map') return schema.values;
  return undefined;
}

type ListStrategy =
  | { readonly merge: false }
  | { readonly merge: true; readonly mergeKey: string | undefined; readonly items: Schema };

function listStrategy(schema: Schema | undefined): ListStrategy {
  if (schema?.type !== 'list' || schema.patch.strategy !== 'merge') return { merge: false };
  return { merge: true, mergeKey: schema.patch.mergeKey, items: schema.items };
}

/** The value of a patch entry with no original to merge into (directives and nulls removed). */
function fresh(patch: Json, schema: Schema | undefined): Json {
  if (isObject(patch)) return mergeMap({}, patch, schema);
  if (Array.isArray(patch)) {
    const strategy = listStrategy(schema);
    if (strategy.merge) return mergeList([], patch, strategy, undefined);
    const items = schema?.type === 'list' ? schema.items : undefined;
    return patch.map((item) => fresh(item, items));
  }
  return patch;
}

function mergeValue(original: Json, patch: Json, schema: Schema | undefined): Json {
  if (isObject(original) && isObject(patch)) return mergeMap(original, patch, schema);
  if (Array.isArray(original) && Array.isArray(patch)) {
    const strategy = listStrategy(schema);
    if (strategy.merge) return mergeList(original, patch, strategy, undefined);
  }
  return fresh(patch, schema);
}

function keyOf(item: Json, mergeKey: string | undefined): Json {
  return mergeKey === undefined ? item : isObject(item) ? item[mergeKey] : undefined;
}

function indexIn(list: readonly Json[], item: Json, mergeKey: string | undefined): number {
  const k = keyOf(item, mergeKey);
  return list.findIndex((x) => jsonEqual(keyOf(x, mergeKey), k));
}

/** Sorts items by their position in `order`; items not in it keep their order, after the rest. */
function sortByOrder(items: readonly Json[], order: readonly Json[], mergeKey: string | undefined): Json[] {
  const ranked = items.map((item, i) => ({ item, i, at: indexIn(order, item, mergeKey) }));
  ranked.sort((a, b) => {
    if (a.at >= 0 && b.at >= 0) return a.at - b.at;
    if (a.at >= 0) return -1;
    if (b.at >= 0) return 1;
    return a.i - b.i;
  });
  return ranked.map((r) => r.item);
}

/**
 * Interleaves the server-only items (in their original order) with the patched items (in
 * patch order), keeping each group's order; where the original order relates two items
 * it decides, otherwise the patched item goes first (Kubernetes' mergeSortedSlice).
 */
function interleave(
  serverOnly: readonly Json[],
  patched: readonly Json[],
  original: readonly Json[],
  mergeKey: string | undefined,
): Json[] {
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < patched.length) {
    if (j >= patched.length) out.push(serverOnly[i++]);
    else if (i >= serverOnly.length) out.push(patched[j++]);
    else {
      const li = indexIn(original, serverOnly[i], mergeKey);
      const ri = indexIn(original, patched[j], mergeKey);
      if (li >= 0 && ri >= 0 && li < ri) out.push(serverOnly[i++]);
      else out.push(patched[j++]);
    }
  }
  return out;
}

/** Orders a merged list: items named by `order` (the patch or its $setElementOrder) lead. */
function normalizeOrder(
  merged: readonly Json[],
  order: readonly Json[],
  original: readonly Json[],
  mergeKey: string | undefined,
): Json[] {
  const inOrder = merged.filter((x) => indexIn(order, x, mergeKey) >= 0);
  const serverOnly = merged.filter((x) => indexIn(order, x, mergeKey) < 0);
  return interleave(
    sortByOrder(serverOnly, original, mergeKey),
    sortByOrder(inOrder, order, mergeKey),
    original,
    mergeKey,
  );
}

function mergeList(
  original: readonly Json[],
  patch: readonly Json[],
  strategy: ListStrategy & { merge: true },
  order: readonly Json[] | undefined,
): Json[] {
  const { mergeKey, items } = strategy;
  if (mergeKey === undefined) {
    // A set of scalars: the union, without duplicates.
    const merged: Json[] = [];
    for (const v of [...original, ...patch]) if (!merged.some((m) => jsonEqual(m, v))) merged.push(v);
    return normalizeOrder(merged, order ?? patch, original, undefined);
  }
  let base: Json[] = [...original];
  const plain: JsonObject[] = [];
  let replaceAll = false;
  for (const item of patch) {
    if (!isObject(item))
      throw new PatchError(
        'malformed',
        `list items must be objects with the merge key ${JSON.stringify(mergeKey)}, got ${JSON.stringify(item)}`,
      );
    const directive = item[patchDirective];
    if (directive === undefined) {
      plain.push(item);
      continue;
    }
    switch (directive) {
      case 'delete':
        if (!Object.hasOwn(item, mergeKey)) {
          throw new PatchError(
            'malformed',
            `map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`,
          );
        }
        base = base.filter((x) => !jsonEqual(keyOf(x, mergeKey), item[mergeKey]));
        break;
      case 'replace':
        replaceAll = true;
        break;
      case 'merge':
        throw new PatchError('malformed', 'merging lists cannot yet be specified in the patch');
      default:
        throw new PatchError(
          'malformed',
          `unknown patch type: ${String(directive)} in map: ${JSON.stringify(item)}`,
        );
    }
  }
  if (replaceAll) return plain.map((item) => fresh(item, items));
  for (const item of plain) {
    if (!Object.hasOwn(item, mergeKey)) {
      throw new PatchError(
        'malformed',
        `map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`,
      );
    }
    const at = indexIn(base, item, mergeKey);
    if (at >= 0) base[at] = mergeMap(base[at] as JsonObject, item, items);
    else base.push(fresh(item, items));
  }
  return normalizeOrder(base, order ?? plain, original, mergeKey);
}

function retainKeys(original: JsonObject, patch: JsonObject): void {
  const list = patch[retainKeysDirective];
  if (!Array.isArray(list) || !list.every((k) => typeof k === 'string')) {
    throw new PatchError('malformed', 'invalid patch format of retainKeys');
  }
  const keep = new Set(list as string[]);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || isDirectiveKey(k)) continue;
    if (!keep.has(k))
      throw new PatchError(
        'failed',
        `the patch has field ${JSON.stringify(k)} that $retainKeys does not list`,
      );
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

function mergeMap(originalIn: JsonObject, patch: JsonObject, schema: Schema | undefined): JsonObject {
  const directive = patch[patchDirective];
  if (directive !== undefined) {
    const { [patchDirective]: _, ...rest } = patch;
    if (directive === 'replace') return mergeMap({}, rest, schema);
    if (directive === 'delete') return {};
    if (directive !== 'merge')
      throw new PatchError(
        'malformed',
        `unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`,
      );
  }
  const original: JsonObject = { ...originalIn };
  if (Object.hasOwn(patch, retainKeysDirective)) retainKeys(original, patch);
  const orders: [string, Json[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === patchDirective || k === retainKeysDirective) continue;
    if (k.startsWith(setElementOrderPrefix)) {
      if (!Array.isArray(v)) throw new PatchError('malformed', `${k} must be a list`);
      orders.push([k.slice(setElementOrderPrefix.length), v]);
      continue;
    }
    if (k.startsWith(deleteFromPrimitiveListPrefix)) {
      const field = k.slice(deleteFromPrimitiveListPrefix.length);
      if (!Array.isArray(v)) throw new PatchError('malformed', `${k} must be a list of values to delete`);
      const current = original[field];
      if (Array.isArray(current)) original[field] = current.filter((x) => !v.some((d) => jsonEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete original[k];
      continue;
    }
    const fieldSchema = childSchema(schema, k);
    const strategy = listStrategy(fieldSchema);
    if (Array.isArray(original[k]) && Array.isArray(v) && strategy.merge) {
      original[k] = mergeList(
        original[k] as Json[],
        v,
        strategy,
        patch[`${setElementOrderPrefix}${k}`] as Json[] | undefined,
      );
    } else {
      original[k] =
        original[k] === undefined ? fresh(v, fieldSchema) : mergeValue(original[k], v, fieldSchema);
    }
  }
  // A $setElementOrder also reorders a list the patch does not otherwise touch.
  for (const [field, order] of orders) {
    const current = original[field];
    const strategy = listStrategy(childSchema(schema, field));
    if (!Array.isArray(current) || Object.hasOwn(patch, field) || !strategy.merge) continue;
    const reordered = normalizeOrder(current, order, current, strategy.mergeKey);
    if (reordered.length === 0) delete original[field];
    else original[field] = reordered;
  }
  return original;
}

/**
 * Applies a strategic merge patch to an object of the type `schema` describes; throws
 * PatchError (malformed: 400, failed: 422) and leaves `document` unchanged.
 */
export function applyStrategicMergePatch(
  document: Readonly<JsonObject>,
  patch: unknown,
  schema: ObjectSchema,
): JsonObject {
  if (!isObject(patch)) throw new PatchError('malformed', 'a strategic merge patch must be a JSON object');
  return mergeMap(structuredClone(document) as JsonObject, patch, schema);
}
