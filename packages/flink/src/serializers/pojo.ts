import { FlinkOpaqueSerializerError } from '../errors.js';
import type { JavaDataInput } from '../io/java-input.js';
import { readOptionalMap } from './optional-map.js';
import type { SnapshotReader } from './registry.js';
import type { FlinkSerializerSnapshot, FlinkTypeSerializer } from './types.js';

const IS_NULL = 1;
const NO_SUBCLASS = 2;

export interface PojoField {
  readonly name: string;
  readonly serializer: FlinkTypeSerializer | null;
}

/** A POJO value: its fields by name (null fields are null). */
export type PojoValue = Record<string, unknown>;

/** PojoSerializer for the exact class (no subclasses): flags byte, then per field a null flag and the value. */
export function pojoSerializer(pojoClass: string, fields: readonly PojoField[]): FlinkTypeSerializer<PojoValue | null> {
  const fail = (detail: string): never => {
    throw new FlinkOpaqueSerializerError(undefined, `PojoSerializer(${pojoClass})`, detail);
  };
  const readField = (i: JavaDataInput, f: PojoField): unknown => {
    if (i.readBoolean()) return null;
    return f.serializer === null ? fail(`field '${f.name}' has no readable serializer snapshot`) : f.serializer.deserialize(i);
  };
  return {
    serializerClass: 'org.apache.flink.api.java.typeutils.runtime.PojoSerializer',
    length: -1,
    deserialize: (i) => {
      const at = i.position;
      const flags = i.readUnsignedByte();
      if ((flags & IS_NULL) !== 0) return null;
      if ((flags & NO_SUBCLASS) === 0) fail(`value at byte ${i.baseOffset + at} is a subclass instance (flags ${flags}); subclasses are not supported`);
      const out: PojoValue = {};
      for (const f of fields) out[f.name] = readField(i, f);
      return out;
    },
    serialize: (v, o) => {
      if (v === null) return o.writeByte(IS_NULL);
      o.writeByte(NO_SUBCLASS);
      for (const f of fields) {
        const x = v[f.name];
        o.writeBoolean(x === null || x === undefined);
        if (x === null || x === undefined) continue;
        const fs = f.serializer ?? fail(`field '${f.name}' has no readable serializer snapshot`);
        fs.serialize(x, o);
      }
    },
  };
}

/** PojoSerializerSnapshot (v2): POJO class, field snapshots, registered and non-registered subclass snapshots. */
export const readPojoSnapshot: SnapshotReader = (ctx) => {
  if (ctx.version !== 2) ctx.input.fail(`PojoSerializerSnapshot version ${ctx.version} is not supported (2 is)`);
  const pojoClass = ctx.input.readUTF();
  const fields: PojoField[] = [];
  const nested: FlinkSerializerSnapshot[] = [];
  for (const e of readOptionalMap(ctx.input, 'POJO field')) {
    const snap = e.value === null ? null : ctx.registry.readVersioned(e.value, ctx.depth + 1);
    if (snap !== null) nested.push(snap);
    fields.push({ name: e.name, serializer: snap?.serializer ?? null });
  }
  const registered = readOptionalMap(ctx.input, 'registered subclass');
  const nonRegistered = readOptionalMap(ctx.input, 'non-registered subclass');
  return {
    serializer: pojoSerializer(pojoClass, fields),
    nested,
    config: {
      typeName: `Pojo(${pojoClass.replace(/^.*[.$]/, '')})`,
      pojoClass,
      fields: fields.map((f) => f.name),
      registeredSubclasses: registered.map((r) => r.name),
      nonRegisteredSubclasses: nonRegistered.map((r) => r.name),
    },
  };
};

/** EnumSerializer: i32 ordinal into the constants of the snapshot; values are the constant names. */
export function enumSerializer(enumClass: string, constants: readonly string[]): FlinkTypeSerializer<string> {
  return {
    serializerClass: 'org.apache.flink.api.common.typeutils.base.EnumSerializer',
    length: 4,
    deserialize: (i) => {
      const at = i.position;
      const ord = i.readInt();
      const c = constants[ord];
      return c ?? i.fail(`enum ordinal ${ord} outside the ${constants.length} constants of ${enumClass}`, at);
    },
    serialize: (v, o) => {
      const ord = constants.indexOf(v);
      if (ord < 0) throw new FlinkOpaqueSerializerError(undefined, `EnumSerializer(${enumClass})`, `'${v}' is not a constant`);
      o.writeInt(ord);
    },
  };
}

export const readEnumSnapshot: SnapshotReader = (ctx) => {
  const enumClass = ctx.input.readUTF();
  const constants: string[] = [];
  if (ctx.version >= 2) {
    const n = ctx.input.readCount('enum constants', 2);
    for (let i = 0; i < n; i++) constants.push(ctx.input.readUTF());
  }
  return { serializer: enumSerializer(enumClass, constants), config: { typeName: `Enum(${enumClass.replace(/^.*[.$]/, '')})`, enumClass, constants } };
};
