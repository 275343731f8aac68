import { describe, expect, it } from 'vitest';
import {
  FlotillaError,
  fromWireError,
  RemoteError,
  registerRemoteError,
  StreamError,
  toWireError,
  UnknownMethodError,
} from './errors.ts';

class NotLeaderTestError extends FlotillaError {
  readonly leaderHint: string | undefined;
  constructor(message: string, data: unknown) {
    super('NotLeaderTest', message, data);
    this.leaderHint = (data as { leader?: string }).leader;
  }
}

describe('wire errors', () => {
  it('brings registered codes back as their class, with data', () => {
    registerRemoteError('NotLeaderTest', (m, d) => new NotLeaderTestError(m, d));
    const back = fromWireError(toWireError(new NotLeaderTestError('not the leader', { leader: 'm2' })));
    expect(back).toBeInstanceOf(NotLeaderTestError);
    expect((back as NotLeaderTestError).leaderHint).toBe('m2');
  });
  it('keeps unknown codes as RemoteError and plain errors as Internal', () => {
    const back = fromWireError(toWireError(new FlotillaError('Weird', 'w', { x: 1 })));
    expect(back).toBeInstanceOf(RemoteError);
    expect(back).toMatchObject({ code: 'Weird', message: 'w', data: { x: 1 } });
    expect(toWireError(new TypeError('boom'))).toEqual({ code: 'Internal', message: 'boom' });
    expect(toWireError('str')).toEqual({ code: 'Internal', message: 'str' });
  });
  it('maps built-in codes', () => {
    expect(fromWireError(toWireError(UnknownMethodError.of('kv', 'x')))).toBeInstanceOf(UnknownMethodError);
    expect(fromWireError({ code: 'StreamGap', message: 'g' })).toBeInstanceOf(StreamError);
  });
});
