/**
 * The same-semantics minimal heap backend: the least work a heap keyed state backend with Flink's
 * key-group semantics must do per access, written without any of flowstate's generality. It is the
 * yardstick of the heap backends' access goals (issue 16): a raw `Map<key, value>` skips the key
 * groups entirely and mostly measures the CPU cache, so no key-grouped backend could approach it.
 *
 * Per access: serialize the key (int32, big-endian, as `Serializers.int32`), murmur3_32 over those
 * bytes, take the key group (mod maxParallelism), look up the key in that key group's map, then
 * walk to the namespace's entry. Values are live JS objects as in the heap backend (lists are
 * arrays, map state is a `Map` per (key, namespace) keyed by the primitive user key itself).
 * What the state contract makes every backend check is checked here too (Flink's heap states do
 * the same): null list elements and map keys are refused. Nothing else is validated: this is a
 * floor, not a competitor.
 */
import { murmur3_32 } from '@flowstate/core';

interface Entry {
  readonly ns: number;
  value: unknown;
  next: Entry | undefined;
}

/** The namespace of non-windowed state (the heap backend's identity of VoidNamespace is 0 too). */
const NS = 0;

export class MinimalHeapBackend {
  private readonly scratch = new Uint8Array(4);
  private readonly view = new DataView(this.scratch.buffer);
  /** One Map per key group (this backend owns them all), per state. */
  private readonly tables = new Map<string, Array<Map<number, Entry>>>();
  currentKey = 0;
  currentKeyGroup = -1;

  constructor(private readonly maxParallelism = 128) {}

  /**
   * The minimal key -> key group step: serialize, murmur3, mod. The remainder is written as 32-bit
   * unsigned integers (`>>> 0` on both sides, `| 0` on the result), as the backend's fast path does:
   * written as `hash % maxParallelism` V8 takes it in floating point (x87 fprem) and the baseline
   * would be slower than the least work it stands for.
   */
  setCurrentKey(key: number): void {
    this.view.setInt32(0, key);
    this.currentKeyGroup = ((murmur3_32(this.scratch, 0) >>> 0) % (this.maxParallelism >>> 0)) | 0;
    this.currentKey = key;
  }

  table(name: string): Array<Map<number, Entry>> {
    let t = this.tables.get(name);
    if (t === undefined) this.tables.set(name, (t = Array.from({ length: this.maxParallelism }, () => new Map<number, Entry>())));
    return t;
  }

  get(t: Array<Map<number, Entry>>): unknown {
    let e = t[this.currentKeyGroup]!.get(this.currentKey);
    while (e !== undefined && e.ns !== NS) e = e.next;
    return e?.value;
  }

  put(t: Array<Map<number, Entry>>, value: unknown): void {
    const g = t[this.currentKeyGroup]!;
    const head = g.get(this.currentKey);
    let e = head;
    while (e !== undefined && e.ns !== NS) e = e.next;
    if (e !== undefined) e.value = value;
    else g.set(this.currentKey, { ns: NS, value, next: head });
  }

  remove(t: Array<Map<number, Entry>>): void {
    this.removeAt(t, this.currentKeyGroup, this.currentKey);
  }

  /** The entry of `key` (in key group `keyGroup`) removed, whatever the current key is: what a map iterator's remove() needs. */
  removeAt(t: Array<Map<number, Entry>>, keyGroup: number, key: number): void {
    // Single-namespace state: the head is the entry.
    const g = t[keyGroup]!;
    const head = g.get(key);
    if (head === undefined) return;
    if (head.ns === NS) {
      if (head.next === undefined) g.delete(key);
      else g.set(key, head.next);
    }
  }
}

/** ValueState<number> on the minimal backend. */
export class MinimalValueState {
  private readonly t: Array<Map<number, Entry>>;
  constructor(private readonly be: MinimalHeapBackend, name: string) {
    this.t = be.table(name);
  }
  value(): number | null {
    return (this.be.get(this.t) as number | undefined) ?? null;
  }
  update(v: number): void {
    this.be.put(this.t, v);
  }
  clear(): void {
    this.be.remove(this.t);
  }
}

const EMPTY: readonly number[] = Object.freeze([]);

/** ListState refuses null elements (Flink: "You cannot add null to a ListState"). */
function checkElements(vs: readonly number[]): void {
  for (let i = 0; i < vs.length; i++) if (vs[i] === null || vs[i] === undefined) throw new TypeError('null list element');
}

/** ListState<number> on the minimal backend: an array per entry, copied on update (no aliasing). */
export class MinimalListState {
  private readonly t: Array<Map<number, Entry>>;
  constructor(private readonly be: MinimalHeapBackend, name: string) {
    this.t = be.table(name);
  }
  get(): readonly number[] {
    return (this.be.get(this.t) as number[] | undefined) ?? EMPTY;
  }
  add(v: number): void {
    if (v === null || v === undefined) throw new TypeError('null list element');
    const l = this.be.get(this.t) as number[] | undefined;
    if (l === undefined) this.be.put(this.t, [v]);
    else l.push(v);
  }
  addAll(vs: readonly number[]): void {
    checkElements(vs);
    const l = this.be.get(this.t) as number[] | undefined;
    if (l === undefined) this.be.put(this.t, vs.slice());
    else for (let i = 0; i < vs.length; i++) l.push(vs[i]!);
  }
  update(vs: readonly number[]): void {
    checkElements(vs);
    this.be.put(this.t, vs.slice());
  }
}

