import { IllegalStateUsageError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { BooleanSerializer, BytesSerializer, Float64Serializer, Int32Serializer, Int64Serializer, StringSerializer, VoidNamespaceSerializer } from './primitives.js';
import { checkVersion, CompositeSerializerSnapshot, readSerializerSnapshot, type SerializerSnapshotRegistry } from './snapshot-registry.js';
import {
  SchemaCompatibility,
  wrapNestedCompatibility,
  type TypeSerializer,
  type TypeSerializerSchemaCompatibility,
  type TypeSerializerSnapshot,
} from './type-serializer.js';

/**
 * Arrays. Encoding: varuint count, then per element a varuint byte length and the element bytes.
 * Elements are length-prefixed so that tools (and the RocksDB list merge format) can split a list
 * without knowing the element serializer.
 */
export class ListSerializer<T> implements TypeSerializer<T[]> {
  readonly typeId = 'list';
  readonly isImmutableType = false;
  private readonly scratch = new DataOutputSerializer(64);

  constructor(readonly elementSerializer: TypeSerializer<T>) {}

  serialize(value: T[], out: DataOutputSerializer): void {
    out.writeVarUint(value.length);
    for (const e of value) this.serializeElement(e, out);
  }

  /** One element as it appears inside a list: varuint length + bytes. */
  serializeElement(e: T, out: DataOutputSerializer): void {
    if (e === null || e === undefined) throw new IllegalStateUsageError(undefined, 'list elements must not be null or undefined');
    const s = this.scratch;
    s.clear();
    this.elementSerializer.serialize(e, s);
    out.writeLengthPrefixed(s.bytesView());
  }

  deserialize(input: DataInputDeserializer): T[] {
    const n = input.readLength('list length');
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.deserializeElement(input);
    return out;
  }

  deserializeElement(input: DataInputDeserializer): T {
    const start = input.fileOffset;
    const bytes = input.readLengthPrefixed();
    const sub = new DataInputDeserializer(bytes, start + 1);
    const v = this.elementSerializer.deserialize(sub);
    if (sub.remaining !== 0) sub.fail('list element has trailing bytes');
    return v;
  }

  copy(value: T[]): T[] {
    return this.elementSerializer.isImmutableType ? value.slice() : value.map((e) => this.elementSerializer.copy(e));
  }

  snapshotConfiguration(): TypeSerializerSnapshot<T[]> {
    return new ListSerializerSnapshot(this.elementSerializer.snapshotConfiguration());
  }
}

export class ListSerializerSnapshot<T> extends CompositeSerializerSnapshot<T[]> {
  readonly typeId = 'list';
  constructor(readonly elementSnapshot: TypeSerializerSnapshot<T>) {
    super([elementSnapshot]);
  }

  restoreSerializer(): TypeSerializer<T[]> {
    return new ListSerializer(this.elementSnapshot.restoreSerializer());
  }

  resolveSchemaCompatibility(newSerializer: TypeSerializer<T[]>): TypeSerializerSchemaCompatibility<T[]> {
    if (!(newSerializer instanceof ListSerializer)) {
      return SchemaCompatibility.incompatible(`was 'list', now '${newSerializer.typeId}'`);
    }
    return wrapNestedCompatibility(this.elementSnapshot.resolveSchemaCompatibility((newSerializer as ListSerializer<T>).elementSerializer), {
      part: 'list element',
      migrate: (old, migrateElement) => (old as unknown[]).map(migrateElement),
      reconfigure: (element) => new ListSerializer(element),
    });
  }

  static read(version: number, config: DataInputDeserializer, registry: SerializerSnapshotRegistry): ListSerializerSnapshot<unknown> {
    checkVersion('list', version, [1]);
    return new ListSerializerSnapshot(readSerializerSnapshot(config, registry));
  }
}

/**
 * JS Maps. Encoding: varuint count, then per entry the key bytes and a presence byte followed by
 * the value bytes (values may be null, as in Flink's MapState).
 */
export class MapSerializer<K, V> implements TypeSerializer<Map<K, V | null>> {
  readonly typeId = 'map';
  readonly isImmutableType = false;

  constructor(
    readonly keySerializer: TypeSerializer<K>,
    readonly valueSerializer: TypeSerializer<V>,
  ) {}

  serialize(value: Map<K, V | null>, out: DataOutputSerializer): void {
    out.writeVarUint(value.size);
    for (const [k, v] of value) {
      this.keySerializer.serialize(k, out);
      this.serializeNullableValue(v, out);
    }
  }

  serializeNullableValue(v: V | null, out: DataOutputSerializer): void {
    if (v === null || v === undefined) {
      out.writeUint8(0);
    } else {
      out.writeUint8(1);
      this.valueSerializer.serialize(v, out);
    }
  }

  deserializeNullableValue(input: DataInputDeserializer): V | null {
    const present = input.readBoolean();
    return present ? this.valueSerializer.deserialize(input) : null;
  }

  deserialize(input: DataInputDeserializer): Map<K, V | null> {
    const n = input.readLength('map size', 2);
    const m = new Map<K, V | null>();
    for (let i = 0; i < n; i++) {
      const k = this.keySerializer.deserialize(input);
      m.set(k, this.deserializeNullableValue(input));
    }
    return m;
  }

  copy(value: Map<K, V | null>): Map<K, V | null> {
    const ks = this.keySerializer;
    const vs = this.valueSerializer;
    if (ks.isImmutableType && vs.isImmutableType) return new Map(value);
    const m = new Map<K, V | null>();
    for (const [k, v] of value) m.set(ks.copy(k), v === null ? null : vs.copy(v));
    return m;
  }

  snapshotConfiguration(): TypeSerializerSnapshot<Map<K, V | null>> {
    return new MapSerializerSnapshot(this.keySerializer.snapshotConfiguration(), this.valueSerializer.snapshotConfiguration());
  }
}

export class MapSerializerSnapshot<K, V> extends CompositeSerializerSnapshot<Map<K, V | null>> {
  readonly typeId = 'map';
  constructor(
    readonly keySnapshot: TypeSerializerSnapshot<K>,
    readonly valueSnapshot: TypeSerializerSnapshot<V>,
  ) {
    super([keySnapshot, valueSnapshot]);
  }

  restoreSerializer(): TypeSerializer<Map<K, V | null>> {
    return new MapSerializer(this.keySnapshot.restoreSerializer(), this.valueSnapshot.restoreSerializer());
  }

  resolveSchemaCompatibility(newSerializer: TypeSerializer<Map<K, V | null>>): TypeSerializerSchemaCompatibility<Map<K, V | null>> {
    if (!(newSerializer instanceof MapSerializer)) {
      return SchemaCompatibility.incompatible(`was 'map', now '${newSerializer.typeId}'`);
    }
    const ns = newSerializer as MapSerializer<K, V>;
    const kc = this.keySnapshot.resolveSchemaCompatibility(ns.keySerializer);
    // Map keys cannot migrate in place: their bytes are identities (and RocksDB key suffixes).
    if (kc.type !== 'COMPATIBLE_AS_IS') {
      return SchemaCompatibility.incompatible(
        `map key serializer ${kc.type === 'INCOMPATIBLE' ? kc.reason : 'would need migration, which map keys do not support'}`,
      );
    }
    return wrapNestedCompatibility(this.valueSnapshot.resolveSchemaCompatibility(ns.valueSerializer), {
      part: 'map value',
      migrate: (old, migrateValue) => {
        const m = new Map<K, V | null>();
        for (const [k, v] of old as Map<K, unknown>) m.set(k, v === null ? null : migrateValue(v));
        return m;
      },
      reconfigure: (value) => new MapSerializer(ns.keySerializer, value),
    });
  }

  static read(version: number, config: DataInputDeserializer, registry: SerializerSnapshotRegistry): MapSerializerSnapshot<unknown, unknown> {
    checkVersion('map', version, [1]);
    const k = readSerializerSnapshot(config, registry);
    const v = readSerializerSnapshot(config, registry);
    return new MapSerializerSnapshot(k, v);
  }
}

/** Core's serializers whose values are primitives or copies (exact classes: a subclass may override deserialize). */
const OWN_MEMORY_CLASSES: ReadonlySet<unknown> = new Set([StringSerializer, BooleanSerializer, Float64Serializer, Int32Serializer, Int64Serializer, BytesSerializer, VoidNamespaceSerializer]);

/**
 * Whether every value `serializer.deserialize` returns lives in memory of its own, never a view
 * into the input (MessagePack binaries, for one, are views): only then may a reader reuse its
 * input buffers while the values it handed out are still in use. Unknown serializers: false.
 */
export function deserializesIntoOwnMemory(serializer: TypeSerializer<unknown>): boolean {
  if (OWN_MEMORY_CLASSES.has(serializer.constructor)) return true;
  return serializer.constructor === ListSerializer && deserializesIntoOwnMemory((serializer as ListSerializer<unknown>).elementSerializer);
}
