/**
 * Label selectors: the string syntax of `-l` and `?labelSelector=` (equality-based `a=b`,
 * `a==b`, `a!=b`; set-based `a in (x,y)`, `a notin (x)`, `a`, `!a`; and `a>1`, `a<1`),
 * the LabelSelector struct of workloads (matchLabels, matchExpressions), and matching.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
 */
import { FlotillaError } from '@flotilla/actor';
import { isQualifiedName, isValidLabelValue } from './names.ts';
import type { LabelSelector } from './types/meta.ts';

export type SelectorOperator =
  | 'Exists'
  | 'DoesNotExist'
  | 'Equals'
  | 'DoubleEquals'
  | 'NotEquals'
  | 'In'
  | 'NotIn'
  | 'GreaterThan'
  | 'LessThan';

export type Requirement = {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Sorted and without duplicates for In and NotIn; one value for the exact operators. */
  readonly values: readonly string[];
};

/**
 * A parsed selector. `requirements` are ANDed; none selects everything. `nothing`
 * selects no object (what an absent LabelSelector struct means).
 */
export type Selector =
  | { readonly kind: 'requirements'; readonly requirements: readonly Requirement[] }
  | { readonly kind: 'nothing' };

export const everything: Selector = { kind: 'requirements', requirements: [] };
export const nothing: Selector = { kind: 'nothing' };

export class SelectorError extends FlotillaError {
  readonly input: string;
  constructor(input: string, message: string) {
    super('InvalidSelector', message, { input });
    this.input = input;
  }
}

/** Selector strings longer than this are refused before parsing. */
export const maxSelectorChars = 16_384;

/** Builds a requirement, checking the key, values and operator as Kubernetes' NewRequirement. */
export function requirement(key: string, operator: SelectorOperator, values: readonly string[]): Requirement {
  const problems: string[] = [];
  const keyErrs = isQualifiedName(key);
  if (keyErrs.length > 0) problems.push(`key: Invalid value: ${JSON.stringify(key)}: ${keyErrs.join('; ')}`);
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0)
        problems.push("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty");
      break;
    case 'Equals':
    case 'DoubleEquals':
    case 'NotEquals':
      if (values.length !== 1)
        problems.push('values: Invalid value: exact-match compatibility requires one single value');
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0)
        problems.push('values: Invalid value: values set must be empty for exists and does not exist');
      break;
    case 'GreaterThan':
    case 'LessThan':
      if (values.length !== 1)
        problems.push("values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required");
      values.forEach((v, i) => {
        if (!/^[-+]?[0-9]+$/.test(v)) {
          problems.push(
            `values[${i}]: Invalid value: ${JSON.stringify(v)}: for 'Gt', 'Lt' operators, the value must be an integer`,
          );
        }
      });
      break;
  }
  values.forEach((v, i) => {
    const errs = isValidLabelValue(v);
    if (errs.length > 0)
      problems.push(`values[${i}]: Invalid value: ${JSON.stringify(v)}: ${errs.join('; ')}`);
  });
  if (problems.length > 0) throw new SelectorError(key, problems.join(', '));
  const normalized = operator === 'In' || operator === 'NotIn' ? [...new Set(values)].sort() : [...values];
  return { key, operator, values: normalized };
}

function select(requirements: Requirement[]): Selector {
  // Sorted by key (stable), as Kubernetes keeps them; this fixes the printed form.
  return {
    kind: 'requirements',
    requirements: requirements.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}

// ---- The string syntax ----------------------------------------------------------------------

type TokenKind =
  | 'identifier'
  | 'end'
  | '!'
  | '='
  | '=='
  | '!='
  | '('
  | ')'
  | ','
  | '<'
  | '>'
  | 'in'
  | 'notin';

type Token = { readonly kind: TokenKind; readonly text: string };

const specialChars = new Set(['=', '!', '(', ')', ',', '<', '>']);
const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i] as string;
    if (isSpace(c)) {
      i++;
    } else if (specialChars.has(c)) {
      const two = input.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        tokens.push({ kind: two, text: two });
        i += 2;
      } else {
        tokens.push({ kind: c as TokenKind, text: c });
        i++;
      }
    } else {
      let j = i;
      while (j < input.length && !isSpace(input[j] as string) && !specialChars.has(input[j] as string)) j++;
      const text = input.slice(i, j);
      tokens.push({ kind: text === 'in' || text === 'notin' ? text : 'identifier', text });
      i = j;
    }
  }
  tokens.push({ kind: 'end', text: '' });
  return tokens;
}

