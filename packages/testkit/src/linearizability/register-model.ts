import { assertNever } from '@flotilla/actor';
import { ILLEGAL, type Model, UNKNOWN } from './model.ts';

/** One integer register starting at 0: the smallest object worth checking, for tests. */
export type RegisterInput = { readonly kind: 'read' } | { readonly kind: 'write'; readonly value: number };
export type RegisterOutput = { readonly kind: 'read'; readonly value: number } | { readonly kind: 'write' };

export const registerModel: Model<number, RegisterInput, RegisterOutput> = {
  name: 'register',
  init: () => 0,
  step(state, input, output) {
    switch (input.kind) {
      case 'read':
        return output === UNKNOWN || (output.kind === 'read' && output.value === state)
          ? { ok: true, next: state }
          : ILLEGAL;
      case 'write':
        return output === UNKNOWN || output.kind === 'write' ? { ok: true, next: input.value } : ILLEGAL;
      default:
        return assertNever(input, 'register input');
    }
  },
  readOnly: (input) => input.kind === 'read',
  blindWrite: (input) => input.kind === 'write',
  equal: (a, b) => a === b,
  hash: (state) => state | 0,
  validate(input, output) {
    if (input.kind !== 'read' && input.kind !== 'write') return `unknown input kind ${JSON.stringify(input)}`;
    if (input.kind === 'write' && !Number.isFinite(input.value)) return 'a write needs a finite value';
    if (output !== UNKNOWN && output.kind !== input.kind)
      return `a ${input.kind} needs a ${input.kind} output`;
    return undefined;
  },
  describeOperation(input, output) {
    const result = output === UNKNOWN ? '?' : output.kind === 'read' ? String(output.value) : 'ok';
    return input.kind === 'read' ? `read → ${result}` : `write ${input.value} → ${result}`;
  },
  describeState: (state) => String(state),
};
