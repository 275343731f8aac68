/**
 * A min-heap of (time, lease id) pairs: the next lease whose deadline or checkpoint is due.
 * Ties go to the lower id, so equal deadlines come out in a stable order.
 */
export class DeadlineHeap {
  private readonly items: { at: number; id: number }[] = [];

  private less(i: number, j: number): boolean {
    const a = this.items[i]!;
    const b = this.items[j]!;
    return a.at < b.at || (a.at === b.at && a.id < b.id);
  }

  get size(): number {
    return this.items.length;
  }

  peek(): { readonly at: number; readonly id: number } | undefined {
    return this.items[0];
  }

  push(at: number, id: number): void {
    const items = this.items;
    items.push({ at, id });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  pop(): { readonly at: number; readonly id: number } | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < items.length && this.less(l, least)) least = l;
      if (r < items.length && this.less(r, least)) least = r;
      if (least === i) break;
      [items[least], items[i]] = [items[i]!, items[least]!];
      i = least;
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}
