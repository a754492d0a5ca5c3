import { IllegalStateUsageError } from '../errors.js';
import type { DataInputDeserializer } from '../io/data-input.js';
import type { DataOutputSerializer } from '../io/data-output.js';
import { checkVersion, readSerializerSnapshot, writeSerializerSnapshot, type SerializerSnapshotRegistry } from '../serialization/snapshot-registry.js';
import { SchemaCompatibility, wrapNestedCompatibility, type TypeSerializer, type TypeSerializerSchemaCompatibility, type TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import type { TtlTimeCharacteristic } from './ttl.js';

/** A user value with the time it was last written (or read, with OnReadAndWrite): Flink's TtlValue. */
export interface TtlValue<T> {
  readonly userValue: T;
  readonly lastAccessTimestamp: number;
}

export const TTL_SERIALIZER_TYPE_ID = 'ttl';

/** What a TTL serializer snapshot records besides the user serializer: enough to reopen a KV key space with its layout. */
export interface TtlSerializerInfo {
  readonly ttlMs: number;
  readonly timeCharacteristic: TtlTimeCharacteristic;
  /** Map values: the user value may be null, so a presence byte precedes it. */
  readonly nullableUserValue: boolean;
}

/**
 * Flink's TtlSerializer: [i64 big-endian last-access timestamp][user value]. With
 * `nullableUserValue` (map values) the user value is [u8 presence][value if 1], which makes a map
 * row [u8 1][i64 ts][u8 presence][value], KvTtlLayout's MAP layout. Values are never mutated in
 * place (a new TtlValue is written on every update), so the type is as immutable as the user's.
 */
export class TtlSerializer<T> implements TypeSerializer<TtlValue<T>> {
  readonly typeId = TTL_SERIALIZER_TYPE_ID;
  readonly isImmutableType: boolean;

  constructor(
    readonly userSerializer: TypeSerializer<T>,
    readonly info: TtlSerializerInfo,
  ) {
    this.isImmutableType = userSerializer.isImmutableType;
  }

  serialize(value: TtlValue<T>, out: DataOutputSerializer): void {
    // i64 big-endian as two 32-bit halves (no BigInt on the hot path); stamps are safe integers.
    const ts = value.lastAccessTimestamp;
    out.writeInt32(Math.floor(ts / 0x100000000));
    out.writeUint32(ts >>> 0);
    if (!this.info.nullableUserValue) {
      this.userSerializer.serialize(value.userValue, out);
    } else if (value.userValue === null || value.userValue === undefined) {
      out.writeUint8(0);
    } else {
      out.writeUint8(1);
      this.userSerializer.serialize(value.userValue, out);
    }
  }

  deserialize(input: DataInputDeserializer): TtlValue<T> {
    const hi = input.readInt32();
    const lo = input.readUint32();
    const lastAccessTimestamp = hi * 0x100000000 + lo;
    if (!Number.isSafeInteger(lastAccessTimestamp)) input.fail(`TTL timestamp ${hi}:${lo} is outside the safe integer range`);
    if (this.info.nullableUserValue && !input.readBoolean()) return { userValue: null as T, lastAccessTimestamp };
    return { userValue: this.userSerializer.deserialize(input), lastAccessTimestamp };
  }

  copy(value: TtlValue<T>): TtlValue<T> {
    if (this.isImmutableType || value.userValue === null || value.userValue === undefined) return value;
    return { userValue: this.userSerializer.copy(value.userValue), lastAccessTimestamp: value.lastAccessTimestamp };
  }

  snapshotConfiguration(): TypeSerializerSnapshot<TtlValue<T>> {
    return new TtlSerializerSnapshot(this.userSerializer.snapshotConfiguration(), this.info);
  }
}

const CHARACTERISTIC_CODES: Readonly<Record<TtlTimeCharacteristic, number>> = { ProcessingTime: 0, EventTime: 1 };

/**
 * Snapshot of a TtlSerializer (Flink's TtlSerializerSnapshot, a composite of the timestamp and user
 * serializers). Configuration: u8 nullable user value, u64 ttlMs, u8 time characteristic, then the
 * user serializer's snapshot. The TTL itself may change between runs; the time characteristic may
 * not (wall-clock timestamps read as watermarks would expire everything, or nothing).
 */
export class TtlSerializerSnapshot<T> implements TypeSerializerSnapshot<TtlValue<T>> {
  readonly typeId = TTL_SERIALIZER_TYPE_ID;
  readonly version = 1;

  constructor(
    readonly userSnapshot: TypeSerializerSnapshot<T>,
    readonly info: TtlSerializerInfo,
  ) {}

  writeConfiguration(out: DataOutputSerializer): void {
    out.writeUint8(this.info.nullableUserValue ? 1 : 0);
    out.writeUint64(this.info.ttlMs);
    out.writeUint8(CHARACTERISTIC_CODES[this.info.timeCharacteristic]);
    writeSerializerSnapshot(out, this.userSnapshot as TypeSerializerSnapshot<unknown>);
  }

  restoreSerializer(): TypeSerializer<TtlValue<T>> {
    return new TtlSerializer(this.userSnapshot.restoreSerializer(), this.info);
  }

  resolveSchemaCompatibility(newSerializer: TypeSerializer<TtlValue<T>>): TypeSerializerSchemaCompatibility<TtlValue<T>> {
    if (!(newSerializer instanceof TtlSerializer)) {
      return SchemaCompatibility.incompatible(`the restored state has TTL enabled and the state is registered without TTL now ('${newSerializer.typeId}')`);
    }
    const next = newSerializer as TtlSerializer<T>;
    if (next.info.nullableUserValue !== this.info.nullableUserValue) return SchemaCompatibility.incompatible('TTL value layout changed (map value vs value)');
    if (next.info.timeCharacteristic !== this.info.timeCharacteristic) {
      return SchemaCompatibility.incompatible(`TTL time characteristic changed from ${this.info.timeCharacteristic} to ${next.info.timeCharacteristic}`);
    }
    return wrapNestedCompatibility(this.userSnapshot.resolveSchemaCompatibility(next.userSerializer), {
      // Timestamps survive a migration of the user value.
      migrate: (old, migrateUser) => {
        const v = old as TtlValue<unknown>;
        const user = v.userValue === null || v.userValue === undefined ? v.userValue : migrateUser(v.userValue);
        return { userValue: user as T, lastAccessTimestamp: v.lastAccessTimestamp };
      },
      reconfigure: (user) => new TtlSerializer(user, next.info),
    });
  }

  static read(version: number, config: DataInputDeserializer, registry: SerializerSnapshotRegistry): TtlSerializerSnapshot<unknown> {
    checkVersion(TTL_SERIALIZER_TYPE_ID, version, [1]);
    const nullable = config.readUint8();
    if (nullable > 1) config.fail(`TTL serializer snapshot: nullable flag ${nullable}`);
    const ttlMs = config.readUint64();
    const code = config.readUint8();
    const timeCharacteristic = code === 0 ? 'ProcessingTime' : code === 1 ? 'EventTime' : config.fail(`TTL serializer snapshot: unknown time characteristic ${code}`);
    const user = readSerializerSnapshot(config, registry);
    return new TtlSerializerSnapshot(user, { ttlMs, timeCharacteristic, nullableUserValue: nullable === 1 });
  }
}

/** A TTL'd value stamped `now`. */
export function ttlValue<T>(userValue: T, now: number): TtlValue<T> {
  return { userValue, lastAccessTimestamp: Number.isSafeInteger(now) ? now : ttlStamp(now) };
}

/**
 * A time as an i64 stamp: fractions are truncated and times beyond the safe integers clamped, so
 * that a watermark of -Infinity (none yet: Flink's Long.MIN_VALUE) stamps the smallest timestamp.
 * NaN is a broken TtlTimeProvider.
 */
function ttlStamp(now: number): number {
  if (Number.isNaN(now)) throw new IllegalStateUsageError(undefined, 'the TTL time provider returned NaN');
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, Math.trunc(now)));
}

/** Guards the decorators' own null checks (the inner state would accept a TtlValue around null). */
export function rejectNull(stateName: string, value: unknown, detail: string): void {
  if (value === null || value === undefined) throw new IllegalStateUsageError(stateName, detail);
}
