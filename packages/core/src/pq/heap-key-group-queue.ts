import type { Identity, IdentityFn } from '../backend/identity.js';
import { IndexedHeap } from './indexed-heap.js';
import type { KeyGroupQueue } from './key-group-queue.js';

interface Node<T> {
  readonly element: T;
  readonly id: Identity;
  index: number;
}

/**
 * One key group of a heap priority queue (Flink's HeapPriorityQueueSet for a key group): a binary
 * heap for the order and a map by identity (serialized bytes, or the value for primitives) for set
 * semantics and O(log n) removal of any element.
 */
export class HeapKeyGroupQueue<T> implements KeyGroupQueue<T> {
  private readonly byId = new Map<Identity, Node<T>>();
  private readonly heap: IndexedHeap<Node<T>>;

  constructor(
    compare: (a: T, b: T) => number,
    private readonly identity: IdentityFn<T>,
  ) {
    this.heap = new IndexedHeap<Node<T>>(
      (a, b) => compare(a.element, b.element),
      (n, i) => {
        n.index = i;
      },
    );
  }

  peek(): T | undefined {
    return this.heap.peek()?.element;
  }

  add(element: T): boolean {
    const id = this.identity(element);
    if (this.byId.has(id)) return false;
    const node: Node<T> = { element, id, index: -1 };
    this.byId.set(id, node);
    this.heap.push(node);
    return node.index === 0;
  }

  remove(element: T): boolean {
    const id = this.identity(element);
    const node = this.byId.get(id);
    if (node === undefined) return false;
    this.byId.delete(id);
    const wasHead = node.index === 0;
    this.heap.removeAt(node.index);
    return wasHead;
  }

  poll(): T | undefined {
    const node = this.heap.poll();
    if (node === undefined) return undefined;
    this.byId.delete(node.id);
    return node.element;
  }

  size(): number {
    return this.heap.size;
  }

  elements(): T[] {
    return this.heap.toArray().map((n) => n.element);
  }
}
