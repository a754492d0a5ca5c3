/**
 * A binary min-heap that tells its elements where they are (Flink's HeapPriorityQueue with
 * HeapPriorityQueueElement): `setIndex` is called whenever an element moves, so that an element
 * can be removed or re-sifted in O(log n) from its index instead of being searched for.
 */
export class IndexedHeap<E> {
  private readonly items: E[] = [];

  constructor(
    private readonly compare: (a: E, b: E) => number,
    private readonly setIndex: (element: E, index: number) => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  push(element: E): void {
    this.items.push(element);
    this.siftUp(this.items.length - 1);
  }

  /** Removes the element at `index` (as last told through setIndex) and returns it. */
  removeAt(index: number): E {
    const items = this.items;
    const removed = items[index]!;
    const last = items.pop()!;
    if (index < items.length) {
      this.place(last, index);
      this.adjust(index);
    }
    this.setIndex(removed, -1);
    return removed;
  }

  poll(): E | undefined {
    return this.items.length === 0 ? undefined : this.removeAt(0);
  }

  /** Restores the heap order after the priority of the element at `index` changed. */
  adjust(index: number): void {
    if (!this.siftUp(index)) this.siftDown(index);
  }

  /** Every element, in no particular order (a copy). */
  toArray(): E[] {
    return this.items.slice();
  }

  private siftUp(index: number): boolean {
    const items = this.items;
    const e = items[index]!;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (this.compare(e, p) >= 0) break;
      this.place(p, i);
      i = parent;
    }
    this.place(e, i);
    return i !== index;
  }

  private siftDown(index: number): void {
    const items = this.items;
    const n = items.length;
    const e = items[index]!;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.compare(items[right]!, items[left]!) < 0 ? right : left;
      const c = items[child]!;
      if (this.compare(c, e) >= 0) break;
      this.place(c, i);
      i = child;
    }
    this.place(e, i);
  }

  /** Puts `e` at slot `i` and tells it where it is. */
  private place(e: E, i: number): void {
    this.items[i] = e;
    this.setIndex(e, i);
  }
}
