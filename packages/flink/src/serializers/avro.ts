import { FlinkOpaqueSerializerError } from '../errors.js';
import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import { readStringValue } from '../io/string-value.js';
import type { SnapshotReader } from './registry.js';
import type { FlinkTypeSerializer } from './types.js';

/**
 * Flink's AvroSerializer does not write Avro binary: it drives Avro's writers through
 * DataOutputEncoder (fixed-width big-endian ints and longs, i32-length strings and bytes, i32
 * union indexes and enum ordinals, var-long block counts for arrays and maps).
 */
type Schema = string | SchemaObject | Schema[];
interface SchemaObject {
  readonly type: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly fields?: { readonly name: string; readonly type: Schema }[];
  readonly items?: Schema;
  readonly values?: Schema;
  readonly symbols?: string[];
  readonly size?: number;
}

const MAX_DEPTH = 64;

class AvroCodec {
  private readonly named = new Map<string, SchemaObject>();
  constructor(private readonly root: Schema) {
    this.collect(root, undefined, 0);
  }

  private collect(s: Schema, ns: string | undefined, depth: number): void {
    if (depth > MAX_DEPTH) throw new Error('Avro schema nested too deep');
    if (Array.isArray(s)) return s.forEach((x) => this.collect(x, ns, depth + 1));
    if (typeof s === 'string') return;
    const space = s.namespace ?? ns;
    if (s.name !== undefined) {
      this.named.set(s.name, s);
      if (space !== undefined) this.named.set(`${space}.${s.name}`, s);
    }
    for (const f of s.fields ?? []) this.collect(f.type, space, depth + 1);
    if (s.items !== undefined) this.collect(s.items, space, depth + 1);
    if (s.values !== undefined) this.collect(s.values, space, depth + 1);
  }

  private resolve(s: Schema): Schema {
    if (typeof s === 'string' && this.named.has(s)) return this.named.get(s)!;
    return s;
  }

  read(i: JavaDataInput, s: Schema = this.root, depth = 0): unknown {
    if (depth > MAX_DEPTH) i.fail('Avro value nested too deep');
    s = this.resolve(s);
    if (Array.isArray(s)) {
      const at = i.position;
      const branch = s[i.readInt()];
      if (branch === undefined) i.fail('Avro union index out of range', at);
      return this.read(i, branch, depth + 1);
    }
    const t = typeof s === 'string' ? s : s.type;
    switch (t) {
      case 'null': return this.zeroWidth(i, null);
      case 'boolean': return i.readBoolean();
      case 'int': return i.readInt();
      case 'long': return i.readLong();
      case 'float': return i.readFloat();
      case 'double': return i.readDouble();
      case 'string': return new TextDecoder().decode(i.readBytes(i.readCount('Avro string length')));
      case 'bytes': return new Uint8Array(i.readBytes(i.readCount('Avro bytes length')));
    }
    const o = s as SchemaObject;
    switch (t) {
      case 'record': {
        const out: Record<string, unknown> = {};
        const fields = o.fields ?? [];
        if (fields.length === 0) return this.zeroWidth(i, out);
        for (const f of fields) out[f.name] = this.read(i, f.type, depth + 1);
        return out;
      }
      case 'enum': {
        const at = i.position;
        const sym = o.symbols?.[i.readInt()];
        return sym ?? i.fail('Avro enum ordinal out of range', at);
      }
      case 'fixed': {
        const size = o.size ?? 0;
        return size > 0 ? new Uint8Array(i.readBytes(size)) : this.zeroWidth(i, new Uint8Array(0));
      }
      case 'array': {
        const out: unknown[] = [];
        this.blocks(i, () => out.push(this.read(i, o.items!, depth + 1)));
        return out;
      }
      case 'map': {
        const out = new Map<string, unknown>();
        this.blocks(i, () => {
          const k = new TextDecoder().decode(i.readBytes(i.readCount('Avro map key length')));
          out.set(k, this.read(i, o.values!, depth + 1));
        });
        return out;
      }
      default:
        return i.fail(`unsupported Avro type '${t}'`);
    }
  }

  /**
   * A value that takes no bytes (null, an empty record, fixed of size 0) is claimed as an item:
   * arrays of them, or records reaching them through many fields, would otherwise build values
   * without bound from no input.
   */
  private zeroWidth<T>(i: JavaDataInput, v: T): T {
    i.claimItems(1, 'Avro values of no bytes');
    return v;
  }

  private blocks(i: JavaDataInput, item: () => void): void {
    for (;;) {
      const at = i.position;
      let n = 0;
      let mul = 1;
      for (let k = 0; ; k++) {
        if (k > 8) i.fail('Avro block count too long', at);
        const b = i.readUnsignedByte();
        n += (b & 0x7f) * mul;
        mul *= 128;
        if (b < 0x80) break;
      }
      if (n === 0) return;
      if (n > i.remaining) i.fail(`Avro block of ${n} items exceeds the ${i.remaining} bytes left`, at);
      // Each block is checked against the bytes left, so blocks of items of no bytes could each
      // claim them again: every item takes bytes or claims (zeroWidth; claimIfEmpty for any other).
      for (let k = 0; k < n; k++) {
        const before = i.progress;
        item();
        i.claimIfEmpty(before, 'Avro array or map items', at);
      }
    }
  }

