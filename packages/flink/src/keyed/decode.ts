import { corrupt, FlinkOpaqueSerializerError } from '../errors.js';
import { ByteArrayCopies } from '../io/byte-copies.js';
import { JavaDataInput } from '../io/java-input.js';
import { JavaDataOutput } from '../io/java-output.js';
import type { FlinkTypeSerializer } from '../serializers/types.js';
import type { RawKeyedEntry } from './canonical.js';
import { collectionSerializerMismatch, serializerOf, stateKind, type StateMetaInfo } from './meta-info.js';
import type { KeyedStreamHeader } from './proxy.js';

/** A decoded keyed state record. VALUE/REDUCING/AGGREGATING: value; LIST: value = elements; MAP: userKey + value; PQ: element. */
export interface DecodedKeyedEntry {
  readonly state: string;
  readonly kind: string;
  readonly keyGroup: number;
  readonly key: unknown;
  readonly namespace: unknown;
  readonly userKey?: unknown;
  readonly value: unknown;
}

/** Key-group prefix bytes of composite keys: 1 up to 128 key groups, else 2 (CompositeKeySerializationUtils). */
export function keyGroupPrefixBytes(maxParallelism: number): number {
  return maxParallelism > 128 ? 2 : 1;
}

/** Serializers and layout of one state, prepared once per stream. */
interface StatePlan {
  readonly meta: StateMetaInfo;
  readonly kind: string;
  readonly namespace: FlinkTypeSerializer | undefined;
  readonly value: FlinkTypeSerializer | undefined;
  /** LIST: element serializer; MAP: [userKey, userValue]. */
  readonly element: FlinkTypeSerializer | undefined;
  readonly userKey: FlinkTypeSerializer | undefined;
  readonly ambiguous: boolean;
  /** Why the meta info contradicts itself (collectionSerializerMismatch): its records are corrupt. */
  readonly contradiction: string | undefined;
}

function nestedSerializer(m: StateMetaInfo, index: number): FlinkTypeSerializer | undefined {
  return serializerOf(m, 'VALUE_SERIALIZER')?.nested[index]?.serializer;
}

/**
 * Decodes canonical records (RocksDB's key and value layout) with the serializers restored from
 * the stream's own snapshots. Every value must consume its bytes exactly.
 */
export class KeyedEntryDecoder {
  private readonly plans: StatePlan[];
  private readonly prefix: number;
  private readonly keySerializer: FlinkTypeSerializer;
  /** Decoded byte[] of this decoder's records share copies (their bytes never alias the stream). */
  private readonly copies = new ByteArrayCopies();

  constructor(
    readonly header: KeyedStreamHeader,
    readonly maxParallelism: number,
  ) {
    this.prefix = keyGroupPrefixBytes(maxParallelism);
    this.keySerializer = header.keySerializer.serializer;
    this.plans = header.states.map((meta) => {
      const kind = stateKind(meta);
      const namespace = serializerOf(meta, 'NAMESPACE_SERIALIZER')?.serializer;
      const value = serializerOf(meta, 'VALUE_SERIALIZER')?.serializer;
      return {
        meta, kind, namespace, value,
        element: kind === 'LIST' ? nestedSerializer(meta, 0) : kind === 'MAP' ? nestedSerializer(meta, 1) : undefined,
        userKey: kind === 'MAP' ? nestedSerializer(meta, 0) : undefined,
        ambiguous: this.keySerializer.length < 0 && (namespace?.length ?? 0) < 0,
        contradiction: collectionSerializerMismatch(meta),
      };
    });
  }

  stateName(stateId: number): string {
    return this.plans[stateId]?.meta.name ?? `#${stateId}`;
  }

  decode(e: RawKeyedEntry, file: string): DecodedKeyedEntry {
    const plan = this.plans[e.stateId]!;
    const name = plan.meta.name;
    if (plan.contradiction !== undefined) throw corrupt(file, e.offset, plan.contradiction);
    try {
      const k = new JavaDataInput(e.key, file, e.offset + 4);
      k.copies = this.copies;
      let kg = 0;
      for (let i = 0; i < this.prefix; i++) kg = (kg << 8) | k.readUnsignedByte();
      if (kg !== e.keyGroup) k.fail(`state '${name}': record of key group ${kg} in the block of key group ${e.keyGroup}`, 0);
      if (plan.kind === 'PRIORITY_QUEUE') {
        const element = need(plan.value, name, 'VALUE_SERIALIZER').deserialize(k);
        exhausted(k, name, 'priority queue element');
        if (e.value.length !== 0) k.fail(`state '${name}': priority queue record with a ${e.value.length}-byte value`);
        const t = element as { key?: unknown; namespace?: unknown };
        return { state: name, kind: plan.kind, keyGroup: kg, key: t.key, namespace: t.namespace, value: element };
      }
      const key = this.readPart(k, this.keySerializer, plan.ambiguous);
      const namespace = this.readPart(k, need(plan.namespace, name, 'NAMESPACE_SERIALIZER'), plan.ambiguous);
      const v = new JavaDataInput(e.value, file, e.offset + 8 + e.key.length);
      v.copies = this.copies;
      if (plan.kind === 'MAP') {
        const userKey = need(plan.userKey, name, 'map user key').deserialize(k);
        exhausted(k, name, 'key');
        const value = v.readBoolean() ? null : need(plan.element, name, 'map value').deserialize(v);
        exhausted(v, name, 'value');
        return { state: name, kind: plan.kind, keyGroup: kg, key, namespace, userKey, value };
      }
      exhausted(k, name, 'key');
      const value = plan.kind === 'LIST' ? readDelimitedList(v, need(plan.element, name, 'list element')) : need(plan.value, name, 'VALUE_SERIALIZER').deserialize(v);
      exhausted(v, name, 'value');
      return { state: name, kind: plan.kind, keyGroup: kg, key, namespace, value };
    } catch (err) {
      if (err instanceof FlinkOpaqueSerializerError && err.stateName === undefined) {
        throw new FlinkOpaqueSerializerError(name, err.serializerClass);
      }
      throw err;
    }
  }

