/**
 * Validation shared by every kind: object metadata (names, labels, annotations,
 * owners, finalizers), its immutability on update, label selectors, and small helpers.
 * Messages follow k8s.io/apimachinery/pkg/api/validation.
 */
import type { FieldError, FieldPath } from '../field-errors.ts';
import { child, duplicate, forbidden, index, invalid, required, tooLong } from '../field-errors.ts';
import {
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  type NameValidator,
  nameIsDNSLabel,
} from '../names.ts';
import { parseIP } from '../net.ts';
import type { LabelSelector, ObjectMeta, OwnerReference } from '../types/meta.ts';

/** The total size of a metadata.annotations map (keys plus values) Kubernetes allows. */
export const maxAnnotationsBytes = 256 * 1024;

export function nonNegative(value: number | undefined, path: FieldPath): FieldError[] {
  return value !== undefined && value < 0 ? [invalid(path, value, 'must be greater than or equal to 0')] : [];
}

export function positive(value: number | undefined, path: FieldPath): FieldError[] {
  return value !== undefined && value <= 0 ? [invalid(path, value, 'must be greater than 0')] : [];
}

/** `field is immutable` unless the two values are the same (structurally). */
export function immutable(next: unknown, prev: unknown, path: FieldPath): FieldError[] {
  return sameValue(next, prev) ? [] : [invalid(path, next ?? null, 'field is immutable')];
}

/** Structural equality where key order does not matter and undefined equals absent. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
    );
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) if (!sameValue(ra[k], rb[k])) return false;
  return true;
}

export function validateQualifiedName(value: string, path: FieldPath): FieldError[] {
  return isQualifiedName(value).map((msg) => invalid(path, value, msg));
}

/** Label keys and values; errors name the map (`metadata.labels`), as Kubernetes does. */
export function validateLabels(
  labels: Readonly<Record<string, string>> | undefined,
  path: FieldPath,
): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    errs.push(...validateQualifiedName(k, path));
    errs.push(...isValidLabelValue(v).map((msg) => invalid(path, v, msg)));
  }
  return errs;
}

export function validateAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  path: FieldPath,
): FieldError[] {
  const errs: FieldError[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    errs.push(...isQualifiedName(k.toLowerCase()).map((msg) => invalid(path, k, msg)));
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (size > maxAnnotationsBytes) errs.push(tooLong(path, maxAnnotationsBytes));
  return errs;
}

function validateOwnerReferences(refs: readonly OwnerReference[] | undefined, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const controllers: string[] = [];
  (refs ?? []).forEach((ref, i) => {
    const p = index(path, i);
    if (ref.apiVersion === '')
      errs.push(invalid(child(p, 'apiVersion'), ref.apiVersion, 'version must not be empty'));
    if (ref.kind === '') errs.push(invalid(child(p, 'kind'), ref.kind, 'kind must not be empty'));
    if (ref.name === '') errs.push(invalid(child(p, 'name'), ref.name, 'name must not be empty'));
    if (ref.uid === '') errs.push(invalid(child(p, 'uid'), ref.uid, 'uid must not be empty'));
    if (ref.controller === true) controllers.push(`${ref.kind}/${ref.name}`);
  });
  if (controllers.length > 1) {
    errs.push(
      invalid(
        path,
        refs,
        `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
      ),
    );
  }
  return errs;
}

function validateFinalizers(finalizers: readonly string[] | undefined, path: FieldPath): FieldError[] {
  const list = finalizers ?? [];
  const errs = list.flatMap((f, i) => validateQualifiedName(f, index(path, i)));
  if (list.includes('orphan') && list.includes('foregroundDeletion')) {
    errs.push(invalid(path, list, 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  return errs;
}

export type MetaRules = {
  readonly namespaced: boolean;
  readonly name: NameValidator;
};

/** metadata of an object being created (the name from generateName is set by then). */
export function validateObjectMeta(
  meta: ObjectMeta,
  rules: MetaRules,
  path: FieldPath = 'metadata',
): FieldError[] {
  const errs: FieldError[] = [];
  if (meta.generateName) {
    errs.push(
      ...rules
        .name(meta.generateName, true)
        .map((msg) => invalid(child(path, 'generateName'), meta.generateName, msg)),
    );
  }
  if (!meta.name) errs.push(required(child(path, 'name'), 'name or generateName is required'));
  else errs.push(...rules.name(meta.name, false).map((msg) => invalid(child(path, 'name'), meta.name, msg)));
  if (rules.namespaced) {
    if (!meta.namespace) errs.push(required(child(path, 'namespace')));
    else
      errs.push(
        ...nameIsDNSLabel(meta.namespace, false).map((msg) =>
          invalid(child(path, 'namespace'), meta.namespace, msg),
        ),
      );
  } else if (meta.namespace) {
    errs.push(forbidden(child(path, 'namespace'), 'not allowed on this type'));
  }
  errs.push(...nonNegative(meta.generation, child(path, 'generation')));
  errs.push(...validateLabels(meta.labels, child(path, 'labels')));
  errs.push(...validateAnnotations(meta.annotations, child(path, 'annotations')));
  errs.push(...validateOwnerReferences(meta.ownerReferences, child(path, 'ownerReferences')));
  errs.push(...validateFinalizers(meta.finalizers, child(path, 'finalizers')));
  return errs;
}

/** metadata of an update: identity fields may not change, and no finalizer joins a deletion. */
export function validateObjectMetaUpdate(
  next: ObjectMeta,
  prev: ObjectMeta,
  path: FieldPath = 'metadata',
): FieldError[] {
  const errs: FieldError[] = [];
  errs.push(...immutable(next.name, prev.name, child(path, 'name')));
  errs.push(...immutable(next.namespace ?? '', prev.namespace ?? '', child(path, 'namespace')));
  errs.push(...immutable(next.uid, prev.uid, child(path, 'uid')));
  errs.push(...immutable(next.creationTimestamp, prev.creationTimestamp, child(path, 'creationTimestamp')));
  if (prev.deletionTimestamp !== undefined) {
    const added = (next.finalizers ?? []).filter((f) => !(prev.finalizers ?? []).includes(f));
    if (added.length > 0) {
      errs.push(
        forbidden(
          child(path, 'finalizers'),
          `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        ),
      );
    }
  }
  errs.push(...nonNegative(next.generation, child(path, 'generation')));
  errs.push(...validateLabels(next.labels, child(path, 'labels')));
  errs.push(...validateAnnotations(next.annotations, child(path, 'annotations')));
  errs.push(...validateOwnerReferences(next.ownerReferences, child(path, 'ownerReferences')));
  errs.push(...validateFinalizers(next.finalizers, child(path, 'finalizers')));
  return errs;
}

