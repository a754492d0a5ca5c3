import { UnknownFormatVersionError, UnknownSerializerError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import type { TypeSerializer, TypeSerializerSchemaCompatibility, TypeSerializerSnapshot } from './type-serializer.js';

/** Reads one serializer snapshot's configuration (the bytes its writeConfiguration produced). */
export type SerializerSnapshotReader = (
  version: number,
  config: DataInputDeserializer,
  registry: SerializerSnapshotRegistry,
) => TypeSerializerSnapshot<unknown>;

/**
 * Maps serializer type ids to snapshot readers. Checkpoints store serializer snapshots by type id;
 * a custom serializer must register its reader before a checkpoint containing it is restored.
 */
export class SerializerSnapshotRegistry {
  private readonly readers = new Map<string, SerializerSnapshotReader>();

  constructor(private readonly parent?: SerializerSnapshotRegistry) {}

  register(typeId: string, reader: SerializerSnapshotReader): this {
    this.readers.set(typeId, reader);
    return this;
  }

  has(typeId: string): boolean {
    return this.readers.has(typeId) || (this.parent?.has(typeId) ?? false);
  }

  reader(typeId: string): SerializerSnapshotReader {
    const r = this.readers.get(typeId) ?? (this.parent?.has(typeId) ? this.parent.reader(typeId) : undefined);
    if (r === undefined) throw new UnknownSerializerError(typeId);
    return r;
  }

  /** A child registry that falls back to this one. */
  extend(): SerializerSnapshotRegistry {
    return new SerializerSnapshotRegistry(this);
  }
}

/** Encoding: string typeId, varuint version, varuint-length-prefixed configuration bytes. */
export function writeSerializerSnapshot(out: DataOutputSerializer, snapshot: TypeSerializerSnapshot<unknown>): void {
  out.writeString(snapshot.typeId);
  out.writeVarUint(snapshot.version);
  // Configuration is length-prefixed so tools can skip snapshots of serializers they do not know.
  const inner = new DataOutputSerializer(64);
  snapshot.writeConfiguration(inner);
  out.writeLengthPrefixed(inner.bytesView());
}

export function readSerializerSnapshot(
  input: DataInputDeserializer,
  registry: SerializerSnapshotRegistry,
): TypeSerializerSnapshot<unknown> {
  const typeId = input.readString();
  const version = input.readVarUint();
  const configStart = input.fileOffset;
  const config = input.readLengthPrefixed();
  const reader = registry.reader(typeId);
  const sub = new DataInputDeserializer(config, configStart + 1);
  const snap = reader(version, sub, registry);
  if (sub.remaining !== 0) sub.fail(`serializer snapshot '${typeId}' has ${sub.remaining} trailing bytes`);
  return snap;
}

export function checkVersion(typeId: string, version: number, supported: readonly number[]): void {
  if (!supported.includes(version)) {
    throw new UnknownFormatVersionError(`serializer snapshot '${typeId}'`, version, supported);
  }
}

/**
 * A snapshot whose configuration is the snapshots of its nested serializers, in order (Flink's
 * CompositeTypeSerializerSnapshot): list element, map key and value, timer key and namespace.
 */
export abstract class CompositeSerializerSnapshot<T> implements TypeSerializerSnapshot<T> {
  abstract readonly typeId: string;
  readonly version: number = 1;
  constructor(private readonly nestedSnapshots: ReadonlyArray<TypeSerializerSnapshot<unknown>>) {}

  writeConfiguration(out: DataOutputSerializer): void {
    for (const s of this.nestedSnapshots) writeSerializerSnapshot(out, s);
  }

  abstract restoreSerializer(): TypeSerializer<T>;
  abstract resolveSchemaCompatibility(newSerializer: TypeSerializer<T>): TypeSerializerSchemaCompatibility<T>;
}
