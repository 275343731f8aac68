/**
 * get and list with Kubernetes' resourceVersion semantics: absent is the most recent
 * state (a linearizable read), `0` is any state (served by whichever store member
 * answers), N is "not older than N", and a paged list (`limit`/`continue`) reads every
 * page at the revision of its first one, answering 410 once that revision is compacted.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions
 */
import type { KubeList, KubeObject, ListOptions } from '@flotilla/api';
import { badRequest } from '@flotilla/api';
import { decodeContinue, encodeContinue } from '../storage/continue-token.ts';
import { collectionPrefix, objectKey } from '../storage/keys.ts';
import { linearizable, type ReadMode, serializable } from '../storage/object-store.ts';
import { tooLargeResourceVersion } from '../storage/store-errors.ts';
import {
  apiVersionOf,
  type CollectionRef,
  checkCollectionRef,
  checkObjectRef,
  notFoundOf,
  type ObjectRef,
  parseResourceVersion,
  type RegistryContext,
} from './context.ts';
import { keysPerPage, pinRead } from './paging.ts';
import { parseSelection, selects } from './selection.ts';

/** Limits above this are lowered to it (a page is then shorter, with a continue token). */
export const maxListLimit = 100_000;

/** One object; 404 when absent. */
export async function getObject(
  ctx: RegistryContext,
  ref: ObjectRef,
  resourceVersion?: string,
): Promise<KubeObject> {
  checkObjectRef(ref);
  const rv = parseResourceVersion(resourceVersion);
  const key = objectKey(ref.info, ref.namespace, ref.name);
  const { stored, revision } = await ctx.store.read(key, rv === 0 ? serializable : linearizable);
  if (rv !== undefined && rv > revision) throw tooLargeResourceVersion(rv, revision);
  if (stored === undefined) throw notFoundOf(ref);
  return stored.object;
}

export type ListRequest = ListOptions & {
  /** Stop a page early once its objects reach this many bytes (replies on NATS must fit a message). */
  readonly maxReplyBytes?: number;
};

function readModeOf(options: ListOptions, paged: boolean): { mode: ReadMode; atLeast: number | undefined } {
  const rv = parseResourceVersion(options.resourceVersion);
  const match = options.resourceVersionMatch;
  if (match !== undefined && match !== 'Exact' && match !== 'NotOlderThan') {
    throw badRequest(
      `resourceVersionMatch: Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan"`,
    );
  }
  if (match !== undefined && rv === undefined) {
    throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
  }
  if (rv === undefined) return { mode: linearizable, atLeast: undefined };
  if (match === 'Exact') {
    if (rv === 0) throw badRequest('resourceVersionMatch "Exact" is forbidden for resourceVersion "0"');
    return { mode: { kind: 'at', revision: rv }, atLeast: undefined };
  }
  if (rv === 0) return { mode: serializable, atLeast: undefined };
  // Kubernetes reads a paged list at exactly N; an unpaged one at N or later.
  if (paged && match === undefined) return { mode: { kind: 'at', revision: rv }, atLeast: undefined };
  return { mode: linearizable, atLeast: rv };
}

/**
 * A list of a collection, filtered by selectors, cut at `limit` objects (or the reply's
 * byte budget) with a continue token. The store is read in pages sized by the resource's
 * size record (paging.ts), so that no store reply outgrows a NATS message.
 */
export async function listObjects(
  ctx: RegistryContext,
  ref: CollectionRef,
  options: ListRequest,
): Promise<KubeList<KubeObject>> {
  checkCollectionRef(ref, false);
  const { info } = ref;
  const selection = parseSelection(info, options.labelSelector, options.fieldSelector);
  const limit =
    options.limit === undefined || options.limit <= 0 ? undefined : Math.min(options.limit, maxListLimit);
  const prefix = collectionPrefix(info, ref.namespace);
  let mode: ReadMode;
  let after: string | undefined;
  let atLeast: number | undefined;
  if (options.continue !== undefined && options.continue !== '') {
    if (options.resourceVersion !== undefined && options.resourceVersion !== '') {
      throw badRequest('specifying resource version is not allowed when using continue');
    }
    const token = decodeContinue(options.continue);
    mode = { kind: 'at', revision: token.revision };
    after = token.after;
  } else {
    ({ mode, atLeast } = readModeOf(options, limit !== undefined));
  }

  const pinned = await pinRead(ctx.store, info, mode);
  const revision = pinned.revision;
  if (atLeast !== undefined && atLeast > revision) throw tooLargeResourceVersion(atLeast, revision);
  const items: KubeObject[] = [];
  let bytes = 0;
  let next: string | undefined; // the key to continue after, when the list was cut
  let remaining: number | undefined;
  for (;;) {
    const wanted = limit === undefined || !selection.everything ? undefined : limit - items.length;
    const keys = keysPerPage(ctx.paging, pinned.largestBytes, wanted);
    const page = await ctx.store.page(prefix, after, keys, pinned.mode);
    // The index of the last item this reply takes when it stops inside this page.
    let cutAt: number | undefined;
    for (const [i, item] of page.items.entries()) {
      if (!selects(info, selection, item.object)) continue;
      // An item that would push the reply past its byte budget goes to the next one.
      if (
        options.maxReplyBytes !== undefined &&
        items.length > 0 &&
        bytes + item.bytes > options.maxReplyBytes
      ) {
        cutAt = i - 1;
        break;
      }
      items.push(item.object);
      bytes += item.bytes;
      if (limit !== undefined && items.length >= limit) {
        cutAt = i;
        break;
      }
    }
    const last = page.items[page.items.length - 1];
    if (cutAt !== undefined) {
      const moreInPage = cutAt < page.items.length - 1;
      if (moreInPage || page.more) {
        // Continue after the last key taken (or after where this page started, if none was).
        next = cutAt >= 0 ? page.items[cutAt]?.key : after;
        // Known only when nothing is filtered out, as Kubernetes reports it.
        if (selection.everything) remaining = page.count - cutAt - 1;
      }
      break;
    }
    if (!page.more || last === undefined) break;
    after = last.key;
  }
  return {
    apiVersion: apiVersionOf(info),
    kind: info.listKind,
    metadata: {
      resourceVersion: String(revision),
      ...(next === undefined ? {} : { continue: encodeContinue({ revision, after: next }) }),
      ...(remaining === undefined ? {} : { remainingItemCount: remaining }),
    },
    items,
  };
}
