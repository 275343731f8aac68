import { StatusError } from '@flotilla/api';
import { describe, expect, it } from 'vitest';
import { decodeContinue, encodeContinue } from './continue-token.ts';

function code(run: () => unknown): number | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    return err instanceof StatusError ? err.status.code : -1;
  }
}

describe('continue tokens', () => {
  it('carry the revision and the key to go on after', () => {
    const token = encodeContinue({ revision: 42, after: 'shop/web-7' });
    expect(decodeContinue(token)).toEqual({ revision: 42, after: 'shop/web-7' });
    // Kubernetes' shape, so that a token looks like one to anyone who decodes it.
    expect(JSON.parse(Buffer.from(token, 'base64url').toString())).toEqual({
      v: 'meta.k8s.io/v1',
      rv: 42,
      start: 'shop/web-7\u0000',
    });
  });

  it('refuse tokens this server did not make with a 400', () => {
    const forge = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const bad of [
      'not base64 json',
      forge({ v: 'meta.k8s.io/v2', rv: 1, start: 'a\u0000' }),
      forge({ v: 'meta.k8s.io/v1', rv: -3, start: 'a\u0000' }),
      forge({ v: 'meta.k8s.io/v1', rv: 1.5, start: 'a\u0000' }),
      forge({ v: 'meta.k8s.io/v1', rv: 1, start: 'a' }),
      forge([1, 2]),
      'x'.repeat(5_000),
    ]) {
      expect(
        code(() => decodeContinue(bad)),
        bad,
      ).toBe(400);
    }
  });
});
