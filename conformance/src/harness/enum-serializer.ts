import {
  checkVersion,
  defaultSerializerRegistry,
  IllegalStateUsageError,
  SchemaCompatibility,
  type DataInputDeserializer,
  type DataOutputSerializer,
  type SerializerSnapshotRegistry,
  type TypeSerializer,
  type TypeSerializerSchemaCompatibility,
  type TypeSerializerSnapshot,
} from '@flowstate/core';

const TYPE_ID = 'conformance-enum';

/**
 * Strings from a fixed set of constants, written as their ordinal. It exists to exercise
 * COMPATIBLE_WITH_RECONFIGURED_SERIALIZER, as Flink's PojoSerializer does with registered
 * subclasses: a new serializer that no longer lists a constant the restored state holds continues
 * as a reconfigured serializer that still knows it. Keeping the new serializer instead fails as
 * soon as a restored value is written again.
 */
export class EnumSerializer implements TypeSerializer<string> {
  readonly typeId = TYPE_ID;
  readonly isImmutableType = true;

  constructor(readonly constants: readonly string[]) {}

  serialize(value: string, out: DataOutputSerializer): void {
    const i = this.constants.indexOf(value);
    if (i < 0) throw new IllegalStateUsageError(undefined, `'${value}' is not one of the constants [${this.constants.join(', ')}]`);
    out.writeVarUint(i);
  }

  deserialize(input: DataInputDeserializer): string {
    const i = input.readVarUint();
    const v = this.constants[i];
    if (v === undefined) input.fail(`enum ordinal ${i} >= ${this.constants.length}`);
    return v;
  }

  copy(value: string): string {
    return value;
  }

  snapshotConfiguration(): TypeSerializerSnapshot<string> {
    return new EnumSerializerSnapshot(this.constants);
  }
}

class EnumSerializerSnapshot implements TypeSerializerSnapshot<string> {
  readonly typeId = TYPE_ID;
  readonly version = 1;

  constructor(readonly constants: readonly string[]) {}

  writeConfiguration(out: DataOutputSerializer): void {
    out.writeVarUint(this.constants.length);
    for (const c of this.constants) out.writeString(c);
  }

  restoreSerializer(): TypeSerializer<string> {
    return new EnumSerializer(this.constants);
  }

  resolveSchemaCompatibility(next: TypeSerializer<string>): TypeSerializerSchemaCompatibility<string> {
    if (!(next instanceof EnumSerializer)) return SchemaCompatibility.incompatible(`was '${TYPE_ID}', now '${next.typeId}'`);
    const missing = this.constants.filter((c) => !next.constants.includes(c));
    if (missing.length === 0) return SchemaCompatibility.compatibleAsIs();
    return SchemaCompatibility.compatibleWithReconfiguredSerializer(new EnumSerializer([...next.constants, ...missing]));
  }

  static read(version: number, config: DataInputDeserializer): EnumSerializerSnapshot {
    checkVersion(TYPE_ID, version, [1]);
    const n = config.readLength('enum constant count');
    return new EnumSerializerSnapshot(Array.from({ length: n }, () => config.readString()));
  }
}

/** The default registry plus the enum serializer: backends restoring it must be given this. */
export const ENUM_SERIALIZER_REGISTRY: SerializerSnapshotRegistry = defaultSerializerRegistry
  .extend()
  .register(TYPE_ID, (version, config) => EnumSerializerSnapshot.read(version, config) as unknown as TypeSerializerSnapshot<unknown>);
