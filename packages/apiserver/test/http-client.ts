// A minimal HTTP client for the e2e suites: JSON requests against one API server URL,
// answering the status code and the parsed body (a Status on failure).
import type { KubeObject, Status } from '@flotilla/api';
import type { MemberStatus, StoreClient } from '@flotilla/store';

export type Reply<T = unknown> = { readonly code: number; readonly body: T; readonly headers: Headers };

export type Http = {
  readonly url: string;
  request<T = KubeObject>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Reply<T>>;
  get<T = KubeObject>(path: string, headers?: Record<string, string>): Promise<Reply<T>>;
  /** The Status of a reply that must have failed. */
  status(reply: Reply<unknown>): Status;
};

export function http(url: string): Http {
  const request = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const raw = typeof body === 'string' || body instanceof Uint8Array;
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body === undefined || raw ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : raw ? (body as string) : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { code: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    url,
    request,
    get: (path, headers) => request('GET', path, undefined, headers),
    status: (reply) => {
      const s = reply.body as Status;
      if (s?.kind !== 'Status')
        throw new Error(`expected a Status, got ${JSON.stringify(reply.body).slice(0, 300)}`);
      return s;
    },
  };
}

/** Reads a watch response line by line until `stop` says enough or the stream ends. */
export async function readWatch<E = { type: string; object: KubeObject }>(
  url: string,
  stop: (events: readonly E[]) => boolean,
  timeoutMs = 30_000,
): Promise<E[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: E[] = [];
  try {
    const res = await fetch(url, { signal: controller.signal });
    if (res.body === null) return events;
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        events.push(JSON.parse(buffered.slice(0, nl)) as E);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
      }
      if (stop(events)) break;
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return events;
}

/**
 * Compacts the store at its current revision and waits until every member has applied
 * the compaction: a lagging member would still serve the compacted revisions otherwise.
 */
export async function compactStore(cp: {
  storeClient(): Promise<StoreClient>;
  readonly store: {
    readonly members: ReadonlyMap<string, unknown>;
    status(id: string): Promise<MemberStatus | undefined>;
  };
}): Promise<number> {
  const client = await cp.storeClient();
  const revision = (await client.range({ key: new Uint8Array([0]), countOnly: true })).revision;
  await client.compact(revision);
  const deadline = performance.now() + 30_000;
  for (const id of cp.store.members.keys()) {
    for (;;) {
      const status = await cp.store.status(id);
      if ((status?.store.compactedRevision ?? 0) >= revision) break;
      if (performance.now() > deadline)
        throw new Error(`store member ${id} did not apply compaction at ${revision}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  return revision;
}
