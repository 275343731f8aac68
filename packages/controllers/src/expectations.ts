/**
 * Creations and deletions a controller has asked for but not yet seen through its
 * informer (client-go's ControllerExpectations and UIDTrackingControllerExpectations).
 * Until they are observed, the cache undercounts what exists, so a reconcile that
 * counted pods again would create or delete too many. A controller skips changing the
 * replica count of a key whose expectations are pending; they expire after a timeout
 * in case an event was missed, as Kubernetes' do after 5 minutes.
 */

export const defaultExpectationsTimeoutMs = 5 * 60_000;

type Record = {
  creations: number;
  /** Keys of objects asked to be deleted and not yet seen deleted. */
  readonly deletions: Set<string>;
  readonly sinceMs: number;
};

export class Expectations {
  private readonly records = new Map<string, Record>();
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(now: () => number, timeoutMs = defaultExpectationsTimeoutMs) {
    this.now = now;
    this.timeoutMs = timeoutMs;
  }

  /** Nothing pending (or what is pending is too old to trust): the controller may act. */
  satisfied(key: string): boolean {
    const r = this.records.get(key);
    if (r === undefined) return true;
    if (r.creations <= 0 && r.deletions.size === 0) return true;
    return this.now() - r.sinceMs > this.timeoutMs;
  }

  /** Replaces the record of `key` with `creations` pending creations. */
  expectCreations(key: string, creations: number): void {
    this.records.set(key, { creations, deletions: new Set(), sinceMs: this.now() });
  }

  /** Replaces the record of `key` with deletions of these object keys pending. */
  expectDeletions(key: string, objects: readonly string[]): void {
    this.records.set(key, { creations: 0, deletions: new Set(objects), sinceMs: this.now() });
  }

  creationObserved(key: string): void {
    const r = this.records.get(key);
    if (r !== undefined && r.creations > 0) r.creations--;
  }

  /** A creation that was asked for but failed or was skipped: it will never be observed. */
  lowerCreations(key: string, count: number): void {
    const r = this.records.get(key);
    if (r !== undefined) r.creations = Math.max(0, r.creations - count);
  }

  deletionObserved(key: string, object: string): void {
    this.records.get(key)?.deletions.delete(object);
  }

  forget(key: string): void {
    this.records.delete(key);
  }
}
