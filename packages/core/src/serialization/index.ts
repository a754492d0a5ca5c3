import { ListSerializerSnapshot, MapSerializerSnapshot } from './collections.js';
import { MsgpackSerializer } from './msgpack.js';
import {
  BooleanSerializer,
  BytesSerializer,
  Float64Serializer,
  Int32Serializer,
  Int64Serializer,
  StringSerializer,
  VoidNamespaceSerializer,
} from './primitives.js';
import { RecordSerializerSnapshot } from './record.js';
import { GlobalWindowSerializer, TimeWindowSerializer } from '../state/windows.js';
import { TimerSerializerSnapshot } from '../state/timers.js';
import { checkVersion, SerializerSnapshotRegistry } from './snapshot-registry.js';
import type { TypeSerializer } from './type-serializer.js';
import { TTL_SERIALIZER_TYPE_ID, TtlSerializerSnapshot } from '../state/ttl-value.js';

export * from './type-serializer.js';
export * from './snapshot-registry.js';
export * from './simple-snapshot.js';
export * from './primitives.js';
export * from './msgpack.js';
export * from './collections.js';
export * from './record.js';

function simple(serializer: TypeSerializer<unknown>) {
  return (version: number) => {
    checkVersion(serializer.typeId, version, [1]);
    return serializer.snapshotConfiguration();
  };
}

/** The registry that knows every built-in serializer. Extend it (`.extend()`) for custom ones. */
export const defaultSerializerRegistry: SerializerSnapshotRegistry = new SerializerSnapshotRegistry()
  .register('string', simple(StringSerializer.INSTANCE as TypeSerializer<unknown>))
  .register('boolean', simple(BooleanSerializer.INSTANCE as TypeSerializer<unknown>))
  .register('float64', simple(Float64Serializer.INSTANCE as TypeSerializer<unknown>))
  .register('int32', simple(Int32Serializer.INSTANCE as TypeSerializer<unknown>))
  .register('int64', simple(Int64Serializer.INSTANCE as TypeSerializer<unknown>))
  .register('bytes', simple(BytesSerializer.INSTANCE as TypeSerializer<unknown>))
  .register('msgpack', simple(MsgpackSerializer.INSTANCE))
  .register('void-namespace', simple(VoidNamespaceSerializer.INSTANCE as TypeSerializer<unknown>))
  .register('list', ListSerializerSnapshot.read)
  .register('map', MapSerializerSnapshot.read)
  .register('record', RecordSerializerSnapshot.read)
  .register('time-window', simple(TimeWindowSerializer.INSTANCE as TypeSerializer<unknown>))
  .register('global-window', simple(GlobalWindowSerializer.INSTANCE as TypeSerializer<unknown>))
  .register('timer', TimerSerializerSnapshot.read)
  // State with TTL: savepoints carry the timestamps (Flink's TtlSerializer snapshot).
  .register(TTL_SERIALIZER_TYPE_ID, TtlSerializerSnapshot.read);

/** Short names for the built-in serializers. */
export const Serializers = {
  string: StringSerializer.INSTANCE,
  boolean: BooleanSerializer.INSTANCE,
  float64: Float64Serializer.INSTANCE,
  int32: Int32Serializer.INSTANCE,
  int64: Int64Serializer.INSTANCE,
  bytes: BytesSerializer.INSTANCE,
  msgpack: MsgpackSerializer.INSTANCE,
  voidNamespace: VoidNamespaceSerializer.INSTANCE,
  timeWindow: TimeWindowSerializer.INSTANCE,
  globalWindow: GlobalWindowSerializer.INSTANCE,
} as const;
