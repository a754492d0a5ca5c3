import { UnknownFormatVersionError } from '@flowstate/core';
import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import { writeProxiedSnapshot, type FlinkSerializerRegistry } from '../serializers/registry.js';
import type { FlinkSerializerSnapshot } from '../serializers/types.js';
import { readStateMetaInfo, readStateMetaInfos, writeStateMetaInfo, type StateMetaInfo } from './meta-info.js';

/** KeyedBackendSerializationProxy.VERSION: the only version Flink >= 1.17 reads. */
export const KEYED_PROXY_VERSION = 6;

/** The header of every keyed state stream (canonical, heap-native, RocksDB-native meta). */
export interface KeyedStreamHeader {
  readonly version: number;
  /** Key-group blocks are Snappy-framed streams. */
  readonly compression: boolean;
  readonly keySerializer: FlinkSerializerSnapshot;
  /** The i-th entry has kvStateId i. */
  readonly states: readonly StateMetaInfo[];
  /** Bytes of the header. */
  readonly length: number;
}

/** `headerEnd` (where the stream's key groups begin, when known) lets unknown user snapshots of states be carried opaquely. */
export function readKeyedHeader(input: JavaDataInput, registry: FlinkSerializerRegistry, headerEnd?: number): KeyedStreamHeader {
  const start = input.position;
  const version = input.readInt();
  if (version !== KEYED_PROXY_VERSION) throw new UnknownFormatVersionError('Flink keyed state stream (KeyedBackendSerializationProxy)', version, [KEYED_PROXY_VERSION], input.file);
  const compression = input.readBoolean();
  const keySerializer = registry.readProxied(input);
  const n = input.readShort();
  if (n < 0) input.fail(`negative number of states ${n}`, input.position - 2);
  const states = readStateMetaInfos(input, registry, n, headerEnd);
  return { version, compression, keySerializer, states, length: input.position - start };
}

export function writeKeyedHeader(out: JavaDataOutput, h: Omit<KeyedStreamHeader, 'length'>): void {
  out.writeInt(h.version);
  out.writeBoolean(h.compression);
  writeProxiedSnapshot(out, h.keySerializer);
  out.writeShort(h.states.length);
  for (const s of h.states) writeStateMetaInfo(out, s);
}

/** OperatorBackendSerializationProxy: version 5 (Flink 1.7-1.17) or 6 (1.18+, with a compression flag). */
export interface OperatorStreamHeader {
  readonly version: number;
  readonly compression: boolean;
  readonly operatorStates: readonly StateMetaInfo[];
  readonly broadcastStates: readonly StateMetaInfo[];
  readonly length: number;
}

export const OPERATOR_PROXY_VERSIONS = [5, 6] as const;

export function readOperatorHeader(input: JavaDataInput, registry: FlinkSerializerRegistry): OperatorStreamHeader {
  const start = input.position;
  const version = input.readInt();
  if (version !== 5 && version !== 6) throw new UnknownFormatVersionError('Flink operator state stream (OperatorBackendSerializationProxy)', version, [...OPERATOR_PROXY_VERSIONS], input.file);
  const compression = version >= 6 ? input.readBoolean() : false;
  const readList = (): StateMetaInfo[] => {
    const n = input.readShort();
    if (n < 0) input.fail(`negative number of states ${n}`, input.position - 2);
    const out: StateMetaInfo[] = [];
    for (let i = 0; i < n; i++) out.push(readStateMetaInfo(input, registry));
    return out;
  };
  const operatorStates = readList();
  const broadcastStates = readList();
  return { version, compression, operatorStates, broadcastStates, length: input.position - start };
}

export function writeOperatorHeader(out: JavaDataOutput, h: Omit<OperatorStreamHeader, 'length'>): void {
  out.writeInt(h.version);
  if (h.version >= 6) out.writeBoolean(h.compression);
  for (const list of [h.operatorStates, h.broadcastStates]) {
    out.writeShort(list.length);
    for (const s of list) writeStateMetaInfo(out, s);
  }
}
