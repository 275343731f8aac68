/**
 * Field selectors (`--field-selector`, `?fieldSelector=`): `a.b=c`, `a.b==c`, `a.b!=c`,
 * comma-separated and ANDed, over the few fields each resource makes selectable.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/
 */
import { SelectorError } from './labels.ts';
import type { ResourceInfo } from './registry.ts';
import type { ReplicaSet } from './types/apps.ts';
import type { Event, Namespace, Node, Pod, Secret } from './types/core.ts';
import type { KubeObject } from './types/meta.ts';

export type FieldRequirement = {
  readonly field: string;
  readonly operator: '=' | '==' | '!=';
  readonly value: string;
};

/** Requirements, ANDed; none selects everything. */
export type FieldSelector = readonly FieldRequirement[];

/** Selector strings longer than this are refused before parsing. */
export const maxFieldSelectorChars = 16_384;

/** Splits on commas that are not escaped with a backslash. */
function splitTerms(input: string): string[] {
  const terms: string[] = [];
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] === '\\') i++;
    else if (input[i] === ',') {
      terms.push(input.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(input.slice(start));
  return terms;
}

function unescapeValue(input: string, value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\') {
      const next = value[i + 1];
      if (next !== '\\' && next !== ',' && next !== '=') {
        throw new SelectorError(input, `invalid field selector: invalid escape sequence: \\${next ?? ''}`);
      }
      out += next;
      i++;
    } else if (c === '=' || c === ',') {
      throw new SelectorError(
        input,
        `invalid field selector: unescaped ${c} in value ${JSON.stringify(value)}`,
      );
    } else {
      out += c;
    }
  }
  return out;
}

/** Parses `spec.nodeName=n1,status.phase!=Running`; the empty string selects everything. */
export function parseFieldSelector(input: string): FieldSelector {
  if (input.length > maxFieldSelectorChars) {
    throw new SelectorError(input, `field selector is longer than ${maxFieldSelectorChars} characters`);
  }
  const out: FieldRequirement[] = [];
  for (const term of splitTerms(input)) {
    if (term === '') continue;
    let split: FieldRequirement | undefined;
    for (let i = 0; i < term.length && split === undefined; i++) {
      if (term[i] === '\\') {
        i++;
        continue;
      }
      for (const op of ['!=', '==', '='] as const) {
        if (term.startsWith(op, i)) {
          split = {
            field: term.slice(0, i),
            operator: op,
            value: unescapeValue(input, term.slice(i + op.length)),
          };
          break;
        }
      }
    }
    if (split === undefined || split.field === '') {
      throw new SelectorError(input, `invalid selector: '${input}'; can't understand '${term}'`);
    }
    out.push(split);
  }
  return out;
}

export function formatFieldSelector(selector: FieldSelector): string {
  const escapeValue = (v: string): string => v.replace(/[\\,=]/g, (c) => `\\${c}`);
  return selector.map((r) => `${r.field}${r.operator}${escapeValue(r.value)}`).join(',');
}

type FieldGetters = Readonly<Record<string, (obj: never) => string | undefined>>;

const str = (v: string | number | boolean | undefined): string | undefined =>
  v === undefined ? undefined : String(v);

/** Fields beyond metadata.name and metadata.namespace, by `<group>/<plural>`. */
const extraFields: Readonly<Record<string, FieldGetters>> = {
  '/pods': {
    'spec.nodeName': (p: Pod) => p.spec?.nodeName,
    'spec.restartPolicy': (p: Pod) => p.spec?.restartPolicy,
    'spec.schedulerName': (p: Pod) => p.spec?.schedulerName,
    'spec.serviceAccountName': (p: Pod) => p.spec?.serviceAccountName,
    'spec.hostNetwork': (p: Pod) => String(p.spec?.hostNetwork ?? false),
    'status.phase': (p: Pod) => p.status?.phase,
    'status.podIP': (p: Pod) => p.status?.podIPs?.[0]?.ip ?? p.status?.podIP,
    'status.nominatedNodeName': (p: Pod) => p.status?.nominatedNodeName,
  },
  '/nodes': { 'spec.unschedulable': (n: Node) => String(n.spec?.unschedulable ?? false) },
  '/namespaces': { 'status.phase': (n: Namespace) => n.status?.phase },
  '/secrets': { type: (s: Secret) => s.type },
  '/events': {
    'involvedObject.kind': (e: Event) => e.involvedObject.kind,
    'involvedObject.namespace': (e: Event) => e.involvedObject.namespace,
    'involvedObject.name': (e: Event) => e.involvedObject.name,
    'involvedObject.uid': (e: Event) => e.involvedObject.uid,
    'involvedObject.apiVersion': (e: Event) => e.involvedObject.apiVersion,
    'involvedObject.resourceVersion': (e: Event) => e.involvedObject.resourceVersion,
    'involvedObject.fieldPath': (e: Event) => e.involvedObject.fieldPath,
    reason: (e: Event) => e.reason,
    reportingComponent: (e: Event) => e.reportingComponent,
    source: (e: Event) => e.source?.component,
    type: (e: Event) => e.type,
  },
  'apps/replicasets': { 'status.replicas': (r: ReplicaSet) => str(r.status?.replicas ?? 0) },
};

function getters(info: ResourceInfo): FieldGetters {
  const meta: FieldGetters = info.namespaced
    ? {
        'metadata.name': (o: KubeObject) => o.metadata.name,
        'metadata.namespace': (o: KubeObject) => o.metadata.namespace,
      }
    : { 'metadata.name': (o: KubeObject) => o.metadata.name };
  return { ...meta, ...(extraFields[`${info.group}/${info.plural}`] ?? {}) };
}

/** The field names a resource can be selected by. */
export function selectableFields(info: ResourceInfo): readonly string[] {
  return Object.keys(getters(info));
}

/** The selectable fields of an object with their values ('' when unset). */
export function fieldSet(info: ResourceInfo, obj: KubeObject): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [field, get] of Object.entries(getters(info))) out[field] = get(obj as never) ?? '';
  return out;
}

/** Throws SelectorError (`field label not supported: x`) for fields the resource cannot select on. */
export function checkFieldSelector(info: ResourceInfo, selector: FieldSelector): void {
  const allowed = new Set(selectableFields(info));
  for (const r of selector) {
    if (!allowed.has(r.field)) throw new SelectorError(r.field, `field label not supported: ${r.field}`);
  }
}

/** True when the object satisfies every requirement; unknown fields read as ''. */
export function matchesFields(info: ResourceInfo, selector: FieldSelector, obj: KubeObject): boolean {
  if (selector.length === 0) return true;
  const fields = fieldSet(info, obj);
  return selector.every((r) => ((fields[r.field] ?? '') === r.value) === (r.operator !== '!='));
}
