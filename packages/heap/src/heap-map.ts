import { identityFunction, type Identity, type IdentityFn, type TypeSerializer } from '@flowstate/core';

/** The value of a map state for one (key, namespace); its layout is a HeapMapKeys'. */
export type HeapMap = Map<Identity, unknown>;

/** User key types a JS Map compares exactly as their serialized bytes compare. */
const VALUE_KEYED_TYPES = new Set(['int32', 'int64', 'string', 'boolean']);

/**
 * How a map state's HeapMaps are keyed. A JS Map compares objects by reference, so in general an
 * entry lives under its user key's identity as a `[key, value]` tuple. User keys that are their
 * own identity and compare in a Map exactly as their bytes do (int32, int64, string, boolean) key
 * the map directly and it holds the values: no tuple per entry (a third of a map state's memory,
 * and an allocation per put) and no identity call per access (issue 16). float64 keeps tuples: a
 * Map merges -0 with 0, whose bytes differ, so -0 lives under an identity of its own
 * (NEGATIVE_ZERO_IDENTITY) and the tuple keeps the key as it was put.
 */
export class HeapMapKeys {
  private constructor(
    /** Entries are `[key, value]` tuples under the key's identity (false: values under the key itself). */
    readonly tupled: boolean,
    readonly identity: IdentityFn<unknown>,
  ) {}

  static of(keySerializer: TypeSerializer<unknown>): HeapMapKeys {
    return new HeapMapKeys(!VALUE_KEYED_TYPES.has(keySerializer.typeId), identityFunction(keySerializer));
  }

  /** The user value, or undefined if the key is absent (null is a stored null). */
  get(m: HeapMap, key: unknown): unknown {
    if (!this.tupled) return m.get(key as Identity);
    const t = m.get(this.identity(key)) as [unknown, unknown] | undefined;
    return t === undefined ? undefined : t[1];
  }

  has(m: HeapMap, key: unknown): boolean {
    return m.has(this.tupled ? this.identity(key) : (key as Identity));
  }

  set(m: HeapMap, key: unknown, value: unknown): void {
    if (this.tupled) m.set(this.identity(key), [key, value]);
    else m.set(key as Identity, value);
  }

  delete(m: HeapMap, key: unknown): void {
    m.delete(this.tupled ? this.identity(key) : (key as Identity));
  }

  /** `[user key, user value]` pairs, in insertion order. */
  entries(m: HeapMap): IterableIterator<readonly [unknown, unknown]> {
    return this.tupled ? (m.values() as IterableIterator<[unknown, unknown]>) : m.entries();
  }

  /** A new HeapMap with one entry. */
  single(key: unknown, value: unknown): HeapMap {
    const m: HeapMap = new Map();
    this.set(m, key, value);
    return m;
  }

  /**
   * Deep copy (tuples are copied, under the identities they have; keys and values by their
   * serializers). The copy becomes the live map while a snapshot keeps the original (copy on
   * write), so it must share no mutable object with it: a caller may change a key entries() or
   * keys() handed out as well as a value. Untupled maps are keyed by primitives.
   */
  copy(m: HeapMap, keySerializer: TypeSerializer<unknown>, valueSerializer: TypeSerializer<unknown>): HeapMap {
    const out: HeapMap = new Map();
    const copyValue = (v: unknown) => (valueSerializer.isImmutableType || v === null ? v : valueSerializer.copy(v));
    if (this.tupled) {
      const copyKey = keySerializer.isImmutableType ? undefined : keySerializer;
      for (const [id, t] of m) {
        const [k, v] = t as [unknown, unknown];
        out.set(id, [copyKey === undefined ? k : copyKey.copy(k), copyValue(v)]);
      }
    } else {
      for (const [k, v] of m) out.set(k, copyValue(v));
    }
    return out;
  }

  toJs(m: HeapMap): Map<unknown, unknown> {
    return new Map(this.entries(m));
  }

  fromJs(m: Map<unknown, unknown>): HeapMap {
    const out: HeapMap = new Map();
    for (const [k, v] of m) this.set(out, k, v);
    return out;
  }
}
