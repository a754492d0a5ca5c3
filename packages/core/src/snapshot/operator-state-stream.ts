import { checkOperatorStateHandleStructure, malformedField, readerHandleName, untrustedHandleName } from '../checkpoint/metadata-structure.js';
import { CorruptCheckpointError, CorruptDataError, FlowstateError, UnknownFormatVersionError } from '../errors.js';
import { DataInputDeserializer } from '../io/data-input.js';
import { DataOutputSerializer } from '../io/data-output.js';
import { readSerializerSnapshot, writeSerializerSnapshot, type SerializerSnapshotRegistry } from '../serialization/snapshot-registry.js';
import type { TypeSerializerSnapshot } from '../serialization/type-serializer.js';
import { type OperatorStateDistributionMode, type OperatorStateHandle, type OperatorStateMetaEntry } from '../storage/handles.js';
import type { CheckpointStateOutputStream, StateHandleReader } from '../storage/spi.js';

/** "FSOS": flowstate operator state stream. */
export const OPERATOR_STATE_MAGIC = 0x46534f53;
export const OPERATOR_STATE_FORMAT_VERSION = 1;
const SUPPORTED = [1];

const MODE_CODES: Record<OperatorStateDistributionMode, number> = { SPLIT_DISTRIBUTE: 1, UNION: 2, BROADCAST: 3 };

export interface OperatorStateMetaInfo {
  readonly name: string;
  readonly mode: OperatorStateDistributionMode;
  /** List states: the element serializer. Broadcast states: the key serializer. */
  readonly firstSerializerSnapshot: TypeSerializerSnapshot<unknown>;
  /** Broadcast states only: the value serializer. */
  readonly secondSerializerSnapshot: TypeSerializerSnapshot<unknown> | undefined;
}

/** A state's meta info and its serialized elements (list elements, or broadcast entries). */
export interface OperatorStateContent {
  readonly meta: OperatorStateMetaInfo;
  /** List: element bytes. Broadcast: key lp + presence byte + value lp. */
  readonly elements: readonly Uint8Array[];
}

/**
 * Layout: magic u32, version u16, flags u16, varuint state count, per state its meta info; then the
 * elements of every state, each as varuint length + bytes. The handle records each element's offset
 * so that redistribution can assign elements to subtasks without reading the file.
 */
export async function writeOperatorStateStream(out: CheckpointStateOutputStream, states: readonly OperatorStateContent[]): Promise<OperatorStateHandle> {
  const h = new DataOutputSerializer(1024);
  h.writeUint32(OPERATOR_STATE_MAGIC);
  h.writeUint16(OPERATOR_STATE_FORMAT_VERSION);
  h.writeUint16(0);
  h.writeVarUint(states.length);
  for (const { meta } of states) {
    h.writeString(meta.name);
    h.writeUint8(MODE_CODES[meta.mode]);
    writeSerializerSnapshot(h, meta.firstSerializerSnapshot);
    h.writeBoolean(meta.secondSerializerSnapshot !== undefined);
    if (meta.secondSerializerSnapshot !== undefined) writeSerializerSnapshot(h, meta.secondSerializerSnapshot);
  }
  const meta: Record<string, OperatorStateMetaEntry> = {};
  for (const s of states) {
    const offsets: number[] = [];
    for (const e of s.elements) {
      offsets.push(h.length);
      h.writeLengthPrefixed(e);
    }
    meta[s.meta.name] = { mode: s.meta.mode, offsets };
  }
  await out.write(h.bytesView());
  const stream = await out.closeAndGetHandle();
  return { type: 'operator', stream, stateSize: stream.size, states: meta };
}

export interface RestoredOperatorState {
  readonly meta: OperatorStateMetaInfo;
  readonly elements: Uint8Array[];
}

/** Reads (and verifies) one operator state file, returning the elements the handle selects. */
export async function readOperatorStateStream(
  reader: StateHandleReader,
  handle: OperatorStateHandle,
  registry: SerializerSnapshotRegistry,
  checkpointId?: number,
): Promise<RestoredOperatorState[]> {
  // Backends get handles from any caller, not only from checked metadata: the same checks again.
  const untrusted = untrustedHandleName(handle);
  checkOperatorStateHandleStructure(handle, 'handle', malformedField(untrusted, 'operator state handle', checkpointId), untrusted);
  const file = readerHandleName(reader, handle);
  const bytes = await reader.readFully(handle.stream, checkpointId);
  try {
    const input: DataInputDeserializer = new DataInputDeserializer(bytes);
    const magic = input.readUint32();
    if (magic !== OPERATOR_STATE_MAGIC) input.fail(`bad magic 0x${magic.toString(16)} (not an operator state stream)`);
    const version = input.readUint16();
    if (!SUPPORTED.includes(version)) throw new UnknownFormatVersionError('operator state stream', version, SUPPORTED, file);
    const flags = input.readUint16();
    if (flags !== 0) input.fail(`unknown flags 0x${flags.toString(16)}`);
    const n = input.readLength('operator state count', 4);
    const metas = new Map<string, OperatorStateMetaInfo>();
    for (let i = 0; i < n; i++) {
      const name = input.readString();
      const code = input.readUint8();
      const mode = (Object.keys(MODE_CODES) as OperatorStateDistributionMode[]).find((m) => MODE_CODES[m] === code);
      if (mode === undefined) input.fail(`unknown distribution mode ${code} for operator state '${name}'`);
      const first = readSerializerSnapshot(input, registry);
      const second = input.readBoolean() ? readSerializerSnapshot(input, registry) : undefined;
      metas.set(name, { name, mode, firstSerializerSnapshot: first, secondSerializerSnapshot: second });
    }
    const out: RestoredOperatorState[] = [];
    for (const [name, entry] of Object.entries(handle.states)) {
      const meta = metas.get(name);
      if (meta === undefined) throw new CorruptCheckpointError(file, `handle names operator state '${name}' that the file does not contain`, checkpointId);
      const elements: Uint8Array[] = [];
      for (const off of entry.offsets) {
        if (!Number.isInteger(off) || off < input.position || off >= bytes.length) {
          throw new CorruptCheckpointError(file, `element offset ${off} of operator state '${name}' is outside the element region`, checkpointId, off);
        }
        elements.push(new DataInputDeserializer(bytes.subarray(off), off).readLengthPrefixed());
      }
      out.push({ meta, elements });
    }
    return out;
  } catch (e) {
    if (e instanceof CorruptDataError) throw new CorruptCheckpointError(file, e.detail, checkpointId, e.offset, { cause: e });
    if (e instanceof FlowstateError) throw e;
    throw new CorruptCheckpointError(file, `unexpected failure while decoding: ${(e as Error).message}`, checkpointId, undefined, { cause: e });
  }
}
