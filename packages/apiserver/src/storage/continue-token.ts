/**
 * The `continue` token of a paged list: the revision the first page was read at and the
 * key to go on from, so every page of one list comes from the same revision of the store.
 * The shape is Kubernetes' own (base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"..."}`).
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
 */
import { badRequest } from '@flotilla/api';

export type ContinueToken = {
  /** The store revision every page is read at. */
  readonly revision: number;
  /** The next page starts after this key, relative to the collection's prefix. */
  readonly after: string;
};

const tokenVersion = 'meta.k8s.io/v1';
/** Longer tokens are refused before decoding: a key is at most 960 bytes. */
export const maxContinueTokenChars = 4_096;

export function encodeContinue(token: ContinueToken): string {
  const body = JSON.stringify({ v: tokenVersion, rv: token.revision, start: `${token.after}\u0000` });
  return Buffer.from(body, 'utf8').toString('base64url');
}

function invalidToken(why: string): Error {
  return badRequest(`continue key is not valid: ${why}`);
}

/** Decodes a token a client sent back; a 400 when it is not one this server made. */
export function decodeContinue(text: string): ContinueToken {
  if (text.length > maxContinueTokenChars) throw invalidToken('too long');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken('not base64-encoded JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalidToken('not an object');
  const { v, rv, start } = parsed as Record<string, unknown>;
  if (v !== tokenVersion) throw invalidToken(`unsupported version ${JSON.stringify(v)}`);
  if (typeof rv !== 'number' || !Number.isSafeInteger(rv) || rv < 1)
    throw invalidToken('bad resource version');
  if (typeof start !== 'string' || !start.endsWith('\u0000') || start.length < 2) {
    throw invalidToken('bad start key');
  }
  return { revision: rv, after: start.slice(0, -1) };
}
