import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import { writeProxiedSnapshot, type FlinkSerializerRegistry } from '../serializers/registry.js';
import type { FlinkSerializerSnapshot } from '../serializers/types.js';

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

/** StateMetaInfoSnapshotReadersWriters (version 6+): UTF name, i32 type, options, serializer snapshots. */
export function readStateMetaInfo(input: JavaDataInput, registry: FlinkSerializerRegistry): StateMetaInfo {
  const name = input.readUTF();
  const at = input.position;
  const backendStateType = BACKEND_STATE_TYPES[input.readInt()];
  if (backendStateType === undefined) input.fail(`unknown backend state type of state '${name}'`, at);
  const nOptions = input.readCount('number of state options', 4);
  const options: [string, string][] = [];
  for (let i = 0; i < nOptions; i++) options.push([input.readUTF(), input.readUTF()]);
  const nSer = input.readCount('number of serializer snapshots', 8);
  const serializers: [string, FlinkSerializerSnapshot][] = [];
  for (let i = 0; i < nSer; i++) serializers.push([input.readUTF(), registry.readProxied(input)]);
  return { name, backendStateType, options, serializers };
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
