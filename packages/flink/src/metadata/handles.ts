import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import {
  HandleTag,
  OPERATOR_STATE_MODES,
  type ChangelogBackendHandle,
  type ChangelogFileHandle,
  type ChannelStateHandle,
  type HandleAndLocalPath,
  type IncrementalKeyedHandle,
  type InMemoryChangelogHandle,
  type KeyedStateHandle,
  type KeyGroupsHandle,
  type OperatorStateHandleEntry,
  type OperatorStreamHandle,
  type StreamStateHandle,
} from './types.js';

/** Handles nest (changelog handles hold keyed handles); a bound keeps hostile input from recursing deep. */
const MAX_NESTING = 8;

/** Reads handles of MetadataV2V3SerializerBase; every count is bounded by the bytes left. */
export function readStreamHandle(input: JavaDataInput, depth = 0): StreamStateHandle | null {
  const at = input.position;
  const tag = input.readUnsignedByte();
  switch (tag) {
    case HandleTag.NULL:
      return null;
    case HandleTag.BYTE_STREAM: {
      const name = input.readUTF();
      const n = input.readCount('inline state bytes');
      const metadataOffset = input.fileOffset;
      return { type: 'byte-stream', name, data: input.readBytes(n), metadataOffset };
    }
    case HandleTag.FILE: {
      const size = input.readLongAsNumber('file size');
      return { type: 'file', size, path: input.readUTF() };
    }
    case HandleTag.RELATIVE_FILE: {
      const relativePath = input.readUTF();
      return { type: 'relative-file', relativePath, size: input.readLongAsNumber('file size') };
    }
    case HandleTag.KEY_GROUPS: {
      const { startKeyGroup, offsets } = readKeyGroupOffsets(input);
      nested(input, depth);
      return { type: 'key-groups-stream', startKeyGroup, offsets, delegate: readStreamHandle(input, depth + 1) };
    }
    case HandleTag.SEGMENT_FILE: {
      const startPos = input.readLongAsNumber('segment start');
      const size = input.readLongAsNumber('segment size');
      const scope = input.readInt();
      const path = input.readUTF();
      return { type: 'segment-file', startPos, size, scope, path, logicalFileId: input.readUTF() };
    }
    case HandleTag.EMPTY_SEGMENT_FILE:
      return { type: 'empty-segment-file' };
    default:
      return input.fail(`unknown stream state handle type ${tag}`, at);
  }
}

export function writeStreamHandle(out: JavaDataOutput, h: StreamStateHandle | null): void {
  if (h === null) return out.writeByte(HandleTag.NULL);
  switch (h.type) {
    case 'byte-stream':
      out.writeByte(HandleTag.BYTE_STREAM);
      out.writeUTF(h.name);
      out.writeInt(h.data.length);
      return out.writeBytes(h.data);
    case 'file':
      out.writeByte(HandleTag.FILE);
      out.writeLong(h.size);
      return out.writeUTF(h.path);
    case 'relative-file':
      out.writeByte(HandleTag.RELATIVE_FILE);
      out.writeUTF(h.relativePath);
      return out.writeLong(h.size);
    case 'key-groups-stream':
      out.writeByte(HandleTag.KEY_GROUPS);
      writeKeyGroupOffsets(out, h.startKeyGroup, h.offsets);
      return writeStreamHandle(out, h.delegate);
    case 'segment-file':
      out.writeByte(HandleTag.SEGMENT_FILE);
      out.writeLong(h.startPos);
      out.writeLong(h.size);
      out.writeInt(h.scope);
      out.writeUTF(h.path);
      return out.writeUTF(h.logicalFileId);
    case 'empty-segment-file':
      return out.writeByte(HandleTag.EMPTY_SEGMENT_FILE);
  }
}

function nested(input: JavaDataInput, depth: number): void {
  if (depth >= MAX_NESTING) input.fail(`state handles nested deeper than ${MAX_NESTING}`);
}

function readKeyGroupOffsets(input: JavaDataInput): { startKeyGroup: number; offsets: number[] } {
  const at = input.position;
  const startKeyGroup = input.readInt();
  const n = input.readCount('number of key groups', 8);
  if (startKeyGroup < 0 || startKeyGroup + n > 32768) input.fail(`key group range [${startKeyGroup}, +${n}) outside [0, 32768)`, at);
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) offsets.push(input.readLongAsNumber('key group offset'));
  return { startKeyGroup, offsets };
}

function writeKeyGroupOffsets(out: JavaDataOutput, start: number, offsets: readonly number[]): void {
  out.writeInt(start);
  out.writeInt(offsets.length);
  for (const o of offsets) out.writeLong(o);
}

/** The range every keyed handle but KeyGroupsStateHandle writes after its tag: first key group, number of key groups. */
function writeRange(out: JavaDataOutput, h: { readonly startKeyGroup: number; readonly numKeyGroups: number }): void {
  out.writeInt(h.startKeyGroup);
  out.writeInt(h.numKeyGroups);
}

