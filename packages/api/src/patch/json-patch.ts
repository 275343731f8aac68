/**
 * JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): add, remove, replace, move,
 * copy and test, applied atomically (all operations or none) to a copy of the document.
 * https://www.rfc-editor.org/rfc/rfc6902
 */
import { PatchError } from './patch-error.ts';

/** Kubernetes refuses JSON patches with more operations than this. */
export const maxJsonPatchOperations = 10_000;

export type JsonPatchOperation =
  | { readonly op: 'add' | 'replace' | 'test'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string }
  | { readonly op: 'move' | 'copy'; readonly from: string; readonly path: string };

type Container = Record<string, unknown> | unknown[];

/** Splits a JSON Pointer into its unescaped tokens; `''` is the whole document. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/'))
    throw new PatchError('malformed', `JSON pointer ${JSON.stringify(pointer)} must start with '/'`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~[^01]|~$/.test(t))
        throw new PatchError('malformed', `JSON pointer ${JSON.stringify(pointer)} has a bad escape`);
      return t.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A valid array index for an existing element (no leading zeros, in range). */
function arrayIndex(arr: unknown[], token: string, path: string, forInsert: boolean): number {
  if (!/^(0|[1-9][0-9]*)$/.test(token))
    throw new PatchError('failed', `${path}: ${JSON.stringify(token)} is not an array index`);
  const i = Number(token);
  const limit = forInsert ? arr.length : arr.length - 1;
  if (i > limit)
    throw new PatchError('failed', `${path}: index ${i} is out of bounds (length ${arr.length})`);
  return i;
}

/** The container holding the pointer's last token, and that token. */
function parentOf(
  doc: unknown,
  tokens: readonly string[],
  path: string,
): { parent: Container; last: string } {
  let cur: unknown = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, path, false)];
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw new PatchError('failed', `${path}: the path does not exist`);
  }
  if (!Array.isArray(cur) && !isObject(cur))
    throw new PatchError('failed', `${path}: the parent is not an object or an array`);
  return { parent: cur, last: tokens[tokens.length - 1] as string };
}

function get(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const t of parsePointer(path)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, path, false)];
    else if (isObject(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw new PatchError('failed', `${path}: the path does not exist`);
  }
  return cur;
}

/** JSON equality: object key order does not matter, array order does. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
    );
  }
  return false;
}

type Doc = { value: unknown };

function add(doc: Doc, path: string, value: unknown): void {
  const tokens = parsePointer(path);
  if (tokens.length === 0) {
    doc.value = value;
    return;
  }
  const { parent, last } = parentOf(doc.value, tokens, path);
  if (Array.isArray(parent)) {
    if (last === '-') parent.push(value);
    else parent.splice(arrayIndex(parent, last, path, true), 0, value);
  } else {
    parent[last] = value;
  }
}

function remove(doc: Doc, path: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) throw new PatchError('failed', 'the whole document cannot be removed');
  const { parent, last } = parentOf(doc.value, tokens, path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, path, false), 1)[0];
  if (!Object.hasOwn(parent, last)) throw new PatchError('failed', `${path}: the path does not exist`);
  const old = parent[last];
  delete parent[last];
  return old;
}

function replace(doc: Doc, path: string, value: unknown): void {
  const tokens = parsePointer(path);
  if (tokens.length === 0) {
    doc.value = value;
    return;
  }
  const { parent, last } = parentOf(doc.value, tokens, path);
  if (Array.isArray(parent)) parent[arrayIndex(parent, last, path, false)] = value;
  else if (Object.hasOwn(parent, last)) parent[last] = value;
  else throw new PatchError('failed', `${path}: the path does not exist`);
}

/** Checks the shape of a patch document and returns its operations. */
export function parseJsonPatch(patch: unknown): JsonPatchOperation[] {
  if (!Array.isArray(patch)) throw new PatchError('malformed', 'a JSON patch must be an array of operations');
  if (patch.length > maxJsonPatchOperations) {
    throw new PatchError(
      'too-large',
      `The allowed maximum operations in a JSON patch is ${maxJsonPatchOperations}, got ${patch.length}`,
    );
  }
  return patch.map((raw, i): JsonPatchOperation => {
    const where = `operation ${i}`;
    if (!isObject(raw)) throw new PatchError('malformed', `${where}: must be an object`);
    const { op, path } = raw;
    if (typeof path !== 'string') throw new PatchError('malformed', `${where}: "path" must be a string`);
    parsePointer(path);
    switch (op) {
      case 'add':
      case 'replace':
      case 'test':
        if (!Object.hasOwn(raw, 'value'))
          throw new PatchError('malformed', `${where} (${op} ${path}): "value" is missing`);
        return { op, path, value: raw.value };
      case 'remove':
        return { op, path };
      case 'move':
      case 'copy': {
        const { from } = raw;
        if (typeof from !== 'string')
          throw new PatchError('malformed', `${where} (${op} ${path}): "from" must be a string`);
        parsePointer(from);
        return { op, from, path };
      }
      default:
        throw new PatchError(
          'malformed',
          `${where}: unknown op ${JSON.stringify(op)}; expected add, remove, replace, move, copy or test`,
        );
    }
  });
}

/** Applies a JSON patch to a copy of `document`; throws PatchError and changes nothing on failure. */
export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  const ops = parseJsonPatch(patch);
  const doc: Doc = { value: structuredClone(document) };
  ops.forEach((op, i) => {
    try {
      switch (op.op) {
        case 'add':
          add(doc, op.path, structuredClone(op.value));
          break;
        case 'remove':
          remove(doc, op.path);
          break;
        case 'replace':
          replace(doc, op.path, structuredClone(op.value));
          break;
        case 'move': {
          if (op.path.startsWith(`${op.from}/`)) {
            throw new PatchError('failed', `${op.from} cannot be moved into its own child ${op.path}`);
          }
          if (op.from === op.path) break;
          add(doc, op.path, remove(doc, op.from));
          break;
        }
        case 'copy':
          add(doc, op.path, structuredClone(get(doc.value, op.from)));
          break;
        case 'test':
          if (!jsonEqual(get(doc.value, op.path), op.value)) {
            throw new PatchError(
              'failed',
              `testing value ${op.path} failed: it is not ${JSON.stringify(op.value)}`,
            );
          }
          break;
      }
    } catch (err) {
      if (err instanceof PatchError && err.kind === 'failed')
        throw new PatchError('failed', `operation ${i} (${op.op}): ${err.message}`);
      throw err;
    }
  });
  return doc.value;
}