  /** Only the key of a record (for key-group assignment); values are not decoded, so opaque values are fine. */
  decodeKey(e: RawKeyedEntry, file: string): unknown {
    const plan = this.plans[e.stateId]!;
    const k = new JavaDataInput(e.key, file, e.offset + 4);
    k.skip(this.prefix);
    if (plan.kind === 'PRIORITY_QUEUE') return (need(plan.value, plan.meta.name, 'VALUE_SERIALIZER').deserialize(k) as { key?: unknown }).key;
    return this.keySerializer.deserialize(k);
  }

  /** Canonical records of a decoded entry (the inverse of `decode`; heap-native entries hold whole lists and maps). */
  encode(e: DecodedKeyedEntry, stateId: number): { stateId: number; key: Uint8Array; value: Uint8Array }[] {
    const plan = this.plans[stateId]!;
    const name = plan.meta.name;
    const prefix = (o: JavaDataOutput): void => {
      if (this.prefix === 2) o.writeByte(e.keyGroup >> 8);
      o.writeByte(e.keyGroup & 0xff);
    };
    const ser = (s: FlinkTypeSerializer, v: unknown): Uint8Array => {
      const o = new JavaDataOutput(32);
      s.serialize(v as never, o);
      return o.toBytes();
    };
    if (plan.kind === 'PRIORITY_QUEUE') {
      const o = new JavaDataOutput(32);
      prefix(o);
      need(plan.value, name, 'VALUE_SERIALIZER').serialize(e.value as never, o);
      return [{ stateId, key: o.toBytes(), value: new Uint8Array(0) }];
    }
    const base = new JavaDataOutput(32);
    prefix(base);
    this.writePart(base, this.keySerializer, e.key, plan.ambiguous);
    this.writePart(base, need(plan.namespace, name, 'NAMESPACE_SERIALIZER'), e.namespace, plan.ambiguous);
    const keyBytes = base.toBytes();
    if (plan.kind === 'MAP') {
      const entries: [unknown, unknown][] = e.userKey !== undefined ? [[e.userKey, e.value]] : [...(e.value as Map<unknown, unknown>)];
      return entries.map(([uk, v]) => {
        const value = new JavaDataOutput(16);
        value.writeBoolean(v === null || v === undefined);
        if (v !== null && v !== undefined) need(plan.element, name, 'map value').serialize(v as never, value);
        return { stateId, key: Buffer.concat([keyBytes, ser(need(plan.userKey, name, 'map user key'), uk)]), value: value.toBytes() };
      });
    }
    if (plan.kind === 'LIST') {
      const list = e.value as unknown[];
      if (list.length === 0) return [];
      const elem = need(plan.element, name, 'list element');
      const parts: Uint8Array[] = [];
      list.forEach((x, i) => {
        if (i > 0) parts.push(Uint8Array.of(0x2c));
        parts.push(ser(elem, x));
      });
      return [{ stateId, key: keyBytes, value: Buffer.concat(parts) }];
    }
    return [{ stateId, key: keyBytes, value: ser(need(plan.value, name, 'VALUE_SERIALIZER'), e.value) }];
  }

  private writePart(o: JavaDataOutput, s: FlinkTypeSerializer, v: unknown, ambiguous: boolean): void {
    const before = o.length;
    s.serialize(v as never, o);
    if (!ambiguous) return;
    let len = o.length - before;
    do {
      o.writeByte(len & 0xff);
      len >>>= 8;
    } while (len !== 0);
  }

  private readPart(k: JavaDataInput, s: FlinkTypeSerializer, ambiguous: boolean): unknown {
    const before = k.position;
    const v = s.deserialize(k);
    if (ambiguous) {
      // CompositeKeySerializationUtils.writeVariableIntBytes: the length, low byte first, until it shifts to 0.
      let len = k.position - before;
      do {
        const at = k.position;
        if (k.readUnsignedByte() !== (len & 0xff)) k.fail('composite key length bytes do not match the decoded length', at);
        len >>>= 8;
      } while (len !== 0);
    }
    return v;
  }
}

function need(s: FlinkTypeSerializer | undefined, state: string, what: string): FlinkTypeSerializer {
  if (s === undefined) throw new FlinkOpaqueSerializerError(state, what, 'the state has no such serializer snapshot');
  return s;
}

function exhausted(i: JavaDataInput, state: string, what: string): void {
  if (i.remaining !== 0) i.fail(`state '${state}': ${i.remaining} bytes of the ${what} left after decoding`);
}

/** ListDelimitedSerializer: elements separated by one ',' byte. */
export function readDelimitedList(v: JavaDataInput, elem: FlinkTypeSerializer): unknown[] {
  const out: unknown[] = [];
  while (v.remaining > 0) {
    out.push(elem.deserialize(v));
    if (v.remaining > 0 && v.readUnsignedByte() !== 0x2c) v.fail('list elements not separated by a comma', v.position - 1);
  }
  return out;
}