/** Java's collection layout: an i32 count, then each item. */
function writeList<T>(out: JavaDataOutput, items: readonly T[], write: (item: T) => void): void {
  out.writeInt(items.length);
  for (const x of items) write(x);
}

function readRange(input: JavaDataInput): { startKeyGroup: number; numKeyGroups: number } {
  const at = input.position;
  const startKeyGroup = input.readInt();
  const numKeyGroups = input.readInt();
  if (startKeyGroup < 0 || numKeyGroups < 0 || startKeyGroup + numKeyGroups > 32768) {
    input.fail(`key group range [${startKeyGroup}, +${numKeyGroups}) outside [0, 32768)`, at);
  }
  return { startKeyGroup, numKeyGroups };
}

function readPathList(input: JavaDataInput, depth: number): HandleAndLocalPath[] {
  const n = input.readCount('number of files', 3);
  const out: HandleAndLocalPath[] = [];
  for (let i = 0; i < n; i++) out.push({ localPath: input.readUTF(), handle: readStreamHandle(input, depth + 1) });
  return out;
}

function writePathList(out: JavaDataOutput, list: readonly HandleAndLocalPath[]): void {
  writeList(out, list, (e) => {
    out.writeUTF(e.localPath);
    writeStreamHandle(out, e.handle);
  });
}

export function readKeyedHandle(input: JavaDataInput, depth = 0): KeyedStateHandle | null {
  nested(input, depth);
  const at = input.position;
  const tag = input.readUnsignedByte();
  switch (tag) {
    case HandleTag.NULL:
      return null;
    case HandleTag.KEY_GROUPS:
    case HandleTag.KEY_GROUPS_V2:
    case HandleTag.KEY_GROUPS_SAVEPOINT:
      return readKeyGroupsHandle(input, tag, depth);
    case HandleTag.INCREMENTAL_V1:
    case HandleTag.INCREMENTAL_V2:
      return readIncrementalHandle(input, tag, depth);
    case HandleTag.CHANGELOG_V1:
    case HandleTag.CHANGELOG_V2:
      return readChangelogHandle(input, tag, depth);
    case HandleTag.CHANGELOG_IN_MEMORY:
      return readInMemoryChangelogHandle(input);
    case HandleTag.CHANGELOG_FILE_V1:
    case HandleTag.CHANGELOG_FILE_V2:
      return readChangelogFileHandle(input, tag, depth);
    default:
      return input.fail(`unknown keyed state handle type ${tag}`, at);
  }
}

/** KeyGroupsStateHandle / KeyGroupsSavepointStateHandle: offsets, the stream, and (tag 12) an id. */
function readKeyGroupsHandle(input: JavaDataInput, tag: KeyGroupsHandle['tag'], depth: number): KeyGroupsHandle {
  const { startKeyGroup, offsets } = readKeyGroupOffsets(input);
  const stream = readStreamHandle(input, depth + 1);
  const h: KeyGroupsHandle = { type: 'key-groups', tag, startKeyGroup, offsets, stream };
  return tag === HandleTag.KEY_GROUPS_V2 ? { ...h, stateHandleId: input.readUTF() } : h;
}

/** IncrementalRemoteKeyedStateHandle; v2 adds the checkpointed size and the handle id. */
function readIncrementalHandle(input: JavaDataInput, tag: IncrementalKeyedHandle['tag'], depth: number): IncrementalKeyedHandle {
  const v2 = tag === HandleTag.INCREMENTAL_V2;
  const checkpointId = input.readLong();
  const backendId = input.readUTF();
  const { startKeyGroup, numKeyGroups } = readRange(input);
  const checkpointedSize = v2 ? input.readLong() : undefined;
  const meta = readStreamHandle(input, depth + 1);
  const shared = readPathList(input, depth);
  const priv = readPathList(input, depth);
  const stateHandleId = v2 ? input.readUTF() : undefined;
  return {
    type: 'incremental', tag, checkpointId, backendId, startKeyGroup, numKeyGroups, meta, shared, private: priv,
    ...(checkpointedSize === undefined ? {} : { checkpointedSize }),
    ...(stateHandleId === undefined ? {} : { stateHandleId }),
  };
}

/** ChangelogStateBackendHandle: materialized and non-materialized keyed handles (nested). */
function readChangelogHandle(input: JavaDataInput, tag: ChangelogBackendHandle['tag'], depth: number): ChangelogBackendHandle {
  const { startKeyGroup, numKeyGroups } = readRange(input);
  const checkpointedSize = input.readLong();
  const materialized = readKeyedList(input, depth);
  const nonMaterialized = readKeyedList(input, depth);
  const materializationId = input.readLong();
  const checkpointId = tag === HandleTag.CHANGELOG_V2 ? input.readLong() : undefined;
  return {
    type: 'changelog', tag, startKeyGroup, numKeyGroups, checkpointedSize, materialized, nonMaterialized, materializationId,
    ...(checkpointId === undefined ? {} : { checkpointId }),
    stateHandleId: input.readUTF(),
  };
}