/** MapState<number, number> on the minimal backend: a Map per entry, keyed by the user key itself. */
export class MinimalMapState {
  private readonly t: Array<Map<number, Entry>>;
  constructor(private readonly be: MinimalHeapBackend, name: string) {
    this.t = be.table(name);
  }
  private map(): Map<number, number> | undefined {
    return this.be.get(this.t) as Map<number, number> | undefined;
  }
  get(k: number): number | undefined {
    return this.map()?.get(k);
  }
  contains(k: number): boolean {
    return this.map()?.has(k) ?? false;
  }
  isEmpty(): boolean {
    const m = this.map();
    return m === undefined || m.size === 0;
  }
  put(k: number, v: number): void {
    if (k === null || k === undefined) throw new TypeError('null map key');
    const m = this.map();
    if (m === undefined) this.be.put(this.t, new Map([[k, v]]));
    else m.set(k, v);
  }
  putAll(entries: ReadonlyArray<readonly [number, number]>): void {
    for (let i = 0; i < entries.length; i++) if (entries[i]![0] === null || entries[i]![0] === undefined) throw new TypeError('null map key');
    let m = this.map();
    if (m === undefined) this.be.put(this.t, (m = new Map()));
    for (const [k, v] of entries) m.set(k, v);
  }
  remove(k: number): void {
    const m = this.map();
    if (m === undefined) return;
    m.delete(k);
    if (m.size === 0) this.be.remove(this.t);
  }
  /** remove(k) on the map an iterator was created on (its origin), whatever the current key is now. */
  removeFromOrigin(o: MinimalOrigin, k: number): void {
    o.map.delete(k);
    if (o.map.size === 0) this.be.removeAt(this.t, o.keyGroup, o.key);
  }
  // MapState's iterators remove() the entry they handed out last (Flink's Iterator.remove), from
  // the map they were created on: the least that takes is remembering its key and that map, so
  // each iterator wraps the Map's own (session 34; before, the Map's iterators as they are,
  // without remove(); session 36: the map of the key current at creation, as the heap backend's).
  keys(): MinimalIterator<number> {
    const m = this.map() ?? EMPTY_MAP;
    return new MinimalKeysIterator(this.origin(m), m.keys());
  }
  values(): MinimalIterator<number> {
    const m = this.map() ?? EMPTY_MAP;
    return new MinimalValuesIterator(this.origin(m), m);
  }
  entries(): MinimalIterator<[number, number]> {
    const m = this.map() ?? EMPTY_MAP;
    return new MinimalEntriesIterator(this.origin(m), m.entries());
  }
  private origin(map: ReadonlyMap<number, number>): MinimalOrigin {
    return { state: this, keyGroup: this.be.currentKeyGroup, key: this.be.currentKey, map: map as Map<number, number> };
  }
}

/** The map a minimal map iterator was created on (an empty map has no entry to remove). */
interface MinimalOrigin {
  readonly state: MinimalMapState;
  readonly keyGroup: number;
  readonly key: number;
  readonly map: Map<number, number>;
}

const EMPTY_MAP: ReadonlyMap<number, number> = new Map();

/** An iterator of the minimal map state: remove() removes the entry next() handed out last, once. */
export interface MinimalIterator<T> extends IterableIterator<T> {
  remove(): void;
}

/**
 * remove() of every minimal map iterator. The iterators are standalone classes, as the heap
 * backend's are: V8 did not inline a base class's constructor into the caller's loop (heap-states.ts).
 */
function removeLast(origin: MinimalOrigin, canRemove: boolean, last: number): void {
  // MapState's contract: remove() only once after each next() that handed out an entry.
  if (!canRemove) throw new Error('iterator remove() without a preceding next(), or called twice');
  origin.state.removeFromOrigin(origin, last);
}

class MinimalKeysIterator implements MinimalIterator<number> {
  private last = 0;
  private canRemove = false;
  constructor(
    private readonly origin: MinimalOrigin,
    private readonly inner: Iterator<number>,
  ) {}
  next(): IteratorResult<number> {
    const r = this.inner.next();
    this.canRemove = r.done !== true;
    this.last = r.value as number;
    return r;
  }
  remove(): void {
    const can = this.canRemove;
    this.canRemove = false;
    removeLast(this.origin, can, this.last);
  }
  [Symbol.iterator](): this {
    return this;
  }
}

/** The Map's values with its keys walked in step (both iterate the same Map): the key of each value, without a [key, value] array per entry. */
class MinimalValuesIterator implements MinimalIterator<number> {
  private last = 0;
  private canRemove = false;
  private readonly inner: Iterator<number>;
  private readonly keys: Iterator<number>;
  constructor(
    private readonly origin: MinimalOrigin,
    map: ReadonlyMap<number, number>,
  ) {
    this.inner = map.values();
    this.keys = map.keys();
  }
  next(): IteratorResult<number> {
    const r = this.inner.next();
    this.canRemove = r.done !== true;
    this.last = this.keys.next().value as number;
    return r;
  }
  remove(): void {
    const can = this.canRemove;
    this.canRemove = false;
    removeLast(this.origin, can, this.last);
  }
  [Symbol.iterator](): this {
    return this;
  }
}

class MinimalEntriesIterator implements MinimalIterator<[number, number]> {
  private last = 0;
  private canRemove = false;
  constructor(
    private readonly origin: MinimalOrigin,
    private readonly inner: Iterator<[number, number]>,
  ) {}
  next(): IteratorResult<[number, number]> {
    const r = this.inner.next();
    this.canRemove = r.done !== true;
    if (this.canRemove) this.last = r.value[0];
    return r;
  }
  remove(): void {
    const can = this.canRemove;
    this.canRemove = false;
    removeLast(this.origin, can, this.last);
  }
  [Symbol.iterator](): this {
    return this;
  }
}
