import { deserializeExact } from '../serialization/type-serializer.js';
import type { KeyGroupQueue } from '../pq/key-group-queue.js';
import type { AnyElementType, ElementWriter } from '../pq/priority-queue-states.js';
import { compareBytes, prefixEnd } from './kv-bytes.js';
import { forEachEntry, type KvKeySpace } from './kv-store.js';

/** Elements of a key group kept in memory (Flink's RocksDB priority queue cache size default). */
export const KV_QUEUE_CACHE_SIZE = 128;

interface Cached {
  /** The row key: [key group][serialized element]. */
  readonly row: Uint8Array;
  readonly element: unknown;
}

/**
 * One key group of a priority queue in a KvStore (Flink's RocksDBCachingPriorityQueueSet): rows
 * [key-group prefix][serialized element] in the queue's key space, so the store's byte order is
 * the queue's order and equal bytes are one row (set semantics). The value is the serialized key,
 * so snapshots and savepoint tools can place an element without knowing its type. The smallest
 * rows are cached in order; `complete` says the cache holds all of them, so that adds beyond the
 * cache and size() need no store access while the key group is small.
 */
export class KvKeyGroupQueue implements KeyGroupQueue<unknown> {
  private cache: Cached[] = [];
  private complete = false;
  private readonly upper: Uint8Array;

  constructor(
    private readonly space: KvKeySpace,
    private readonly prefix: Uint8Array,
    private readonly type: AnyElementType,
    private readonly writer: ElementWriter,
  ) {
    this.upper = prefixEnd(prefix);
    this.refill();
  }

  peek(): unknown {
    return this.cache[0]?.element;
  }

  add(element: unknown): boolean {
    const row = this.rowOf(element);
    const i = this.position(row);
    if (i < this.cache.length && compareBytes(this.cache[i]!.row, row) === 0) return false;
    if (i === this.cache.length && !this.complete) {
      // Beyond the cache: the store decides whether it is new; the head cannot change.
      if (this.space.get(row) === undefined) this.space.put(row, this.writer.key(element));
      return false;
    }
    this.space.put(row, this.writer.key(element));
    this.cache.splice(i, 0, { row, element });
    if (this.cache.length > KV_QUEUE_CACHE_SIZE) {
      this.cache.pop();
      this.complete = false;
    }
    return i === 0;
  }

  remove(element: unknown): boolean {
    const row = this.rowOf(element);
    const i = this.position(row);
    if (i < this.cache.length && compareBytes(this.cache[i]!.row, row) === 0) {
      this.space.delete(row);
      this.cache.splice(i, 1);
      if (this.cache.length === 0 && !this.complete) this.refill();
      return i === 0;
    }
    if (i === this.cache.length && !this.complete && this.space.get(row) !== undefined) this.space.delete(row);
    return false;
  }

  poll(): unknown {
    const head = this.cache.shift();
    if (head === undefined) return undefined;
    this.space.delete(head.row);
    if (this.cache.length === 0 && !this.complete) this.refill();
    return head.element;
  }

  size(): number {
    if (this.complete) return this.cache.length;
    let n = 0;
    forEachEntry(this.space, this.prefix, this.upper, () => void n++);
    return n;
  }

  elements(): unknown[] {
    if (this.complete) return this.cache.map((c) => c.element);
    const out: unknown[] = [];
    forEachEntry(this.space, this.prefix, this.upper, (row) => out.push(this.elementOf(row)));
    return out;
  }

  /** Loads the smallest rows into the cache (one more, to learn whether they are all). */
  private refill(): void {
    const rows = this.space.scan(this.prefix, this.upper, KV_QUEUE_CACHE_SIZE + 1);
    this.complete = rows.length <= KV_QUEUE_CACHE_SIZE;
    this.cache = rows.slice(0, KV_QUEUE_CACHE_SIZE).map(([row]) => ({ row, element: this.elementOf(row) }));
  }

  private elementOf(row: Uint8Array): unknown {
    return deserializeExact(this.type.serializer, row.subarray(this.prefix.length), 'priority queue element');
  }

  private rowOf(element: unknown): Uint8Array {
    const bytes = this.writer.element(element);
    const row = new Uint8Array(this.prefix.length + bytes.length);
    row.set(this.prefix, 0);
    row.set(bytes, this.prefix.length);
    return row;
  }

  /** Where `row` is or would go in the cache (binary search). */
  private position(row: Uint8Array): number {
    let lo = 0;
    let hi = this.cache.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareBytes(this.cache[mid]!.row, row) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
