/**
 * The model of Flink's `_metadata` (runtime/checkpoint/metadata): operator states, subtask states
 * and every state handle type. Handles keep every field Flink serializes, so a writer can emit
 * them back byte for byte.
 */

/** Handle type tags of MetadataV2V3SerializerBase. */
export const HandleTag = {
  NULL: 0,
  BYTE_STREAM: 1,
  FILE: 2,
  KEY_GROUPS: 3,
  OPERATOR_STREAM: 4,
  INCREMENTAL_V1: 5,
  RELATIVE_FILE: 6,
  KEY_GROUPS_SAVEPOINT: 7,
  CHANGELOG_V1: 8,
  CHANGELOG_IN_MEMORY: 9,
  CHANGELOG_FILE_V1: 10,
  INCREMENTAL_V2: 11,
  KEY_GROUPS_V2: 12,
  CHANGELOG_FILE_V2: 13,
  CHANGELOG_V2: 14,
  SEGMENT_FILE: 15,
  EMPTY_SEGMENT_FILE: 16,
  FILE_MERGING_OPERATOR_STREAM: 17,
} as const;

export interface ByteStreamHandle {
  readonly type: 'byte-stream';
  readonly name: string;
  readonly data: Uint8Array;
  /** Offset of data[0] in the `_metadata` file (for error messages of streams read from it). */
  readonly metadataOffset: number;
}
export interface FileHandle {
  readonly type: 'file';
  readonly size: number;
  /** Absolute path or URI, as Flink wrote it. */
  readonly path: string;
}
export interface RelativeFileHandle {
  readonly type: 'relative-file';
  /** Relative to the directory of `_metadata`. */
  readonly relativePath: string;
  readonly size: number;
}
export interface SegmentFileHandle {
  readonly type: 'segment-file';
  readonly startPos: number;
  readonly size: number;
  readonly scope: number;
  readonly path: string;
  readonly logicalFileId: string;
}
export interface EmptySegmentFileHandle {
  readonly type: 'empty-segment-file';
}
/** A KeyGroupsStateHandle (tag 3) used where a stream handle is expected (legacy). */
export interface KeyGroupsStreamHandle {
  readonly type: 'key-groups-stream';
  readonly startKeyGroup: number;
  readonly offsets: readonly number[];
  readonly delegate: StreamStateHandle | null;
}
export type StreamStateHandle = ByteStreamHandle | FileHandle | RelativeFileHandle | SegmentFileHandle | EmptySegmentFileHandle | KeyGroupsStreamHandle;

export type KeyGroupsHandleTag = 3 | 7 | 12;
/** KeyGroupsStateHandle (3 legacy, 12 with id) and KeyGroupsSavepointStateHandle (7, canonical). */
export interface KeyGroupsHandle {
  readonly type: 'key-groups';
  readonly tag: KeyGroupsHandleTag;
  readonly startKeyGroup: number;
  /** One offset per key group of [start, start + offsets.length); 0 = empty (canonical). */
  readonly offsets: readonly number[];
  readonly stream: StreamStateHandle | null;
  /** Tag 12 only. */
  readonly stateHandleId?: string;
}
export interface HandleAndLocalPath {
  readonly localPath: string;
  readonly handle: StreamStateHandle | null;
}
/** IncrementalRemoteKeyedStateHandle (RocksDB native/incremental): tag 5 (v1) or 11 (v2). */
export interface IncrementalKeyedHandle {
  readonly type: 'incremental';
  readonly tag: 5 | 11;
  readonly checkpointId: bigint;
  readonly backendId: string;
  readonly startKeyGroup: number;
  readonly numKeyGroups: number;
  readonly checkpointedSize?: bigint;
  readonly meta: StreamStateHandle | null;
  readonly shared: readonly HandleAndLocalPath[];
  readonly private: readonly HandleAndLocalPath[];
  readonly stateHandleId?: string;
}
export interface ChangelogBackendHandle {
  readonly type: 'changelog';
  readonly tag: 8 | 14;
  readonly startKeyGroup: number;
  readonly numKeyGroups: number;
  readonly checkpointedSize: bigint;
  readonly materialized: readonly (KeyedStateHandle | null)[];
  readonly nonMaterialized: readonly (KeyedStateHandle | null)[];
  readonly materializationId: bigint;
  readonly checkpointId?: bigint;
  readonly stateHandleId: string;
}
export interface InMemoryChangelogHandle {
  readonly type: 'changelog-in-memory';
  readonly startKeyGroup: number;
  readonly numKeyGroups: number;
  readonly from: bigint;
  readonly to: bigint;
  readonly changes: readonly { readonly keyGroup: number; readonly data: Uint8Array }[];
  readonly stateHandleId: string;
}
export interface ChangelogFileHandle {
  readonly type: 'changelog-file';
  readonly tag: 10 | 13;
  readonly startKeyGroup: number;
  readonly numKeyGroups: number;
  readonly handles: readonly { readonly offset: bigint; readonly handle: StreamStateHandle | null }[];
  readonly size: bigint;
  readonly checkpointedSize: bigint;
  readonly stateHandleId: string;
  readonly storageId?: string;
}
export type KeyedStateHandle = KeyGroupsHandle | IncrementalKeyedHandle | ChangelogBackendHandle | InMemoryChangelogHandle | ChangelogFileHandle;

