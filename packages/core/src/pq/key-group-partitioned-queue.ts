import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import type { KeyGroupedInternalPriorityQueue } from '../state/priority-queue.js';
import { IndexedHeap } from './indexed-heap.js';
import type { KeyGroupQueue } from './key-group-queue.js';

/** A key group's queue and its place in the heap of heads. */
interface Slot<T> {
  readonly queue: KeyGroupQueue<T>;
  index: number;
}

/**
 * One queue per key group and a heap of the key groups ordered by their heads, so that the global
 * head is the head of the top key group (Flink's KeyGroupPartitionedPriorityQueue). Snapshots and
 * rescaling work per key group; only the key group of a changed element is re-sifted.
 */
export class KeyGroupPartitionedPriorityQueue<T> implements KeyGroupedInternalPriorityQueue<T> {
  private readonly slots: Slot<T>[] = [];
  private readonly heads: IndexedHeap<Slot<T>>;

  constructor(
    compare: (a: T, b: T) => number,
    /** The key group of an element; must lie in `range`. */
    private readonly keyGroupOf: (element: T) => number,
    private readonly range: KeyGroupRange,
    createQueue: (keyGroup: number) => KeyGroupQueue<T>,
  ) {
    this.heads = new IndexedHeap<Slot<T>>(
      (a, b) => compareHeads(a.queue.peek(), b.queue.peek(), compare),
      (s, i) => {
        s.index = i;
      },
    );
    for (const g of range) {
      const slot: Slot<T> = { queue: createQueue(g), index: -1 };
      this.slots.push(slot);
      this.heads.push(slot);
    }
  }

  add(element: T): boolean {
    const slot = this.slotOf(element);
    if (!slot.queue.add(element)) return false;
    this.heads.adjust(slot.index);
    return this.heads.peek() === slot;
  }

  remove(element: T): boolean {
    const slot = this.slotOf(element);
    const wasTop = this.heads.peek() === slot;
    if (!slot.queue.remove(element)) return false;
    this.heads.adjust(slot.index);
    return wasTop;
  }

  poll(): T | undefined {
    const top = this.heads.peek()!;
    const element = top.queue.poll();
    if (element !== undefined) this.heads.adjust(top.index);
    return element;
  }

  peek(): T | undefined {
    return this.heads.peek()!.queue.peek();
  }

  size(): number {
    let n = 0;
    for (const s of this.slots) n += s.queue.size();
    return n;
  }

  isEmpty(): boolean {
    return this.peek() === undefined;
  }

  addAll(elements: Iterable<T>): void {
    for (const e of elements) this.add(e);
  }

  bulkPoll(canConsume: (head: T) => boolean, consume: (element: T) => void, maxElements = Number.POSITIVE_INFINITY): number {
    let n = 0;
    while (n < maxElements) {
      const head = this.peek();
      if (head === undefined || !canConsume(head)) break;
      this.poll();
      consume(head);
      n++;
    }
    return n;
  }

  getSubsetForKeyGroup(keyGroup: number): T[] {
    return this.queueOf(keyGroup).elements();
  }

  /** The queue of a key group of this queue's range. */
  queueOf(keyGroup: number): KeyGroupQueue<T> {
    return this.slots[keyGroup - this.range.startKeyGroup]!.queue;
  }

  private slotOf(element: T): Slot<T> {
    return this.slots[this.keyGroupOf(element) - this.range.startKeyGroup]!;
  }
}

/** Orders key groups by their heads; an empty key group sorts last. */
function compareHeads<T>(a: T | undefined, b: T | undefined, compare: (a: T, b: T) => number): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return compare(a, b);
}
