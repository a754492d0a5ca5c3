import { IllegalStateUsageError } from '../errors.js';
import type { DataInputDeserializer } from '../io/data-input.js';
import type { DataOutputSerializer } from '../io/data-output.js';
import { checkVersion, readSerializerSnapshot, writeSerializerSnapshot, type SerializerSnapshotRegistry } from './snapshot-registry.js';
import {
  SchemaCompatibility,
  type TypeSerializer,
  type TypeSerializerSchemaCompatibility,
  type TypeSerializerSnapshot,
} from './type-serializer.js';

export interface RecordField<V = unknown> {
  readonly name: string;
  readonly serializer: TypeSerializer<V>;
  /**
   * Used when restoring data written before this field existed. A field added without a default
   * makes old state incompatible.
   */
  readonly defaultValue?: V;
}

export type RecordValue = Record<string, unknown>;

/**
 * Plain objects with a fixed list of named fields (Flink's PojoSerializer, without reflection).
 * Encoding: per field in declaration order, a presence byte (0 = null/undefined) and the value.
 * The snapshot records every field's name and serializer, so adding a field with a default or
 * removing a field migrates old state; changing a field's type incompatibly does not.
 */
export class RecordSerializer<T extends RecordValue = RecordValue> implements TypeSerializer<T> {
  readonly typeId = 'record';
  readonly isImmutableType = false;

  constructor(
    readonly recordName: string,
    readonly fields: readonly RecordField[],
  ) {
    const names = new Set<string>();
    for (const f of fields) {
      if (names.has(f.name)) throw new IllegalStateUsageError(undefined, `record '${recordName}' declares field '${f.name}' twice`);
      names.add(f.name);
    }
  }

  serialize(value: T, out: DataOutputSerializer): void {
    for (const f of this.fields) {
      const v = value[f.name];
      if (v === null || v === undefined) {
        out.writeUint8(0);
      } else {
        out.writeUint8(1);
        f.serializer.serialize(v, out);
      }
    }
  }

  deserialize(input: DataInputDeserializer): T {
    const obj: RecordValue = {};
    for (const f of this.fields) {
      obj[f.name] = input.readBoolean() ? f.serializer.deserialize(input) : null;
    }
    return obj as T;
  }

  copy(value: T): T {
    const obj: RecordValue = {};
    for (const f of this.fields) {
      const v = value[f.name];
      obj[f.name] = v === null || v === undefined ? v : f.serializer.copy(v);
    }
    return obj as T;
  }

  snapshotConfiguration(): TypeSerializerSnapshot<T> {
    return new RecordSerializerSnapshot<T>(
      this.recordName,
      this.fields.map((f) => ({ name: f.name, snapshot: f.serializer.snapshotConfiguration() })),
    );
  }
}

interface FieldSnapshot {
  readonly name: string;
  readonly snapshot: TypeSerializerSnapshot<unknown>;
}

export class RecordSerializerSnapshot<T extends RecordValue> implements TypeSerializerSnapshot<T> {
  readonly typeId = 'record';
  readonly version = 1;

  constructor(
    readonly recordName: string,
    readonly fields: readonly FieldSnapshot[],
  ) {}

  writeConfiguration(out: DataOutputSerializer): void {
    out.writeString(this.recordName);
    out.writeVarUint(this.fields.length);
    for (const f of this.fields) {
      out.writeString(f.name);
      writeSerializerSnapshot(out, f.snapshot);
    }
  }

  restoreSerializer(): TypeSerializer<T> {
    return new RecordSerializer<T>(
      this.recordName,
      this.fields.map((f) => ({ name: f.name, serializer: f.snapshot.restoreSerializer() })),
    );
  }

  resolveSchemaCompatibility(newSerializer: TypeSerializer<T>): TypeSerializerSchemaCompatibility<T> {
    if (!(newSerializer instanceof RecordSerializer)) {
      return SchemaCompatibility.incompatible(`was 'record', now '${newSerializer.typeId}'`);
    }
    const next = newSerializer as RecordSerializer<T>;
    if (next.recordName !== this.recordName) {
      return SchemaCompatibility.incompatible(`record was '${this.recordName}', now '${next.recordName}'`);
    }
    const oldByName = new Map(this.fields.map((f) => [f.name, f]));
    let needsMigration = next.fields.length !== this.fields.length;
    const converters: Array<(old: RecordValue) => unknown> = [];
    for (let i = 0; i < next.fields.length; i++) {
      const nf = next.fields[i]!;
      const of = oldByName.get(nf.name);
      if (of === undefined) {
        if (!('defaultValue' in nf)) {
          return SchemaCompatibility.incompatible(`field '${nf.name}' was added to record '${this.recordName}' without a default value`);
        }
        needsMigration = true;
        const def = nf.defaultValue;
        converters.push(() => (def === null || def === undefined ? def : nf.serializer.copy(def)));
        continue;
      }
      if (this.fields[i]?.name !== nf.name) needsMigration = true;
      const c = of.snapshot.resolveSchemaCompatibility(nf.serializer);
      switch (c.type) {
        case 'INCOMPATIBLE':
          return SchemaCompatibility.incompatible(`field '${nf.name}' of record '${this.recordName}': ${c.reason}`);
        case 'COMPATIBLE_AS_IS':
        case 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER':
          // Reconfigured nested serializers read old bytes; the value shape is unchanged.
          if (c.type === 'COMPATIBLE_WITH_RECONFIGURED_SERIALIZER') needsMigration = true;
          converters.push((old) => old[nf.name]);
          break;
        case 'COMPATIBLE_AFTER_MIGRATION':
          needsMigration = true;
          converters.push((old) => {
            const v = old[nf.name];
            return v === null || v === undefined ? v : c.migrate(v);
          });
          break;
      }
    }
    if (!needsMigration) return SchemaCompatibility.compatibleAsIs();
    const names = next.fields.map((f) => f.name);
    return SchemaCompatibility.compatibleAfterMigration((old) => {
      const o = old as RecordValue;
      const obj: RecordValue = {};
      for (let i = 0; i < names.length; i++) obj[names[i]!] = converters[i]!(o);
      return obj as T;
    });
  }

  static read(version: number, config: DataInputDeserializer, registry: SerializerSnapshotRegistry): RecordSerializerSnapshot<RecordValue> {
    checkVersion('record', version, [1]);
    const recordName = config.readString();
    const n = config.readLength('record field count', 2);
    const fields: FieldSnapshot[] = [];
    for (let i = 0; i < n; i++) {
      const name = config.readString();
      fields.push({ name, snapshot: readSerializerSnapshot(config, registry) });
    }
    return new RecordSerializerSnapshot(recordName, fields);
  }
}
