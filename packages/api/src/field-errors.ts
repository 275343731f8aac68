/**
 * Validation errors with their field path, as Kubernetes' `field.Error`: a type
 * (Required, Invalid, ...), the path (`spec.containers[0].image`), the bad value and a
 * detail. They print the way kubectl shows them:
 * `spec.containers[0].image: Required value`,
 * `spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", ...`.
 */
import type { CauseType } from './types/meta.ts';

export type FieldErrorType =
  | 'NotFound'
  | 'Required'
  | 'Duplicate'
  | 'Invalid'
  | 'NotSupported'
  | 'Forbidden'
  | 'TooLong'
  | 'TooMany'
  | 'Internal'
  | 'TypeInvalid';

export type FieldError = {
  readonly type: FieldErrorType;
  readonly field: string;
  /** Printed after the type; absent for types that never print it (Required, Forbidden, ...). */
  readonly badValue?: unknown;
  readonly hasBadValue: boolean;
  readonly detail: string;
};

/** A dotted field path: `spec.containers[0].resources.limits[cpu]`. */
export type FieldPath = string;

export function child(path: FieldPath, ...names: readonly string[]): FieldPath {
  return names.reduce((p, n) => (p === '' ? n : `${p}.${n}`), path);
}

export function index(path: FieldPath, i: number): FieldPath {
  return `${path}[${i}]`;
}

export function key(path: FieldPath, k: string): FieldPath {
  return `${path}[${k}]`;
}

const typeText: Readonly<Record<FieldErrorType, string>> = {
  NotFound: 'Not found',
  Required: 'Required value',
  Duplicate: 'Duplicate value',
  Invalid: 'Invalid value',
  NotSupported: 'Unsupported value',
  Forbidden: 'Forbidden',
  TooLong: 'Too long',
  TooMany: 'Too many',
  Internal: 'Internal error',
  TypeInvalid: 'Invalid value',
};

const causeTypes: Readonly<Record<FieldErrorType, CauseType>> = {
  NotFound: 'FieldValueNotFound',
  Required: 'FieldValueRequired',
  Duplicate: 'FieldValueDuplicate',
  Invalid: 'FieldValueInvalid',
  NotSupported: 'FieldValueNotSupported',
  Forbidden: 'FieldValueForbidden',
  TooLong: 'FieldValueTooLong',
  TooMany: 'FieldValueTooMany',
  Internal: 'InternalError',
  TypeInvalid: 'FieldValueTypeInvalid',
};

export function causeTypeOf(type: FieldErrorType): CauseType {
  return causeTypes[type];
}

export const required = (field: FieldPath, detail = ''): FieldError => ({
  type: 'Required',
  field,
  hasBadValue: false,
  detail,
});

export const invalid = (field: FieldPath, value: unknown, detail: string): FieldError => ({
  type: 'Invalid',
  field,
  badValue: value,
  hasBadValue: true,
  detail,
});

export const notFound = (field: FieldPath, value: unknown): FieldError => ({
  type: 'NotFound',
  field,
  badValue: value,
  hasBadValue: true,
  detail: '',
});

export const duplicate = (field: FieldPath, value: unknown): FieldError => ({
  type: 'Duplicate',
  field,
  badValue: value,
  hasBadValue: true,
  detail: '',
});

export const forbidden = (field: FieldPath, detail: string): FieldError => ({
  type: 'Forbidden',
  field,
  hasBadValue: false,
  detail,
});

export const tooLong = (field: FieldPath, maxBytes: number): FieldError => ({
  type: 'TooLong',
  field,
  hasBadValue: false,
  detail: `must have at most ${maxBytes} bytes`,
});

export const tooMany = (field: FieldPath, actual: number, maxItems: number): FieldError => ({
  type: 'TooMany',
  field,
  badValue: actual,
  hasBadValue: true,
  detail: `must have at most ${maxItems} items`,
});

export const internalError = (field: FieldPath, detail: string): FieldError => ({
  type: 'Internal',
  field,
  hasBadValue: false,
  detail,
});

export const notSupported = (field: FieldPath, value: unknown, supported: readonly string[]): FieldError => ({
  type: 'NotSupported',
  field,
  badValue: value,
  hasBadValue: true,
  detail:
    supported.length === 0 ? '' : `supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
});

function formatValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(value);
}

/** The text after the path: `Invalid value: "Web": a lowercase RFC 1123 label must ...`. */
export function fieldErrorBody(err: FieldError): string {
  let body = typeText[err.type];
  if (err.hasBadValue && err.type !== 'TooLong' && err.type !== 'Internal') {
    body += `: ${formatValue(err.badValue)}`;
  }
  if (err.detail !== '') body += `: ${err.detail}`;
  return body;
}

/** `spec.containers[0].image: Required value`. */
export function formatFieldError(err: FieldError): string {
  return `${err.field}: ${fieldErrorBody(err)}`;
}

/**
 * All errors in one line, as Kubernetes' aggregate error prints them: the single message
 * alone, or `[first, second]`, duplicates removed.
 */
export function formatFieldErrors(errs: readonly FieldError[]): string {
  const messages = [...new Set(errs.map(formatFieldError))];
  return messages.length === 1 ? (messages[0] as string) : `[${messages.join(', ')}]`;
}