/** A LabelSelector struct: operators, their values, keys and matchLabels. */
export function validateLabelSelector(selector: LabelSelector | undefined, path: FieldPath): FieldError[] {
  if (selector === undefined) return [];
  const errs: FieldError[] = [];
  (selector.matchExpressions ?? []).forEach((expr, i) => {
    const p = index(child(path, 'matchExpressions'), i);
    const values = expr.values ?? [];
    switch (expr.operator as string) {
      case 'In':
      case 'NotIn':
        if (values.length === 0)
          errs.push(required(child(p, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) {
          errs.push(
            forbidden(
              child(p, 'values'),
              "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
          );
        }
        break;
      default:
        errs.push(invalid(child(p, 'operator'), expr.operator, 'not a valid selector operator'));
    }
    errs.push(...validateQualifiedName(expr.key, child(p, 'key')));
    values.forEach((v, j) => {
      errs.push(...isValidLabelValue(v).map((msg) => invalid(index(child(p, 'values'), j), v, msg)));
    });
  });
  errs.push(...validateLabels(selector.matchLabels, child(path, 'matchLabels')));
  return errs;
}

export const ipAddressMessage = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
export const cidrMessage = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

export function validateIP(value: string, path: FieldPath): FieldError[] {
  return parseIP(value) === undefined ? [invalid(path, value, ipAddressMessage)] : [];
}

export function validateDNS1123Subdomain(value: string, path: FieldPath): FieldError[] {
  return isDNS1123Subdomain(value).map((msg) => invalid(path, value, msg));
}

/** Values that must be unique in a list: a Duplicate error for each repeat. */
export function duplicatesOf<T>(
  items: readonly T[],
  keyOf: (item: T) => string | undefined,
  pathOf: (i: number) => FieldPath,
  shown: (item: T) => unknown,
): FieldError[] {
  const seen = new Set<string>();
  const errs: FieldError[] = [];
  items.forEach((item, i) => {
    const k = keyOf(item);
    if (k === undefined) return;
    if (seen.has(k)) errs.push(duplicate(pathOf(i), shown(item)));
    seen.add(k);
  });
  return errs;
}