  write(o: JavaDataOutput, v: unknown, s: Schema = this.root): void {
    s = this.resolve(s);
    if (Array.isArray(s)) {
      const idx = s.findIndex((b) => this.matches(v, this.resolve(b)));
      if (idx < 0) throw new FlinkOpaqueSerializerError(undefined, 'AvroSerializer', 'value matches no branch of the union');
      o.writeInt(idx);
      return this.write(o, v, s[idx]!);
    }
    const t = typeof s === 'string' ? s : s.type;
    const enc = new TextEncoder();
    switch (t) {
      case 'null': return;
      case 'boolean': return o.writeBoolean(v as boolean);
      case 'int': return o.writeInt(v as number);
      case 'long': return o.writeLong(v as bigint);
      case 'float': return o.writeFloat(v as number);
      case 'double': return o.writeDouble(v as number);
      case 'string': {
        const b = enc.encode(v as string);
        o.writeInt(b.length);
        return o.writeBytes(b);
      }
      case 'bytes':
        o.writeInt((v as Uint8Array).length);
        return o.writeBytes(v as Uint8Array);
    }
    const so = s as SchemaObject;
    switch (t) {
      case 'record':
        for (const f of so.fields ?? []) this.write(o, (v as Record<string, unknown>)[f.name], f.type);
        return;
      case 'enum': return o.writeInt(so.symbols?.indexOf(v as string) ?? -1);
      case 'fixed': return o.writeBytes(v as Uint8Array);
      case 'array': {
        const a = v as unknown[];
        if (a.length > 0) writeVarLong(o, a.length);
        for (const x of a) this.write(o, x, so.items!);
        return writeVarLong(o, 0);
      }
      case 'map': {
        const m = v as Map<string, unknown>;
        if (m.size > 0) writeVarLong(o, m.size);
        for (const [k, x] of m) {
          const b = enc.encode(k);
          o.writeInt(b.length);
          o.writeBytes(b);
          this.write(o, x, so.values!);
        }
        return writeVarLong(o, 0);
      }
    }
  }

  private matches(v: unknown, s: Schema): boolean {
    const t = typeof s === 'string' ? s : Array.isArray(s) ? 'union' : s.type;
    if (v === null || v === undefined) return t === 'null';
    if (t === 'long') return typeof v === 'bigint';
    if (t === 'int' || t === 'double' || t === 'float') return typeof v === 'number';
    if (t === 'string' || t === 'enum') return typeof v === 'string';
    if (t === 'boolean') return typeof v === 'boolean';
    if (t === 'array') return Array.isArray(v);
    if (t === 'map') return v instanceof Map;
    if (t === 'bytes' || t === 'fixed') return v instanceof Uint8Array;
    return t === 'record' && typeof v === 'object';
  }
}

function writeVarLong(o: JavaDataOutput, n: number): void {
  while (n >= 0x80) {
    o.writeByte((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  o.writeByte(n);
}

export function avroSerializer(schemaJson: string, runtimeClass: string): FlinkTypeSerializer {
  let codec: AvroCodec | undefined;
  let error: string | undefined;
  try {
    codec = new AvroCodec(JSON.parse(schemaJson) as Schema);
  } catch (e) {
    error = (e as Error).message;
  }
  const cls = `org.apache.flink.formats.avro.typeutils.AvroSerializer(${runtimeClass})`;
  if (codec === undefined) {
    const fail = (): never => {
      throw new FlinkOpaqueSerializerError(undefined, cls, `Avro schema not usable: ${error}`);
    };
    return { serializerClass: cls, length: -1, opaque: true, deserialize: fail, serialize: fail };
  }
  const c = codec;
  return { serializerClass: cls, length: -1, deserialize: (i) => c.read(i), serialize: (v, o) => c.write(o, v) };
}

/**
 * AvroSerializerSnapshot (readSnapshot): v1 is one writeUTF schema, the runtime class being the
 * schema's full name; v2 (Flink 1.x) writeUTF runtime class, then writeUTF schema; v3 both as
 * StringValues (no 64 KiB limit).
 */
export const readAvroSnapshot: SnapshotReader = (ctx) => {
  const { runtimeClass, schema } = readAvroSnapshotStrings(ctx.input, ctx.version);
  return { serializer: avroSerializer(schema, runtimeClass), config: { typeName: `Avro(${runtimeClass.replace(/^.*[.$]/, '')})`, runtimeClass, schema } };
};

function readAvroSnapshotStrings(i: JavaDataInput, version: number): { runtimeClass: string; schema: string } {
  switch (version) {
    case 1: {
      const schema = i.readUTF();
      return { runtimeClass: schemaFullName(schema), schema };
    }
    case 2:
      return { runtimeClass: i.readUTF(), schema: i.readUTF() };
    case 3:
      return { runtimeClass: readStringValue(i) ?? '', schema: readStringValue(i) ?? 'null' };
    default:
      return i.fail(`AvroSerializerSnapshot version ${version} is not supported (1 to 3 are)`);
  }
}

/** Flink's v1 reader looks the schema's full name up as the class (GenericRecord when there is none). */
function schemaFullName(schemaJson: string): string {
  const generic = 'org.apache.avro.generic.GenericRecord';
  let s: unknown;
  try {
    s = JSON.parse(schemaJson);
  } catch {
    return generic;
  }
  const { name, namespace } = (typeof s === 'object' && s !== null ? s : {}) as { name?: unknown; namespace?: unknown };
  if (typeof name !== 'string') return generic;
  return name.includes('.') || typeof namespace !== 'string' || namespace === '' ? name : `${namespace}.${name}`;
}