/** InMemoryChangelogStateHandle: the changes inline, per key group. */
function readInMemoryChangelogHandle(input: JavaDataInput): InMemoryChangelogHandle {
  const { startKeyGroup, numKeyGroups } = readRange(input);
  const from = input.readLong();
  const to = input.readLong();
  const n = input.readCount('number of changes', 8);
  const changes: { keyGroup: number; data: Uint8Array }[] = [];
  for (let i = 0; i < n; i++) {
    const keyGroup = input.readInt();
    changes.push({ keyGroup, data: input.readBytes(input.readCount('change bytes')) });
  }
  return { type: 'changelog-in-memory', startKeyGroup, numKeyGroups, from, to, changes, stateHandleId: input.readUTF() };
}

/** ChangelogStateHandleStreamImpl: (offset, stream handle) pairs; v2 adds the storage id. */
function readChangelogFileHandle(input: JavaDataInput, tag: ChangelogFileHandle['tag'], depth: number): ChangelogFileHandle {
  const { startKeyGroup, numKeyGroups } = readRange(input);
  const n = input.readCount('number of changelog files', 9);
  const handles: { offset: bigint; handle: StreamStateHandle | null }[] = [];
  for (let i = 0; i < n; i++) handles.push({ offset: input.readLong(), handle: readStreamHandle(input, depth + 1) });
  const size = input.readLong();
  const checkpointedSize = input.readLong();
  const stateHandleId = input.readUTF();
  const storageId = tag === HandleTag.CHANGELOG_FILE_V2 ? input.readUTF() : undefined;
  return {
    type: 'changelog-file', tag, startKeyGroup, numKeyGroups, handles, size, checkpointedSize, stateHandleId,
    ...(storageId === undefined ? {} : { storageId }),
  };
}

function readKeyedList(input: JavaDataInput, depth: number): (KeyedStateHandle | null)[] {
  const n = input.readCount('number of keyed handles');
  const out: (KeyedStateHandle | null)[] = [];
  for (let i = 0; i < n; i++) out.push(readKeyedHandle(input, depth + 1));
  return out;
}

export function writeKeyedHandle(out: JavaDataOutput, h: KeyedStateHandle | null): void {
  if (h === null) return out.writeByte(HandleTag.NULL);
  switch (h.type) {
    case 'key-groups':
      out.writeByte(h.tag);
      writeKeyGroupOffsets(out, h.startKeyGroup, h.offsets);
      writeStreamHandle(out, h.stream);
      if (h.tag === HandleTag.KEY_GROUPS_V2) out.writeUTF(h.stateHandleId ?? '');
      return;
    case 'incremental':
      out.writeByte(h.tag);
      out.writeLong(h.checkpointId);
      out.writeUTF(h.backendId);
      writeRange(out, h);
      if (h.tag === HandleTag.INCREMENTAL_V2) out.writeLong(h.checkpointedSize ?? 0n);
      writeStreamHandle(out, h.meta);
      writePathList(out, h.shared);
      writePathList(out, h.private);
      if (h.tag === HandleTag.INCREMENTAL_V2) out.writeUTF(h.stateHandleId ?? '');
      return;
    case 'changelog':
      out.writeByte(h.tag);
      writeRange(out, h);
      out.writeLong(h.checkpointedSize);
      writeList(out, h.materialized, (m) => writeKeyedHandle(out, m));
      writeList(out, h.nonMaterialized, (m) => writeKeyedHandle(out, m));
      out.writeLong(h.materializationId);
      if (h.tag === HandleTag.CHANGELOG_V2) out.writeLong(h.checkpointId ?? h.materializationId);
      return out.writeUTF(h.stateHandleId);
    case 'changelog-in-memory':
      out.writeByte(HandleTag.CHANGELOG_IN_MEMORY);
      writeRange(out, h);
      out.writeLong(h.from);
      out.writeLong(h.to);
      writeList(out, h.changes, (c) => {
        out.writeInt(c.keyGroup);
        out.writeInt(c.data.length);
        out.writeBytes(c.data);
      });
      return out.writeUTF(h.stateHandleId);
    case 'changelog-file':
      out.writeByte(h.tag);
      writeRange(out, h);
      writeList(out, h.handles, (x) => {
        out.writeLong(x.offset);
        writeStreamHandle(out, x.handle);
      });
      out.writeLong(h.size);
      out.writeLong(h.checkpointedSize);
      out.writeUTF(h.stateHandleId);
      if (h.tag === HandleTag.CHANGELOG_FILE_V2) out.writeUTF(h.storageId ?? '');
      return;
  }
}

