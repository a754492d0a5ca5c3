import { corrupt } from '../errors.js';
import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import { writeProxiedSnapshot, type FlinkSerializerRegistry } from '../serializers/registry.js';
import type { FlinkSerializerSnapshot } from '../serializers/types.js';
import { readOrCarry } from './opaque-snapshot.js';

/** StateMetaInfoSnapshot.BackendStateType, by ordinal. */
export const BACKEND_STATE_TYPES = ['KEY_VALUE', 'OPERATOR', 'BROADCAST', 'PRIORITY_QUEUE', 'KEY_VALUE_V2'] as const;
export type BackendStateType = (typeof BACKEND_STATE_TYPES)[number];

/** One state's meta info (StateMetaInfoSnapshot): name, type, options and serializer snapshots, in stream order. */
export interface StateMetaInfo {
  readonly name: string;
  readonly backendStateType: BackendStateType;
  readonly options: readonly (readonly [string, string])[];
  readonly serializers: readonly (readonly [string, FlinkSerializerSnapshot])[];
}

export function option(m: StateMetaInfo, key: string): string | undefined {
  return m.options.find(([k]) => k === key)?.[1];
}

export function serializerOf(m: StateMetaInfo, key: 'KEY_SERIALIZER' | 'NAMESPACE_SERIALIZER' | 'VALUE_SERIALIZER' | 'USER_KEY_SERIALIZER'): FlinkSerializerSnapshot | undefined {
  return m.serializers.find(([k]) => k === key)?.[1];
}

/** VALUE, LIST, MAP, REDUCING, AGGREGATING (keyed), PRIORITY_QUEUE, or the operator distribution mode. */
export function stateKind(m: StateMetaInfo): string {
  if (m.backendStateType === 'PRIORITY_QUEUE') return 'PRIORITY_QUEUE';
  if (m.backendStateType === 'BROADCAST') return 'BROADCAST';
  if (m.backendStateType === 'OPERATOR') return option(m, 'OPERATOR_STATE_DISTRIBUTION_MODE') ?? 'OPERATOR';
  return option(m, 'KEYED_STATE_TYPE') ?? 'UNKNOWN';
}

/** The VALUE_SERIALIZER snapshot class Flink's List/MapStateDescriptor give LIST and MAP states (they wrap the element serializers). */
const COLLECTION_SNAPSHOTS: Readonly<Record<string, string>> = {
  LIST: 'org.apache.flink.api.common.typeutils.base.ListSerializerSnapshot',
  MAP: 'org.apache.flink.api.common.typeutils.base.MapSerializerSnapshot',
};

/**
 * Why a LIST or MAP state's meta info contradicts itself, or undefined: its VALUE_SERIALIZER is a
 * readable snapshot of another class, so its records cannot be what its kind says (Flink could not
 * restore the state either). An opaque serializer is unverifiable, not contradictory; KEY_VALUE_V2
 * states (state API v2) carry their user serializers otherwise and are not checked.
 */
export function collectionSerializerMismatch(m: StateMetaInfo): string | undefined {
  const kind = stateKind(m);
  const expected = COLLECTION_SNAPSHOTS[kind];
  const value = serializerOf(m, 'VALUE_SERIALIZER');
  if (m.backendStateType !== 'KEY_VALUE' || expected === undefined || value === undefined || value.serializer.opaque === true) return undefined;
  if (value.className === expected) return undefined;
  return `state '${m.name}' is a ${kind} state but its VALUE_SERIALIZER is ${value.className}, not ${expected.replace(/^.*\./, '')}`;
}

/**
 * A keyed stream's header whose meta info contradicts itself (collectionSerializerMismatch) is
 * corrupt, whether or not the state has records: checked once per header by convert and validate
 * (the decoder's own check sees only states with records). `file` and `offset` name the header.
 */
export function checkKeyedStateMetaInfos(states: readonly StateMetaInfo[], file: string, offset: number): void {
  for (const m of states) {
    const contradiction = collectionSerializerMismatch(m);
    if (contradiction !== undefined) throw corrupt(file, offset, `keyed state header: ${contradiction}`);
  }
}

/** StateMetaInfoSnapshotReadersWriters (version 6+): UTF name, i32 type, options, serializer snapshots. */
export function readStateMetaInfo(input: JavaDataInput, registry: FlinkSerializerRegistry): StateMetaInfo {
  return readStateMetaInfos(input, registry, 1)[0]!;
}

/**
 * `n` meta infos in a row. With `headerEnd` (where the stream's header ends), a serializer snapshot
 * of a class without reader is carried as opaque bytes (readOrCarry), so that the state can still be
 * walked, rewritten and rescaled; decoding its values then names the state and the class.
 */
export function readStateMetaInfos(input: JavaDataInput, registry: FlinkSerializerRegistry, n: number, headerEnd?: number): StateMetaInfo[] {
  const states: StateMetaInfo[] = [];
  for (let i = 0; i < n; i++) {
    const name = input.readUTF();
    const head = readHead(input, name);
    const nSer = input.readCount('number of serializer snapshots', 8);
    const serializers: [string, FlinkSerializerSnapshot][] = [];
    for (let j = 0; j < nSer; j++) {
      const key = input.readUTF();
      // After an unknown snapshot: the other serializers of this state, then the other states
      // (without headerEnd: one opaque class per header).
      const rest = () => ({ more: readSerializers(input, registry, nSer - j - 1), tail: readStateMetaInfos(input, registry, n - i - 1) });
      const r = readOrCarry(input, headerEnd, () => registry.readProxied(input), rest);
      serializers.push([key, r.snapshot]);
      if (r.rest !== undefined) return [...states, { name, ...head, serializers: [...serializers, ...r.rest.more] }, ...r.rest.tail];
    }
    states.push({ name, ...head, serializers });
  }
  return states;
}

function readSerializers(input: JavaDataInput, registry: FlinkSerializerRegistry, n: number): [string, FlinkSerializerSnapshot][] {
  const out: [string, FlinkSerializerSnapshot][] = [];
  for (let i = 0; i < n; i++) out.push([input.readUTF(), registry.readProxied(input)]);
  return out;
}

function readHead(input: JavaDataInput, name: string): Pick<StateMetaInfo, 'backendStateType' | 'options'> {
  const at = input.position;
  const backendStateType = BACKEND_STATE_TYPES[input.readInt()];
  if (backendStateType === undefined) input.fail(`unknown backend state type of state '${name}'`, at);
  const nOptions = input.readCount('number of state options', 4);
  const options: [string, string][] = [];
  for (let i = 0; i < nOptions; i++) options.push([input.readUTF(), input.readUTF()]);
  return { backendStateType, options };
}

export function writeStateMetaInfo(out: JavaDataOutput, m: StateMetaInfo): void {
  out.writeUTF(m.name);
  out.writeInt(BACKEND_STATE_TYPES.indexOf(m.backendStateType));
  out.writeInt(m.options.length);
  for (const [k, v] of m.options) {
    out.writeUTF(k);
    out.writeUTF(v);
  }
  out.writeInt(m.serializers.length);
  for (const [k, s] of m.serializers) {
    out.writeUTF(k);
    writeProxiedSnapshot(out, s);
  }
}
