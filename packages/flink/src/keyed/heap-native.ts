import { decodeSnappyFramedStreams } from '../compression/snappy.js';
import { FlinkOpaqueSerializerError } from '../errors.js';
import { JavaDataInput } from '../io/java-input.js';
import type { FlinkTypeSerializer } from '../serializers/types.js';
import type { DecodedKeyedEntry } from './decode.js';
import { collectionSerializerMismatch, serializerOf, stateKind } from './meta-info.js';
import type { KeyedStreamHeader } from './proxy.js';

/**
 * One key group of the heap backend's own format (HeapSnapshotStrategy, KeyGroupsStateHandle
 * 3/12): i32 key group, then per state u16 id, i32 count, and (namespace, key, value) with the
 * full state serializer (priority queues: elements). Not length-delimited: every serializer must
 * be decodable, or the rest of the key group is unreadable (FlinkOpaqueSerializerError).
 */
export function readHeapKeyGroup(input: JavaDataInput, keyGroup: number, header: KeyedStreamHeader, sectionOrder?: number[]): DecodedKeyedEntry[] {
  const at = input.position;
  const stored = input.readInt();
  if (stored !== keyGroup) input.fail(`heap key-group block says key group ${stored}, its offset is that of ${keyGroup}`, at);
  const sections: JavaDataInput[] = header.compression
    ? decodeSnappyFramedStreams(input.slice(input.remaining, 'compressed key group')).map((b) => new JavaDataInput(b, `${input.file} (decompressed key group ${keyGroup})`))
    : Array.from({ length: header.states.length }, () => input);
  if (sections.length !== header.states.length) input.fail(`key group ${keyGroup}: ${sections.length} compressed state sections for ${header.states.length} states`);
  const out: DecodedKeyedEntry[] = [];
  for (const s of sections) sectionOrder?.push(readSection(s, keyGroup, header, out));
  return out;
}

/** Reads one state's section; returns its state id (sections follow the backend's map order, not the ids). */
function readSection(input: JavaDataInput, keyGroup: number, header: KeyedStreamHeader, out: DecodedKeyedEntry[]): number {
  const at = input.position;
  const id = input.readUnsignedShort();
  const meta = header.states[id];
  if (meta === undefined) input.fail(`key group ${keyGroup}: state id ${id} outside the ${header.states.length} states`, at);
  const contradiction = collectionSerializerMismatch(meta);
  if (contradiction !== undefined) input.fail(`key group ${keyGroup}: ${contradiction}`, at);
  const kind = stateKind(meta);
  const count = input.readCount(`entries of state '${meta.name}'`);
  const value = serializerOf(meta, 'VALUE_SERIALIZER')?.serializer;
  const ns = serializerOf(meta, 'NAMESPACE_SERIALIZER')?.serializer;
  const key = header.keySerializer.serializer;
  const use = (s: FlinkTypeSerializer | undefined, what: string): FlinkTypeSerializer => {
    if (s === undefined) throw new FlinkOpaqueSerializerError(meta.name, what, 'missing serializer snapshot');
    if (s.opaque === true) throw new FlinkOpaqueSerializerError(meta.name, s.serializerClass, 'heap-native key groups are not length-delimited: values of an opaque serializer cannot be stepped over');
    return s;
  };
  for (let i = 0; i < count; i++) {
    try {
      if (kind === 'PRIORITY_QUEUE') {
        const el = use(value, 'VALUE_SERIALIZER').deserialize(input) as { key?: unknown; namespace?: unknown };
        out.push({ state: meta.name, kind, keyGroup, key: el.key, namespace: el.namespace, value: el });
        continue;
      }
      const namespace = use(ns, 'NAMESPACE_SERIALIZER').deserialize(input);
      const k = use(key, 'KEY_SERIALIZER').deserialize(input);
      out.push({ state: meta.name, kind, keyGroup, key: k, namespace, value: use(value, 'VALUE_SERIALIZER').deserialize(input) });
    } catch (e) {
      if (e instanceof FlinkOpaqueSerializerError && e.stateName === undefined) throw new FlinkOpaqueSerializerError(meta.name, e.serializerClass);
      throw e;
    }
  }
  return id;
}