export function readOperatorHandle(input: JavaDataInput): OperatorStreamHandle | null {
  const at = input.position;
  const tag = input.readUnsignedByte();
  if (tag === HandleTag.NULL) return null;
  if (tag !== HandleTag.OPERATOR_STREAM && tag !== HandleTag.FILE_MERGING_OPERATOR_STREAM) {
    input.fail(`unknown operator state handle type ${tag}`, at);
  }
  const n = input.readCount('number of operator states', 7);
  const states: OperatorStateHandleEntry[] = [];
  for (let i = 0; i < n; i++) {
    const name = input.readUTF();
    const modeAt = input.position;
    const mode = OPERATOR_STATE_MODES[input.readUnsignedByte()];
    if (mode === undefined) input.fail('unknown operator state distribution mode', modeAt);
    const k = input.readCount('number of offsets', 8);
    const offsets: number[] = [];
    for (let j = 0; j < k; j++) offsets.push(input.readLongAsNumber('element offset'));
    states.push({ name, mode, offsets });
  }
  if (tag === HandleTag.FILE_MERGING_OPERATOR_STREAM) {
    const taskOwnedDir = input.readUTF();
    const sharedDir = input.readUTF();
    const isEmpty = input.readBoolean();
    return { type: 'operator-stream', tag, states, fileMerging: { taskOwnedDir, sharedDir, isEmpty }, stream: readStreamHandle(input) };
  }
  return { type: 'operator-stream', tag, states, stream: readStreamHandle(input) };
}

export function writeOperatorHandle(out: JavaDataOutput, h: OperatorStreamHandle | null): void {
  if (h === null) return out.writeByte(HandleTag.NULL);
  out.writeByte(h.tag);
  out.writeInt(h.states.length);
  for (const s of h.states) {
    out.writeUTF(s.name);
    out.writeByte(OPERATOR_STATE_MODES.indexOf(s.mode));
    out.writeInt(s.offsets.length);
    for (const o of s.offsets) out.writeLong(o);
  }
  if (h.tag === HandleTag.FILE_MERGING_OPERATOR_STREAM) {
    out.writeUTF(h.fileMerging?.taskOwnedDir ?? '');
    out.writeUTF(h.fileMerging?.sharedDir ?? '');
    out.writeBoolean(h.fileMerging?.isEmpty ?? false);
  }
  writeStreamHandle(out, h.stream);
}

/** Channel state of unaligned checkpoints; V2 (metadata V6) starts with a type byte. */
export function readChannelHandle(input: JavaDataInput, v2: boolean, output: boolean): ChannelStateHandle {
  let kind: ChannelStateHandle['kind'] = output ? 'output' : 'input';
  if (v2) {
    const at = input.position;
    const t = input.readUnsignedByte();
    const kinds = { 1: 'input', 2: 'output', 3: 'merged-input', 4: 'merged-output' } as const;
    const k = kinds[t as 1 | 2 | 3 | 4];
    if (k === undefined) input.fail(`unknown channel state handle type ${t}`, at);
    kind = k;
  }
  const subtaskIndex = input.readInt();
  if (kind === 'merged-input' || kind === 'merged-output') {
    const size = input.readLong();
    const stream = readStreamHandle(input);
    const serializedOffsets = input.readBytes(input.readCount('merged channel offsets'));
    return { kind, subtaskIndex, size, stream, serializedOffsets };
  }
  const gateOrPartitionIndex = input.readInt();
  const channelIndex = input.readInt();
  const n = input.readCount('number of channel offsets', 8);
  const offsets: bigint[] = [];
  for (let i = 0; i < n; i++) offsets.push(input.readLong());
  const size = input.readLong();
  return { kind, subtaskIndex, gateOrPartitionIndex, channelIndex, offsets, size, stream: readStreamHandle(input) };
}

export function writeChannelHandle(out: JavaDataOutput, h: ChannelStateHandle, v2: boolean): void {
  if (v2) out.writeByte({ input: 1, output: 2, 'merged-input': 3, 'merged-output': 4 }[h.kind]);
  out.writeInt(h.subtaskIndex);
  if (h.kind === 'merged-input' || h.kind === 'merged-output') {
    out.writeLong(h.size);
    writeStreamHandle(out, h.stream);
    const b = h.serializedOffsets ?? new Uint8Array(0);
    out.writeInt(b.length);
    return out.writeBytes(b);
  }
  out.writeInt(h.gateOrPartitionIndex ?? 0);
  out.writeInt(h.channelIndex ?? 0);
  const offs = h.offsets ?? [];
  out.writeInt(offs.length);
  for (const o of offs) out.writeLong(o);
  out.writeLong(h.size);
  writeStreamHandle(out, h.stream);
}
