import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';

/**
 * A Flink TypeSerializer reimplemented in TypeScript: same bytes as the Java class named by
 * `serializerClass`. Values are plain JS: numbers, bigint for Java long, strings, arrays, Maps,
 * objects for tuples/POJOs/rows.
 */
export interface FlinkTypeSerializer<T = unknown> {
  /** Java class of the serializer (for messages). */
  readonly serializerClass: string;
  /** Flink's getLength(): the fixed byte length of every value, or -1. */
  readonly length: number;
  deserialize(input: JavaDataInput): T;
  serialize(value: T, out: JavaDataOutput): void;
  /** Java's hashCode() of a value, where flowstate knows it (decides key groups). */
  hashCode?(value: T): number;
  /** True when values cannot be decoded (Kryo, Java serialization, unknown user serializer). */
  readonly opaque?: boolean;
}

/** A TypeSerializerSnapshot as read from a Flink stream: its class, version, exact payload bytes and what they mean. */
export interface FlinkSerializerSnapshot {
  readonly className: string;
  readonly version: number;
  /** The payload bytes exactly as written (after class name and version), for byte-exact writing. */
  readonly payload: Uint8Array;
  /** Nested snapshots (composite serializers, POJO fields...). */
  readonly nested: readonly FlinkSerializerSnapshot[];
  /** Class-specific configuration (tuple class, enum constants, POJO fields, Avro schema, ...). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The serializer the snapshot restores. */
  readonly serializer: FlinkTypeSerializer;
}

/** A short human name of a snapshot: Tuple1<Long>, List<String>, Kryo(com.x.Y) ... */
export function describeSnapshot(s: FlinkSerializerSnapshot): string {
  const short = s.className.replace(/^.*[.$]/, '').replace(/SerializerSnapshot$|Snapshot$|SerializerConfigSnapshot$/, '');
  const own = typeof s.config['typeName'] === 'string' ? (s.config['typeName'] as string) : short;
  return s.nested.length === 0 ? own : `${own}<${s.nested.map(describeSnapshot).join(', ')}>`;
}
