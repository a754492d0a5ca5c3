import { DataInputDeserializer } from '../io/data-input.js';
import type { DataOutputSerializer } from '../io/data-output.js';

/**
 * Writes values of one type to binary and reads them back, in the spirit of Flink's TypeSerializer.
 * Serialization must be deterministic: equal values produce equal bytes, because serialized keys
 * decide key groups and (in RocksDB) identity.
 */
export interface TypeSerializer<T> {
  /** Stable identifier of the serializer type; stored in every checkpoint with its snapshot. */
  readonly typeId: string;
  /**
   * True if values of this type are never mutated in place (strings, numbers, bigints, frozen data).
   * Heap backends copy mutable values on read while a snapshot is in progress.
   */
  readonly isImmutableType: boolean;
  serialize(value: T, out: DataOutputSerializer): void;
  deserialize(input: DataInputDeserializer): T;
  /**
   * Optional: like deserialize, but the value may be a view into the input's buffer (no copy), valid
   * only as long as that buffer is not reused. Readers that hand out such views say so.
   */
  deserializeView?(input: DataInputDeserializer): T;
  /** A deep copy; identity for immutable types. */
  copy(value: T): T;
  /** A versioned description of this serializer's configuration, written into checkpoints. */
  snapshotConfiguration(): TypeSerializerSnapshot<T>;
}

/**
 * The persisted configuration of a serializer. After restore it (a) recreates a serializer able
 * to read the old bytes and (b) decides whether the serializer registered now can take over.
 */
export interface TypeSerializerSnapshot<T> {
  readonly typeId: string;
  /** Version of this snapshot's own configuration encoding. */
  readonly version: number;
  writeConfiguration(out: DataOutputSerializer): void;
  /** A serializer that reads data written by the serializer this snapshot was taken from. */
  restoreSerializer(): TypeSerializer<T>;
  resolveSchemaCompatibility(newSerializer: TypeSerializer<T>): TypeSerializerSchemaCompatibility<T>;
}

/** Outcome of comparing a restored serializer snapshot with the serializer registered now. */
export type TypeSerializerSchemaCompatibility<T> =
  | { readonly type: 'COMPATIBLE_AS_IS' }
  | {
      readonly type: 'COMPATIBLE_AFTER_MIGRATION';
      /** Converts a value read by the restored serializer into the new serializer's shape. */
      readonly migrate: (oldValue: unknown) => T;
    }
  | { readonly type: 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER'; readonly serializer: TypeSerializer<T> }
  | { readonly type: 'INCOMPATIBLE'; readonly reason: string };

export const SchemaCompatibility = {
  compatibleAsIs<T>(): TypeSerializerSchemaCompatibility<T> {
    return { type: 'COMPATIBLE_AS_IS' };
  },
  compatibleAfterMigration<T>(migrate: (oldValue: unknown) => T): TypeSerializerSchemaCompatibility<T> {
    return { type: 'COMPATIBLE_AFTER_MIGRATION', migrate };
  },
  compatibleWithReconfiguredSerializer<T>(serializer: TypeSerializer<T>): TypeSerializerSchemaCompatibility<T> {
    return { type: 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER', serializer };
  },
  incompatible<T>(reason: string): TypeSerializerSchemaCompatibility<T> {
    return { type: 'INCOMPATIBLE', reason };
  },
};

/** The identity migration, for composite serializers whose parts need none. */
export const identityMigration = <T>(v: unknown): T => v as T;

/**
 * Deserializes a value that must occupy exactly `bytes` (a length-prefixed field): trailing bytes
 * mean the data or the serializer is wrong. Errors are CorruptDataError; `baseOffset` places
 * their offsets within the enclosing file.
 */
export function deserializeExact<T>(serializer: TypeSerializer<T>, bytes: Uint8Array, what: string, baseOffset = 0): T {
  const input = new DataInputDeserializer(bytes, baseOffset);
  const v = serializer.deserialize(input);
  if (input.remaining !== 0) input.fail(`${what} has ${input.remaining} trailing bytes`);
  return v;
}

/**
 * deserializeExact over one reused input, for loops that decode many fields. With `view`, a
 * serializer's deserializeView is used where it has one (the value may alias `bytes`).
 */
export class ExactDeserializer {
  private readonly input = new DataInputDeserializer(new Uint8Array(0));

  decode<T>(serializer: TypeSerializer<T>, bytes: Uint8Array, what: string, baseOffset = 0, view = false): T {
    this.input.reset(bytes, baseOffset);
    return this.decodeInput(serializer, what, view);
  }

  /** decode of bytes[from, to) without a view of it (same value, same errors): a field decoded in place in its block. */
  decodeRange<T>(serializer: TypeSerializer<T>, bytes: Uint8Array, from: number, to: number, what: string, baseOffset = 0, view = false): T {
    this.input.resetRange(bytes, from, to, baseOffset);
    return this.decodeInput(serializer, what, view);
  }

  private decodeInput<T>(serializer: TypeSerializer<T>, what: string, view: boolean): T {
    const input = this.input;
    const v = view && serializer.deserializeView !== undefined ? serializer.deserializeView(input) : serializer.deserialize(input);
    if (input.remaining !== 0) input.fail(`${what} has ${input.remaining} trailing bytes`);
    return v;
  }

  /** Drops the reference to the last decoded bytes, so that they can be collected (a scan buffer of up to 8 MiB). */
  release(): void {
    this.input.reset(NO_BYTES);
  }
}

const NO_BYTES = new Uint8Array(0);

/** How a serializer that wraps one nested serializer follows the nested one's compatibility. */
export interface NestedCompatibilityWrapper<Inner, Outer> {
  /** Prefixes the nested reason when incompatible (e.g. 'list element'); none: the reason as it is. */
  readonly part?: string;
  /** An old outer value with its nested values migrated by `migrateNested`. */
  migrate(oldValue: unknown, migrateNested: (oldNested: unknown) => Inner): Outer;
  /** The outer serializer around a reconfigured nested one. */
  reconfigure(nested: TypeSerializer<Inner>): TypeSerializer<Outer>;
}

/**
 * The compatibility of a wrapping serializer (list, map value, TTL value) from its nested
 * serializer's: as is stays as is, a nested migration migrates every nested value, a reconfigured
 * nested serializer reconfigures the outer one, and incompatible says which part.
 */
export function wrapNestedCompatibility<Inner, Outer>(
  nested: TypeSerializerSchemaCompatibility<Inner>,
  wrapper: NestedCompatibilityWrapper<Inner, Outer>,
): TypeSerializerSchemaCompatibility<Outer> {
  switch (nested.type) {
    case 'COMPATIBLE_AS_IS':
      return SchemaCompatibility.compatibleAsIs();
    case 'COMPATIBLE_AFTER_MIGRATION':
      return SchemaCompatibility.compatibleAfterMigration((old) => wrapper.migrate(old, nested.migrate));
    case 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER':
      return SchemaCompatibility.compatibleWithReconfiguredSerializer(wrapper.reconfigure(nested.serializer));
    case 'INCOMPATIBLE':
      return SchemaCompatibility.incompatible(wrapper.part === undefined ? nested.reason : `${wrapper.part}: ${nested.reason}`);
  }
}
