/**
 * How many keys to ask the store for at once. A store reply travels as one NATS message,
 * so a page must stay under the connection's max payload whatever the objects weigh: the
 * page holds as many objects as fit the budget if each were as large as the largest one
 * of that resource seen so far (starting from a cautious guess).
 */
export type PageSizerOptions = {
  /** Bytes one store reply may carry (a fraction of NATS' max payload). */
  readonly pageBudgetBytes: number;
  /** Assumed size of an object of a resource before any has been read. */
  readonly initialObjectBytes: number;
  readonly maxKeysPerPage: number;
};

export class PageSizer {
  private readonly options: PageSizerOptions;
  private readonly largestBytes = new Map<string, number>();

  constructor(options: PageSizerOptions) {
    this.options = options;
  }

  /** Keys for the next page of `resource`, at most `wanted` when given. */
  keysPerPage(resource: string, wanted?: number): number {
    const largest = this.largestBytes.get(resource) ?? this.options.initialObjectBytes;
    const fit = Math.floor(this.options.pageBudgetBytes / Math.max(1, largest));
    const keys = Math.max(1, Math.min(this.options.maxKeysPerPage, fit));
    return wanted === undefined ? keys : Math.max(1, Math.min(keys, wanted));
  }

  /** Records the size of an object read or written. */
  observe(resource: string, bytes: number): void {
    const seen = this.largestBytes.get(resource);
    if (seen === undefined || bytes > seen) this.largestBytes.set(resource, bytes);
  }
}