/** The parser's cursor. `in`/`notin` read as identifiers where a key or value is expected. */
class Cursor {
  private readonly tokens: Token[];
  private pos = 0;
  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }
  peek(asValue: boolean): Token {
    return this.asValue(this.tokens[this.pos] as Token, asValue);
  }
  next(asValue: boolean): Token {
    const t = this.peek(asValue);
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }
  private asValue(t: Token, asValue: boolean): Token {
    return asValue && (t.kind === 'in' || t.kind === 'notin') ? { kind: 'identifier', text: t.text } : t;
  }
}

const fail = (input: string, message: string): never => {
  throw new SelectorError(input, message);
};

/**
 * Parses a selector string, e.g. `app=web,tier in (fe,be),!canary`. The empty string
 * selects everything. Throws SelectorError with Kubernetes' wording on bad syntax.
 */
export function parseLabelSelector(input: string): Selector {
  if (input.length > maxSelectorChars)
    fail(input, `label selector is longer than ${maxSelectorChars} characters`);
  const cur = new Cursor(lex(input));
  const requirements: Requirement[] = [];
  for (;;) {
    const t = cur.peek(true);
    if (t.kind === 'end') return select(requirements);
    if (t.kind !== 'identifier' && t.kind !== '!') {
      fail(input, `found '${t.text}', expected: !, identifier, or 'end of string'`);
    }
    requirements.push(parseRequirement(input, cur));
    const sep = cur.next(true);
    if (sep.kind === 'end') return select(requirements);
    if (sep.kind !== ',') fail(input, `found '${sep.text}', expected: ',' or 'end of string'`);
    const after = cur.peek(true);
    if (after.kind !== 'identifier' && after.kind !== '!') {
      fail(input, `found '${after.text}', expected: identifier after ','`);
    }
  }
}

