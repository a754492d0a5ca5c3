import { DataOutputSerializer } from '../io/data-output.js';
import type { DataInputDeserializer } from '../io/data-input.js';
import { IllegalStateUsageError } from '../errors.js';
import { bytesEqual, compareBytes } from '../kv/kv-bytes.js';
import { checkVersion, CompositeSerializerSnapshot, readSerializerSnapshot, type SerializerSnapshotRegistry } from '../serialization/snapshot-registry.js';
import { SchemaCompatibility, type TypeSerializer, type TypeSerializerSchemaCompatibility, type TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import type { PriorityQueueElementType } from './priority-queue.js';

/** A registered timer: it fires for `key` in `namespace` when time reaches `timestamp` (Flink's InternalTimer). */
export interface InternalTimer<K, N> {
  /** Milliseconds (or the watermark), a safe integer. */
  readonly timestamp: number;
  readonly key: K;
  readonly namespace: N;
}

const TWO_32 = 0x1_0000_0000;

/**
 * Timers in priority order as bytes (Flink's TimerSerializer): the timestamp as a big-endian i64
 * with the sign bit flipped (so negative timestamps sort first), then the key, then the namespace.
 */
export class TimerSerializer<K, N> implements TypeSerializer<InternalTimer<K, N>> {
  readonly typeId = 'timer';
  readonly isImmutableType: boolean;

  constructor(
    readonly keySerializer: TypeSerializer<K>,
    readonly namespaceSerializer: TypeSerializer<N>,
  ) {
    this.isImmutableType = keySerializer.isImmutableType && namespaceSerializer.isImmutableType;
  }

  serialize(timer: InternalTimer<K, N>, out: DataOutputSerializer): void {
    const ts = timer.timestamp;
    if (!Number.isSafeInteger(ts)) throw new IllegalStateUsageError(undefined, `timer timestamp ${String(ts)} is not a safe integer`);
    const hi = Math.floor(ts / TWO_32);
    out.writeUint32((hi ^ 0x8000_0000) >>> 0);
    out.writeUint32(ts - hi * TWO_32);
    this.keySerializer.serialize(timer.key, out);
    this.namespaceSerializer.serialize(timer.namespace, out);
  }

  deserialize(input: DataInputDeserializer): InternalTimer<K, N> {
    const hi = (input.readUint32() ^ 0x8000_0000) | 0;
    const timestamp = hi * TWO_32 + input.readUint32();
    if (!Number.isSafeInteger(timestamp)) input.fail(`timer timestamp ${timestamp} is not a safe integer`);
    const key = this.keySerializer.deserialize(input);
    return { timestamp, key, namespace: this.namespaceSerializer.deserialize(input) };
  }

  copy(timer: InternalTimer<K, N>): InternalTimer<K, N> {
    if (this.isImmutableType) return timer;
    return { timestamp: timer.timestamp, key: this.keySerializer.copy(timer.key), namespace: this.namespaceSerializer.copy(timer.namespace) };
  }

  snapshotConfiguration(): TypeSerializerSnapshot<InternalTimer<K, N>> {
    return new TimerSerializerSnapshot(this.keySerializer.snapshotConfiguration(), this.namespaceSerializer.snapshotConfiguration());
  }
}

/** Where a serialized timer's key begins: after its 8-byte timestamp (TimerSerializer). */
export const TIMER_KEY_OFFSET = 8;

/**
 * Whether the serialized timer `timer` holds `key` (serialized) as its key. A keyed record holds
 * its timer's key twice, as the record's key and in the timer's bytes; restores file it by either
 * (RocksDB by the record's, heap by its own). Key serializers are self-delimiting, so equal bytes
 * at the key's position are the same key.
 */
export function timerHoldsKey(timer: Uint8Array, key: Uint8Array): boolean {
  return timer.length >= TIMER_KEY_OFFSET + key.length && bytesEqual(timer.subarray(TIMER_KEY_OFFSET, TIMER_KEY_OFFSET + key.length), key);
}

export class TimerSerializerSnapshot<K, N> extends CompositeSerializerSnapshot<InternalTimer<K, N>> {
  readonly typeId = 'timer';

  constructor(
    readonly keySnapshot: TypeSerializerSnapshot<K>,
    readonly namespaceSnapshot: TypeSerializerSnapshot<N>,
  ) {
    super([keySnapshot, namespaceSnapshot]);
  }

  restoreSerializer(): TypeSerializer<InternalTimer<K, N>> {
    return new TimerSerializer(this.keySnapshot.restoreSerializer(), this.namespaceSnapshot.restoreSerializer());
  }

  /** Timers are ordered by their bytes: key and namespace must be readable as they are. */
  resolveSchemaCompatibility(newSerializer: TypeSerializer<InternalTimer<K, N>>): TypeSerializerSchemaCompatibility<InternalTimer<K, N>> {
    if (!(newSerializer instanceof TimerSerializer)) return SchemaCompatibility.incompatible(`was 'timer', now '${newSerializer.typeId}'`);
    const s = newSerializer as TimerSerializer<K, N>;
    const kc = this.keySnapshot.resolveSchemaCompatibility(s.keySerializer);
    if (kc.type !== 'COMPATIBLE_AS_IS') return SchemaCompatibility.incompatible(`timer key: ${kc.type === 'INCOMPATIBLE' ? kc.reason : kc.type}`);
    const nc = this.namespaceSnapshot.resolveSchemaCompatibility(s.namespaceSerializer);
    if (nc.type !== 'COMPATIBLE_AS_IS') return SchemaCompatibility.incompatible(`timer namespace: ${nc.type === 'INCOMPATIBLE' ? nc.reason : nc.type}`);
    return SchemaCompatibility.compatibleAsIs();
  }

  static read(version: number, config: DataInputDeserializer, registry: SerializerSnapshotRegistry): TimerSerializerSnapshot<unknown, unknown> {
    checkVersion('timer', version, [1]);
    return new TimerSerializerSnapshot(readSerializerSnapshot(config, registry), readSerializerSnapshot(config, registry));
  }
}

/**
 * The priority-queue element type of timers: ordered by timestamp, then (as their bytes are) by
 * key and namespace bytes, so that every backend polls timers of equal time in the same order.
 */
export function timerElementType<K, N>(keySerializer: TypeSerializer<K>, namespaceSerializer: TypeSerializer<N>): PriorityQueueElementType<K, InternalTimer<K, N>> {
  const serializer = new TimerSerializer(keySerializer, namespaceSerializer);
  const a = new DataOutputSerializer(64);
  const b = new DataOutputSerializer(64);
  const tail = (t: InternalTimer<K, N>, out: DataOutputSerializer): Uint8Array => {
    out.clear();
    keySerializer.serialize(t.key, out);
    namespaceSerializer.serialize(t.namespace, out);
    return out.bytesView();
  };
  return {
    serializer,
    compare: (x, y) => (x.timestamp !== y.timestamp ? (x.timestamp < y.timestamp ? -1 : 1) : compareBytes(tail(x, a), tail(y, b))),
    keyOf: (t) => t.key,
  };
}
