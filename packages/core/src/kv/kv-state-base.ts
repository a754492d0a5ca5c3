import { IllegalStateUsageError } from '../errors.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';
import { checkNamespace } from '../state/registration.js';
import { bytesEqual } from './kv-bytes.js';
import type { KvKeySpace } from './kv-store.js';

/** What a KV state needs from its backend: the current key's row prefix. */
export interface KvStateContext {
  /** [key group][lp(key)] of the current key, valid until the next setCurrentKey. Throws if no key is set. */
  currentKeyPrefix(stateName: string): Uint8Array;
}

/** A registered state's key space and current serializers (they change on migration). */
export interface KvStateInfo {
  readonly name: string;
  readonly space: KvKeySpace;
  namespaceSerializer: TypeSerializer<unknown>;
  stateSerializer: TypeSerializer<unknown>;
}

/** Row keys and namespaces of a state over a KvStore; the subclasses add the state's semantics. */
export abstract class AbstractKvState<N> {
  /** lp(serialized namespace); undefined until a namespace is set (states of windowed operators). */
  private nsBytesOrUndefined: Uint8Array | undefined;
  private lastNamespace: N | undefined;
  protected readonly keyOut = new DataOutputSerializer(64);
  protected readonly valueOut = new DataOutputSerializer(64);

  constructor(
    protected readonly ctx: KvStateContext,
    protected readonly info: KvStateInfo,
    initialNamespace: N,
  ) {
    if (initialNamespace !== undefined) this.setCurrentNamespace(initialNamespace);
  }

  get name(): string {
    return this.info.name;
  }

  protected get space(): KvKeySpace {
    return this.info.space;
  }

  protected get nsBytes(): Uint8Array {
    if (this.nsBytesOrUndefined === undefined) this.reject('no current namespace set (call setCurrentNamespace first)');
    return this.nsBytesOrUndefined;
  }

  setCurrentNamespace(namespace: N): void {
    checkNamespace(this.name, namespace);
    // Same immutable namespace as before (the common case, e.g. VoidNamespace): nothing to redo.
    // Object.is, not ===: 0 and -0 are two namespaces (their bytes differ, as Double.equals and the
    // heap backend keep them apart), and NaN is one (its bytes are canonical).
    if (this.nsBytesOrUndefined !== undefined && Object.is(namespace, this.lastNamespace) && (typeof namespace !== 'object' || namespace === null || Object.isFrozen(namespace))) return;
    this.nsBytesOrUndefined = this.nsBytesOf(namespace);
    this.lastNamespace = namespace;
  }

  /** lp(serialized namespace). */
  protected nsBytesOf(namespace: N): Uint8Array {
    const o = this.valueOut;
    o.clear();
    this.info.namespaceSerializer.serialize(namespace, o);
    const inner = o.bytesView();
    const out = new DataOutputSerializer(inner.length + 5);
    out.writeLengthPrefixed(inner);
    return out.toBytes();
  }

  /** [kg][lp(key)][lp(ns)] for the current key and the given namespace bytes; valid until the next call. */
  protected rowKey(ns: Uint8Array = this.nsBytes): Uint8Array {
    const k = this.keyOut;
    k.clear();
    k.writeBytes(this.ctx.currentKeyPrefix(this.name));
    k.writeBytes(ns);
    return k.bytesView();
  }

  /** The serialized value; valid until the next call. */
  protected serializeValue(v: unknown): Uint8Array {
    const o = this.valueOut;
    o.clear();
    this.info.stateSerializer.serialize(v, o);
    return o.bytesView();
  }

  clear(): void {
    this.space.delete(this.rowKey());
  }

  protected reject(detail: string): never {
    throw new IllegalStateUsageError(this.name, detail);
  }
}

/** Base of the states that merge namespaces: values are read, merged and written back. */
export abstract class AbstractMergingKvState<N> extends AbstractKvState<N> {
  /** The merge of two stored values (a copy: the result is stored). */
  protected abstract mergeRaw(target: Uint8Array, source: Uint8Array): Uint8Array;

  mergeNamespaces(target: N, sources: readonly N[]): void {
    checkNamespace(this.name, target);
    for (const s of sources) checkNamespace(this.name, s);
    const tns = this.nsBytesOf(target);
    let merged: Uint8Array | undefined;
    for (const s of sources) {
      const sns = this.nsBytesOf(s);
      if (bytesEqual(sns, tns)) continue;
      const k = this.rowKey(sns).slice();
      const v = this.space.get(k);
      if (v === undefined) continue;
      this.space.delete(k);
      merged = merged === undefined ? v : this.mergeRaw(merged, v);
    }
    if (merged === undefined) return;
    const tk = this.rowKey(tns).slice();
    const existing = this.space.get(tk);
    this.space.put(tk, existing === undefined ? merged : this.mergeRaw(existing, merged));
  }
}