export const OPERATOR_STATE_MODES = ['SPLIT_DISTRIBUTE', 'UNION', 'BROADCAST'] as const;
export type OperatorStateMode = (typeof OPERATOR_STATE_MODES)[number];

export interface OperatorStateHandleEntry {
  readonly name: string;
  readonly mode: OperatorStateMode;
  readonly offsets: readonly number[];
}
/** OperatorStreamStateHandle (tag 4) or FileMergingOperatorStreamStateHandle (tag 17). */
export interface OperatorStreamHandle {
  readonly type: 'operator-stream';
  readonly tag: 4 | 17;
  readonly states: readonly OperatorStateHandleEntry[];
  readonly stream: StreamStateHandle | null;
  readonly fileMerging?: { readonly taskOwnedDir: string; readonly sharedDir: string; readonly isEmpty: boolean };
}

/** Unaligned-checkpoint channel state (V1 layout; V2 in metadata V6 adds a type byte and merged handles). */
export interface ChannelStateHandle {
  readonly kind: 'input' | 'output' | 'merged-input' | 'merged-output';
  readonly subtaskIndex: number;
  readonly gateOrPartitionIndex?: number;
  readonly channelIndex?: number;
  readonly offsets?: readonly bigint[];
  readonly size: bigint;
  readonly stream: StreamStateHandle | null;
  /** Merged handles: the serialized offsets blob. */
  readonly serializedOffsets?: Uint8Array;
}

export interface SubtaskState {
  readonly index: number;
  /** V3+: a finished subtask (negative index on disk); it has no state. */
  readonly finished: boolean;
  readonly managedOperatorState: OperatorStreamHandle | null;
  readonly rawOperatorState: OperatorStreamHandle | null;
  readonly managedKeyedState: KeyedStateHandle | null;
  readonly rawKeyedState: KeyedStateHandle | null;
  readonly inputChannelState: readonly ChannelStateHandle[];
  readonly resultSubpartitionState: readonly ChannelStateHandle[];
  /** V2: duration field (ignored by Flink). */
  readonly legacyDuration?: bigint;
  /** The i32 "has managed / raw operator state" flags as read (kept for byte-exact writing). */
  readonly operatorStateFlags?: readonly [number, number];
}

export interface OperatorState {
  /** V5+: operator name ("" = none on disk). */
  readonly name?: string;
  /** V5+: operator uid ("" = none on disk). */
  readonly uid?: string;
  /** 16 bytes, hex. With a uid, murmur3_128 of it. */
  readonly operatorId: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly coordinatorState: StreamStateHandle | null;
  /** true when the operator is fully finished (V3+, subtask count -1). */
  readonly fullyFinished: boolean;
  readonly subtasks: readonly SubtaskState[];
  /** V2: the chain length field (always 1). */
  readonly legacyChainLength?: number;
}

export interface MasterState {
  readonly name: string;
  readonly version: number;
  readonly data: Uint8Array;
}

export interface FlinkCheckpointMetadata {
  readonly version: number;
  readonly checkpointId: bigint;
  readonly masterStates: readonly MasterState[];
  readonly operators: readonly OperatorState[];
  /** V4+: the Java-serialized CheckpointProperties, raw (kept for byte-exact writing). */
  readonly propertiesBytes?: Uint8Array;
  /** Offset of propertiesBytes in the file. */
  readonly propertiesOffset?: number;
}
