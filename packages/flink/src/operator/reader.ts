import { corrupt, FlinkOpaqueSerializerError, FlinkUnsupportedError } from '../errors.js';
import { JavaDataInput } from '../io/java-input.js';
import { serializerOf, type StateMetaInfo } from '../keyed/meta-info.js';
import { readOperatorHeader, type OperatorStreamHeader } from '../keyed/proxy.js';
import type { OperatorStreamHandle } from '../metadata/types.js';
import type { FlinkSerializerRegistry } from '../serializers/registry.js';
import type { ResolvedStream } from '../streams.js';

/** One operator state of one subtask: list elements (split/union) or broadcast entries, decoded or raw. */
export interface OperatorStateContent {
  readonly name: string;
  readonly mode: 'SPLIT_DISTRIBUTE' | 'UNION' | 'BROADCAST';
  readonly serializer: string;
  /** Elements (lists) or [key, value] pairs (broadcast); undefined when the serializer, or one nested in it, is opaque. */
  readonly values?: unknown[];
  /** Raw bytes of every element (lists) or of the whole broadcast map, always present. */
  readonly raw: Uint8Array[];
}

/**
 * Reads an operator state stream (OperatorBackendSerializationProxy + data) through its handle:
 * list element i spans [offsets[i], next offset of any state or end of stream); a broadcast
 * state is `i32 size, size x (key, value)` at its single offset.
 */
export function readOperatorStates(handle: OperatorStreamHandle, stream: ResolvedStream, registry: FlinkSerializerRegistry): { header: OperatorStreamHeader; states: OperatorStateContent[] } {
  const input = new JavaDataInput(stream.bytes, stream.file, stream.baseOffset);
  const header = readOperatorHeader(input, registry);
  if (header.compression) throw new FlinkUnsupportedError(stream.file, 'compressed operator state (snapshot-compression) is not read by flowstate yet');
  const endOf = elementEnds(handle, stream.bytes.length);
  const metas = new Map<string, StateMetaInfo>([...header.operatorStates, ...header.broadcastStates].map((m) => [m.name, m]));
  const states = handle.states.map((s) => {
    const meta = metas.get(s.name) ?? input.fail(`operator state '${s.name}' of the handle is not in the stream's header`);
    for (const off of s.offsets) if (off < header.length || off >= stream.bytes.length) input.fail(`operator state '${s.name}': offset ${off} outside the data`);
    return s.mode === 'BROADCAST' ? readBroadcast(stream, s.name, s.offsets, meta, endOf) : readList(stream, s.name, s.mode, s.offsets, meta, endOf);
  });
  return { header, states };
}

/**
 * The serializers every operator state read must name in its meta info: VALUE_SERIALIZER, and
 * KEY_SERIALIZER for broadcast state. Flink's restore refuses a meta info without them
 * (RegisteredOperatorStateBackendMetaInfo and RegisteredBroadcastStateBackendMetaInfo check them
 * for null): corrupt, not opaque. Convert and validate check it; the reader does not, so that
 * savepoint surgery can still drop such a state.
 */
export function checkOperatorStateSerializers(read: ReturnType<typeof readOperatorStates>, stream: ResolvedStream): void {
  const metas = [...read.header.operatorStates, ...read.header.broadcastStates];
  for (const st of read.states) {
    const meta = metas.find((m) => m.name === st.name)!;
    for (const key of st.mode === 'BROADCAST' ? (['KEY_SERIALIZER', 'VALUE_SERIALIZER'] as const) : (['VALUE_SERIALIZER'] as const)) {
      if (serializerOf(meta, key) === undefined) throw corrupt(stream.file, stream.baseOffset, `operator state header: the meta info of '${meta.name}' has no ${key}`);
    }
  }
}

function readList(stream: ResolvedStream, name: string, mode: 'SPLIT_DISTRIBUTE' | 'UNION', offsets: readonly number[], meta: StateMetaInfo, endOf: (o: number) => number): OperatorStateContent {
  const ser = serializerOf(meta, 'VALUE_SERIALIZER');
  const raw = offsets.map((o) => stream.bytes.subarray(o, endOf(o)));
  const serializerClass = ser?.className ?? '?';
  if (ser === undefined || ser.serializer.opaque === true) return { name, mode, serializer: serializerClass, raw };
  const values = unlessOpaque(() => offsets.map((o) => {
    const i = new JavaDataInput(stream.bytes, stream.file, stream.baseOffset, o, endOf(o));
    const v = ser.serializer.deserialize(i);
    if (i.remaining !== 0) i.fail(`operator state '${name}': ${i.remaining} bytes left after element`);
    return v;
  }));
  return { name, mode, serializer: serializerClass, ...(values === undefined ? {} : { values }), raw };
}

function readBroadcast(stream: ResolvedStream, name: string, offsets: readonly number[], meta: StateMetaInfo, endOf: (o: number) => number): OperatorStateContent {
  const k = serializerOf(meta, 'KEY_SERIALIZER');
  const v = serializerOf(meta, 'VALUE_SERIALIZER');
  const raw = offsets.map((o) => stream.bytes.subarray(o, endOf(o)));
  const serializer = `${k?.className ?? '?'} -> ${v?.className ?? '?'}`;
  if (k === undefined || v === undefined || k.serializer.opaque === true || v.serializer.opaque === true) return { name, mode: 'BROADCAST', serializer, raw };
  const values = unlessOpaque(() => {
    const entries: unknown[] = [];
    for (const o of offsets) {
      const i = new JavaDataInput(stream.bytes, stream.file, stream.baseOffset, o, endOf(o));
      const n = i.readCount(`entries of broadcast state '${name}'`, 2);
      for (let e = 0; e < n; e++) entries.push([k.serializer.deserialize(i), v.serializer.deserialize(i)]);
      if (i.remaining !== 0) i.fail(`broadcast state '${name}': ${i.remaining} bytes left after its entries`);
    }
    return entries;
  });
  return { name, mode: 'BROADCAST', serializer, ...(values === undefined ? {} : { values }), raw };
}

/**
 * Where each element starting at one of the handle's offsets ends: at the next offset of any state,
 * or the end of the stream. Indexed once: a search of the offsets per element was quadratic in list
 * elements.
 */
function elementEnds(handle: OperatorStreamHandle, streamLength: number): (offset: number) => number {
  const bounds = [...new Set([...handle.states.flatMap((s) => s.offsets), streamLength])].sort((a, b) => a - b);
  const ends = new Map(bounds.map((b, i) => [b, bounds[i + 1] ?? streamLength]));
  return (offset) => ends.get(offset) ?? streamLength;
}

/**
 * The decoded values, or undefined when a serializer nested in the state's is opaque (the Kryo
 * field of Tuple2<KafkaTopicPartition, Long>): the state is then kept as raw bytes, like one whose
 * serializer is opaque at the top, so that it can still be written, rescaled and dropped.
 */
function unlessOpaque(decode: () => unknown[]): unknown[] | undefined {
  try {
    return decode();
  } catch (e) {
    if (e instanceof FlinkOpaqueSerializerError) return undefined;
    throw e;
  }
}
