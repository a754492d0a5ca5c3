import {
  deserializeExact,
  DataOutputSerializer,
  CorruptCheckpointError,
  streamHandleName,
  wrapDecodeError as wrapCoreDecodeError,
  writeSerializerSnapshot,
  type KeyedStateMetaInfo,
  type KeyedStateStreamHeader,
  type KeyGroupsStateHandle,
  type TypeSerializer,
  type TypeSerializerSnapshot,
} from '@flowstate/core';

export function handleFile(h: KeyGroupsStateHandle): string {
  return streamHandleName(h.stream);
}

/** Rethrows anything that escaped a decoder as a typed error naming the file (and offset). */
export function wrapDecodeError(e: unknown, file: string, offset?: number): never {
  wrapCoreDecodeError(e, file, undefined, offset);
}

export function snapshotBytes(s: TypeSerializerSnapshot<unknown>): string {
  const out = new DataOutputSerializer(64);
  writeSerializerSnapshot(out, s);
  return Buffer.from(out.bytesView()).toString('hex');
}

/** The states of one operator, over all its subtasks' headers (the union, by name). */
export interface MergedKeyedHeader {
  readonly keySerializerSnapshot: TypeSerializerSnapshot<unknown>;
  readonly states: readonly KeyedStateMetaInfo[];
  /** Per input header: its state index -> index in `states`. */
  readonly indexMaps: readonly (readonly number[])[];
}

export function mergeHeaders(headers: readonly KeyedStateStreamHeader[], files: readonly string[], uid: string): MergedKeyedHeader | undefined {
  if (headers.length === 0) return undefined;
  const keySnap = headers[0]!.keySerializerSnapshot;
  const keyBytes = snapshotBytes(keySnap);
  const states: KeyedStateMetaInfo[] = [];
  const byName = new Map<string, { index: number; ns: string; st: string }>();
  const indexMaps = headers.map((h, hi) => {
    if (snapshotBytes(h.keySerializerSnapshot) !== keyBytes) {
      throw new CorruptCheckpointError(files[hi]!, `operator '${uid}': key serializer differs from the one in '${files[0]}'`);
    }
    return h.states.map((s) => {
      const ns = snapshotBytes(s.namespaceSerializerSnapshot);
      const st = snapshotBytes(s.stateSerializerSnapshot);
      const prev = byName.get(s.name);
      if (prev === undefined) {
        byName.set(s.name, { index: states.length, ns, st });
        states.push(s);
        return states.length - 1;
      }
      const p = states[prev.index]!;
      if (p.kind !== s.kind || prev.ns !== ns || prev.st !== st) {
        throw new CorruptCheckpointError(files[hi]!, `operator '${uid}': state '${s.name}' is ${s.kind} with different serializers than in another subtask (${p.kind})`);
      }
      return prev.index;
    });
  });
  return { keySerializerSnapshot: keySnap, states, indexMaps };
}

/** Deserializes exactly `bytes` (no trailing bytes); errors name the file and offset. */
export function decodeExact<T>(serializer: TypeSerializer<T>, bytes: Uint8Array, file: string, offset: number, what: string): T {
  try {
    return deserializeExact(serializer, bytes, what, offset);
  } catch (e) {
    wrapDecodeError(e, file, offset);
  }
}

