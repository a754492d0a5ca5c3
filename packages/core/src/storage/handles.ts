/**
 * State handles: plain, serializable descriptions of checkpointed bytes, with sizes and checksums.
 * They are data, not objects with behaviour: reading one needs the StateHandleReader of the
 * storage (or savepoint directory) it belongs to, because file paths are relative to that root.
 */
import { crc32c } from '../checksum.js';

/** A file in checkpoint storage, path relative to the storage root. */
export interface FileStateHandle {
  readonly type: 'file';
  readonly path: string;
  readonly size: number;
  /** CRC32C of the whole file. */
  readonly checksum: number;
}

/** Bytes kept inline in the handle (Flink's ByteStreamStateHandle), used by in-memory storage. */
export interface ByteStreamStateHandle {
  readonly type: 'bytes';
  readonly name: string;
  readonly data: Uint8Array;
  readonly size: number;
  readonly checksum: number;
}

export type StreamStateHandle = FileStateHandle | ByteStreamStateHandle;

export interface KeyGroupRangeJSON {
  readonly start: number;
  readonly end: number;
}

/** Anything that holds keyed state for a range of key groups. */
export interface KeyedStateHandle {
  readonly type: string;
  readonly keyGroupRange: KeyGroupRangeJSON;
  /** Total bytes this handle references. */
  readonly stateSize: number;
}

/**
 * The canonical, backend-independent keyed state stream (see docs/savepoint-format.md): a header
 * with the states' meta info, then one block per key group. Offsets and checksums per block let a
 * restore at another parallelism read and verify only the key groups it owns.
 */
export interface KeyGroupsStateHandle extends KeyedStateHandle {
  readonly type: 'key-groups';
  readonly stream: StreamStateHandle;
  readonly headerLength: number;
  readonly headerChecksum: number;
  /** numberOfKeyGroups + 1 entries: block i is [offsets[i], offsets[i+1]). */
  readonly keyGroupOffsets: readonly number[];
  /** CRC32C of each key group block. */
  readonly keyGroupChecksums: readonly number[];
}

export type OperatorStateDistributionMode = 'SPLIT_DISTRIBUTE' | 'UNION' | 'BROADCAST';

export interface OperatorStateMetaEntry {
  readonly mode: OperatorStateDistributionMode;
  /** Offsets of the state's elements (list elements, or broadcast map entries) in the stream. */
  readonly offsets: readonly number[];
}

/** Operator state of one subtask (or, after redistribution, the part assigned to one subtask). */
export interface OperatorStateHandle {
  readonly type: 'operator';
  readonly stream: StreamStateHandle;
  readonly stateSize: number;
  readonly states: Readonly<Record<string, OperatorStateMetaEntry>>;
}

/** An inline handle holding `data` (not copied: the handle owns it from now on), with its CRC32C. */
export function byteStreamStateHandle(name: string, data: Uint8Array, checksum: number = crc32c(data)): ByteStreamStateHandle {
  return { type: 'bytes', name, data, size: data.length, checksum };
}

export function streamHandleName(h: StreamStateHandle): string {
  return h.type === 'file' ? h.path : `inline:${h.name}`;
}

export function isKeyGroupsStateHandle(h: KeyedStateHandle): h is KeyGroupsStateHandle {
  return h.type === 'key-groups';
}
