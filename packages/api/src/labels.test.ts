import { describe, expect, it } from 'vitest';
import {
  formatLabelSelector,
  formatLabels,
  labelSelectorFromStruct,
  matchesLabels,
  parseLabelSelector,
  SelectorError,
  selectorFromSet,
} from './labels.ts';

const matches = (sel: string, labels: Record<string, string>): boolean =>
  matchesLabels(parseLabelSelector(sel), labels);

describe('label selector strings', () => {
  it('parses and prints in canonical order', () => {
    expect(formatLabelSelector(parseLabelSelector('tier in (fe, be),app=web,!canary'))).toBe(
      'app=web,!canary,tier in (be,fe)',
    );
    expect(formatLabelSelector(parseLabelSelector('  a == b , c != d,e,f>3 '))).toBe('a==b,c!=d,e,f>3');
    expect(formatLabelSelector(parseLabelSelector(''))).toBe('');
  });

  it('matches equality-based requirements', () => {
    expect(matches('app=web', { app: 'web' })).toBe(true);
    expect(matches('app=web', { app: 'db' })).toBe(false);
    expect(matches('app!=web', {})).toBe(true); // a missing label is "not equal"
    expect(matches('app!=web', { app: 'web' })).toBe(false);
    expect(matches('app=', { app: '' })).toBe(true);
    expect(matches('app=', {})).toBe(false);
  });

  it('matches set-based requirements, including their edge cases', () => {
    expect(matches('env in (prod,staging)', { env: 'prod' })).toBe(true);
    expect(matches('env in (prod,staging)', {})).toBe(false);
    expect(matches('env notin (prod)', {})).toBe(true);
    expect(matches('env notin (prod)', { env: 'prod' })).toBe(false);
    expect(matches('env', { env: '' })).toBe(true);
    expect(matches('!env', { env: '' })).toBe(false);
    // `()`, `(,x)` and `(x,)` carry the empty value.
    expect(matches('env in ()', { env: '' })).toBe(true);
    expect(matches('env in (x,)', { env: '' })).toBe(true);
    expect(formatLabelSelector(parseLabelSelector('env in (,x)'))).toBe('env in (,x)');
    // `in` and `notin` are ordinary names where a key or value is expected.
    expect(matches('in in (notin)', { in: 'notin' })).toBe(true);
    // Requirements on the same key are ANDed.
    expect(matches('a,a!=x', { a: 'y' })).toBe(true);
    expect(matches('a,a!=x', { a: 'x' })).toBe(false);
  });

  it('compares integers with > and <', () => {
    expect(matches('replicas>2', { replicas: '3' })).toBe(true);
    expect(matches('replicas>2', { replicas: '2' })).toBe(false);
    expect(matches('replicas<2', { replicas: 'two' })).toBe(false);
    expect(matches('replicas<2', {})).toBe(false);
  });

  it.each([
    ['a in (x', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['a in x', "unable to parse requirement: found 'x', expected: '('"],
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['a,', "found '', expected: identifier after ','"],
    [',a', "found ',', expected: !, identifier, or 'end of string'"],
    ['a=(', "unable to parse requirement: found '(', expected: identifier"],
    ['!a=b', "unable to parse requirement: found '=', expected: ',' or 'end of string'"],
    ['a>x', "for 'Gt', 'Lt' operators, the value must be an integer"],
    ['-a=b', 'key: Invalid value: "-a"'],
    ['a=-b', 'values[0]: Invalid value: "-b"'],
  ])('%j is refused: %s', (input, message) => {
    let caught: unknown;
    try {
      parseLabelSelector(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SelectorError);
    expect((caught as SelectorError).message).toContain(message);
  });
});

describe('LabelSelector structs', () => {
  it('selects nothing when absent and everything when empty', () => {
    expect(matchesLabels(labelSelectorFromStruct(undefined), { a: 'b' })).toBe(false);
    expect(matchesLabels(labelSelectorFromStruct({}), { a: 'b' })).toBe(true);
  });

  it('ANDs matchLabels and matchExpressions', () => {
    const sel = labelSelectorFromStruct({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['fe', 'be'] },
        { key: 'canary', operator: 'DoesNotExist' },
      ],
    });
    expect(formatLabelSelector(sel)).toBe('app=web,!canary,tier in (be,fe)');
    expect(matchesLabels(sel, { app: 'web', tier: 'fe' })).toBe(true);
    expect(matchesLabels(sel, { app: 'web', tier: 'fe', canary: 'y' })).toBe(false);
    expect(matchesLabels(sel, { app: 'web', tier: 'db' })).toBe(false);
  });

  it('refuses bad operators and value sets', () => {
    expect(() =>
      labelSelectorFromStruct({ matchExpressions: [{ key: 'a', operator: 'Gt' as 'In', values: ['1'] }] }),
    ).toThrow('"Gt" is not a valid label selector operator');
    expect(() => labelSelectorFromStruct({ matchExpressions: [{ key: 'a', operator: 'In' }] })).toThrow(
      "values set can't be empty",
    );
    expect(() =>
      labelSelectorFromStruct({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }),
    ).toThrow('values set must be empty');
  });

  it('turns a map into an equality selector and prints maps as kubectl does', () => {
    expect(formatLabelSelector(selectorFromSet({ b: '2', a: '1' }))).toBe('a=1,b=2');
    expect(formatLabels({ b: '2', a: '1' })).toBe('a=1,b=2');
    expect(formatLabels({})).toBe('<none>');
  });
});
