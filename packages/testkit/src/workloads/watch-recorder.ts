import { bytesToString, type StoreClient } from '@flotilla/store';

export type RecordedEvent = {
  readonly revision: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value: string;
};

/**
 * Records every event a watch on `prefix` delivers, from revision 1, through member
 * failures (the client's watch resumes). `check(truth)` compares what it saw with the
 * authoritative event sequence: same events, same order, no gap, no duplicate.
 */
export class WatchRecorder {
  readonly events: RecordedEvent[] = [];
  private readonly watch: ReturnType<StoreClient['watchPrefix']>;
  private readonly done: Promise<unknown>;
  error: unknown;

  constructor(client: StoreClient, prefix: string) {
    const watch = client.watchPrefix(prefix, { startRevision: 1 });
    this.watch = watch;
    this.done = (async () => {
      for await (const r of watch) {
        if (r.kind !== 'events') continue;
        for (const e of r.events) {
          this.events.push({
            revision: r.revision,
            type: e.type,
            key: bytesToString(e.kv.key),
            value: bytesToString(e.kv.value),
          });
        }
      }
    })().catch((err: unknown) => {
      this.error = err;
    });
  }

  get resumes(): number {
    return this.watch.resumes;
  }

  get lastRevision(): number {
    return this.watch.lastRevision;
  }

  async stop(): Promise<void> {
    this.watch.cancel();
    await this.done;
  }

  /** Problems found comparing with `truth` (empty when none), over the revisions both cover. */
  check(truth: readonly RecordedEvent[]): string[] {
    const problems: string[] = [];
    if (this.error) problems.push(`watch failed: ${String(this.error)}`);
    let prev = 0;
    for (const e of this.events) {
      if (e.revision < prev) problems.push(`revision went back from ${prev} to ${e.revision}`);
      prev = e.revision;
    }
    // Writes may still commit after the truth was read (an operation whose outcome its client
    // never learned, forwarded by a member that was cut off): compare only what both cover.
    const truthUpTo = truth.at(-1)?.revision ?? 0;
    const seen = this.events.filter((e) => e.revision <= truthUpTo);
    const upTo = Math.min(this.events.at(-1)?.revision ?? 0, truthUpTo);
    const expected = truth.filter((e) => e.revision <= upTo);
    const n = Math.max(expected.length, seen.length);
    for (let i = 0; i < n && problems.length < 10; i++) {
      const a = seen[i];
      const b = expected[i];
      if (
        !a ||
        !b ||
        a.revision !== b.revision ||
        a.key !== b.key ||
        a.type !== b.type ||
        a.value !== b.value
      ) {
        problems.push(`event ${i}: saw ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`);
      }
    }
    return problems;
  }
}
