/** Errors of applying a patch, and the Status each becomes. */
import { FlotillaError } from '@flotilla/actor';
import { badRequest, requestEntityTooLarge, type StatusError, unprocessablePatch } from '../status.ts';

/**
 * - malformed: the patch document itself is wrong (400);
 * - failed: a well-formed patch does not apply to this object, e.g. a JSON patch `test`
 *   fails or a path is missing (422);
 * - too-large: more operations than allowed (413).
 */
export type PatchErrorKind = 'malformed' | 'failed' | 'too-large';

export class PatchError extends FlotillaError {
  readonly kind: PatchErrorKind;
  constructor(kind: PatchErrorKind, message: string) {
    super('InvalidPatch', message, { kind });
    this.kind = kind;
  }
}

/** The Status the API server answers a PatchError with. */
export function patchErrorStatus(err: PatchError, maxBodyBytes = 3 * 1024 * 1024): StatusError {
  switch (err.kind) {
    case 'malformed':
      return badRequest(err.message);
    case 'failed':
      return unprocessablePatch(err.message);
    case 'too-large':
      return requestEntityTooLarge(maxBodyBytes);
  }
}