function parseRequirement(input: string, cur: Cursor): Requirement {
  const wrap = (err: unknown): never => {
    if (err instanceof SelectorError) fail(input, `unable to parse requirement: ${err.message}`);
    throw err;
  };
  try {
    let t = cur.next(true);
    const negated = t.kind === '!';
    if (negated) t = cur.next(true);
    if (t.kind !== 'identifier') fail(input, `found '${t.text}', expected: identifier`);
    const key = t.text;
    const following = cur.peek(true).kind;
    if (following === 'end' || following === ',')
      return requirement(key, negated ? 'DoesNotExist' : 'Exists', []);
    if (negated) fail(input, `found '${cur.peek(true).text}', expected: ',' or 'end of string'`);
    const op = cur.next(false);
    switch (op.kind) {
      case 'in':
      case 'notin':
        return requirement(key, op.kind === 'in' ? 'In' : 'NotIn', parseValueSet(input, cur));
      case '=':
      case '==':
      case '!=':
      case '<':
      case '>': {
        const operators = {
          '=': 'Equals',
          '==': 'DoubleEquals',
          '!=': 'NotEquals',
          '<': 'LessThan',
          '>': 'GreaterThan',
        } as const;
        return requirement(key, operators[op.kind], [parseExactValue(input, cur)]);
      }
      default:
        return fail(input, `found '${op.text}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  } catch (err) {
    return wrap(err);
  }
}

function parseExactValue(input: string, cur: Cursor): string {
  const t = cur.peek(true);
  if (t.kind === 'end' || t.kind === ',') return ''; // `a=` selects an empty value
  cur.next(true);
  if (t.kind !== 'identifier') fail(input, `found '${t.text}', expected: identifier`);
  return t.text;
}

/** `(x, y)`; `()`, `(,x)` and `(x,)` carry the empty value, as in Kubernetes. */
function parseValueSet(input: string, cur: Cursor): string[] {
  const open = cur.next(true);
  if (open.kind !== '(') fail(input, `found '${open.text}', expected: '('`);
  const values = new Set<string>();
  if (cur.peek(true).kind === ')') {
    cur.next(true);
    return [''];
  }
  for (;;) {
    const t = cur.next(true);
    if (t.kind === 'identifier') {
      values.add(t.text);
      const after = cur.peek(true);
      if (after.kind === ')') break;
      if (after.kind !== ',') fail(input, `found '${after.text}', expected: ',' or ')'`);
    } else if (t.kind === ',') {
      const after = cur.peek(true);
      if (values.size === 0 || after.kind === ')' || after.kind === ',') values.add('');
      if (after.kind === ')') break;
    } else {
      fail(input, `found '${t.text}', expected: ',', or identifier`);
    }
  }
  cur.next(true); // ')'
  return [...values];
}

// ---- The LabelSelector struct -------------------------------------------------------------------

/**
 * The selector of a LabelSelector struct (LabelSelectorAsSelector): absent selects
 * nothing, empty selects everything. Throws SelectorError for bad operators or values.
 */
export function labelSelectorFromStruct(ls: LabelSelector | undefined | null): Selector {
  if (ls === undefined || ls === null) return nothing;
  const requirements: Requirement[] = [];
  for (const [k, v] of Object.entries(ls.matchLabels ?? {})) requirements.push(requirement(k, 'Equals', [v]));
  for (const expr of ls.matchExpressions ?? []) {
    const op = expr.operator as string;
    if (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist') {
      throw new SelectorError(op, `${JSON.stringify(op)} is not a valid label selector operator`);
    }
    requirements.push(requirement(expr.key, op, expr.values ?? []));
  }
  return select(requirements);
}

/** The equality selector of a map (a Service's `spec.selector`). */
export function selectorFromSet(set: Readonly<Record<string, string>>): Selector {
  return select(Object.entries(set).map(([k, v]) => requirement(k, 'Equals', [v])));
}

// ---- Matching and printing ----------------------------------------------------------------------

function matchesRequirement(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.operator) {
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Equals':
    case 'DoubleEquals':
    case 'In':
      return has && r.values.includes(value as string);
    case 'NotEquals':
    case 'NotIn':
      return !has || !r.values.includes(value as string);
    case 'GreaterThan':
    case 'LessThan': {
      if (!has || !/^[-+]?[0-9]+$/.test(value as string)) return false;
      const actual = BigInt(value as string);
      const bound = BigInt(r.values[0] as string);
      return r.operator === 'GreaterThan' ? actual > bound : actual < bound;
    }
  }
}

/** True when the labels satisfy every requirement. */
export function matchesLabels(
  selector: Selector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (selector.kind === 'nothing') return false;
  const l = labels ?? {};
  return selector.requirements.every((r) => matchesRequirement(r, l));
}

export function isEverything(selector: Selector): boolean {
  return selector.kind === 'requirements' && selector.requirements.length === 0;
}

const operatorText: Readonly<Record<SelectorOperator, string>> = {
  Exists: '',
  DoesNotExist: '',
  Equals: '=',
  DoubleEquals: '==',
  NotEquals: '!=',
  In: ' in ',
  NotIn: ' notin ',
  GreaterThan: '>',
  LessThan: '<',
};

function formatRequirement(r: Requirement): string {
  switch (r.operator) {
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
    case 'In':
    case 'NotIn':
      return `${r.key}${operatorText[r.operator]}(${r.values.join(',')})`;
    default:
      return `${r.key}${operatorText[r.operator]}${r.values[0] ?? ''}`;
  }
}

/** The canonical string: `app=web,tier in (be,fe)`; '' for everything and for nothing. */
export function formatLabelSelector(selector: Selector): string {
  return selector.kind === 'nothing' ? '' : selector.requirements.map(formatRequirement).join(',');
}

/** `a=b,c=d` sorted by key, or `<none>`, as kubectl prints a label map. */
export function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  return keys.length === 0
    ? '<none>'
    : keys.map((k) => `${k}=${(labels as Record<string, string>)[k]}`).join(',');
}
