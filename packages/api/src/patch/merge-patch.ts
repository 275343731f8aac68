/**
 * JSON Merge Patch (RFC 7386): objects merge key by key, `null` deletes, anything else
 * (arrays included) replaces. What `kubectl label`, `annotate` and `scale` send.
 * https://www.rfc-editor.org/rfc/rfc7386
 */
import { PatchError } from './patch-error.ts';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

/** Applies a merge patch to an object; the patch must be an object too (a 400 otherwise). */
export function applyMergePatch(
  document: Readonly<Record<string, unknown>>,
  patch: unknown,
): Record<string, unknown> {
  if (!isObject(patch)) throw new PatchError('malformed', 'a merge patch must be a JSON object');
  return merge(document, patch) as Record<string, unknown>;
}
