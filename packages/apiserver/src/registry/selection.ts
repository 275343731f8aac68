/**
 * Label and field selectors of a list or watch, parsed once and applied to each object.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
 */
import {
  badRequest,
  checkFieldSelector,
  type FieldSelector,
  isEverything,
  type KubeObject,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type ResourceInfo,
  type Selector,
  SelectorError,
} from '@flotilla/api';

export type Selection = {
  readonly labels: Selector;
  readonly fields: FieldSelector;
  /** Nothing is filtered out: pages keep their counts. */
  readonly everything: boolean;
};

/** Parses `labelSelector` and `fieldSelector`; a 400 naming the problem when they do not parse. */
export function parseSelection(
  info: ResourceInfo,
  labelSelector: string | undefined,
  fieldSelector: string | undefined,
): Selection {
  try {
    const labels = parseLabelSelector(labelSelector ?? '');
    const fields = parseFieldSelector(fieldSelector ?? '');
    checkFieldSelector(info, fields);
    return { labels, fields, everything: isEverything(labels) && fields.length === 0 };
  } catch (err) {
    if (err instanceof SelectorError) throw badRequest(err.message);
    throw err;
  }
}

export function selects(info: ResourceInfo, selection: Selection, obj: KubeObject): boolean {
  return (
    selection.everything ||
    (matchesLabels(selection.labels, obj.metadata.labels) && matchesFields(info, selection.fields, obj))
  );
}
