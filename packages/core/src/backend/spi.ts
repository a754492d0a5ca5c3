import type { StateLatencyTrackingOptions } from '../state/latency-tracking.js';
import type { KeyGroupRange } from '../keygroups/key-group-range.js';
import type { SerializerSnapshotRegistry } from '../serialization/snapshot-registry.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';
import type { StateDescriptor } from '../state/descriptors.js';
import type { KeyGroupedInternalPriorityQueue, PriorityQueueElementType } from '../state/priority-queue.js';
import type { BroadcastState, InternalKvState, ListState, State } from '../state/state.js';
import type { ListStateDescriptor, MapStateDescriptor } from '../state/descriptors.js';
import type { KeyedStateHandle, OperatorStateHandle } from '../storage/handles.js';
import type { TtlTimeProvider } from '../state/ttl.js';
import type { CheckpointStreamFactory, StateHandleReader } from '../storage/spi.js';

/** Checkpoint or savepoint; savepoints are always written in the canonical format unless NATIVE is asked for. */
export interface CheckpointOptions {
  readonly checkpointType: 'CHECKPOINT' | 'SAVEPOINT';
  /** CANONICAL: the backend-independent key-group stream. NATIVE: the backend's own files. */
  readonly formatType?: 'CANONICAL' | 'NATIVE';
}

export const CHECKPOINT: CheckpointOptions = Object.freeze({ checkpointType: 'CHECKPOINT' });
export const SAVEPOINT: CheckpointOptions = Object.freeze({ checkpointType: 'SAVEPOINT', formatType: 'CANONICAL' });

/** What a finished snapshot produced (Flink's SnapshotResult, without task-local state). */
export interface SnapshotResult<H> {
  /** null when there was nothing to snapshot. */
  readonly jobManagerOwnedSnapshot: H | null;
  /** Bytes this checkpoint uploaded (incremental checkpoints upload less than their full size). */
  readonly checkpointedSize: number;
  /** Bytes of all files the handle references. */
  readonly fullSize: number;
}

/**
 * A snapshot whose synchronous part has already run. The asynchronous part (serialization and
 * upload) runs while processing continues; `result` settles when it is done.
 */
export interface SnapshotFuture<H> {
  readonly checkpointId: number;
  readonly result: Promise<SnapshotResult<H>>;
  /** Milliseconds the synchronous part blocked the caller. */
  readonly syncDurationMs: number;
  /**
   * Stops the asynchronous part (as aborting the signal given to snapshot() does): unless it had
   * already finished, `result` rejects with SnapshotCancelledError once the files it wrote are deleted.
   */
  cancel(): void;
}

export interface Snapshotable<H> {
  /**
   * Runs the synchronous part now and returns the running asynchronous part. Aborting `signal`
   * cancels the snapshot like SnapshotFuture.cancel(); a signal aborted before the call skips it.
   */
  snapshot(checkpointId: number, timestamp: number, streamFactory: CheckpointStreamFactory, options: CheckpointOptions, signal?: AbortSignal): SnapshotFuture<H>;
  notifyCheckpointComplete(checkpointId: number): void;
  notifyCheckpointAborted(checkpointId: number): void;
}

export type KeyedStateOf<S extends State, N> = S & InternalKvState<N>;

/** Keyed state of one subtask for one operator (Flink's CheckpointableKeyedStateBackend). */
export interface KeyedStateBackend<K> extends Snapshotable<KeyedStateHandle> {
  readonly keySerializer: TypeSerializer<K>;
  readonly keyGroupRange: KeyGroupRange;
  /** maxParallelism. */
  readonly maxParallelism: number;

  /** Sets the key that keyed state accesses refer to; the key must belong to this backend's key groups. */
  setCurrentKey(key: K): void;
  getCurrentKey(): K;
  getCurrentKeyGroupIndex(): number;

  /** The state for `descriptor`, bound to `namespace`; created on first use. */
  getPartitionedState<N, S extends State, V>(namespace: N, namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>): KeyedStateOf<S, N>;

  /**
   * The state object with a switchable namespace (call setCurrentNamespace). List, reducing and
   * aggregating states also implement InternalMergingState.mergeNamespaces.
   */
  getOrCreateKeyedState<N, S extends State, V>(namespaceSerializer: TypeSerializer<N>, descriptor: StateDescriptor<S, V>): KeyedStateOf<S, N>;

  /** Keys with a value in `namespace` for the named state. */
  getKeys<N>(stateName: string, namespace: N): K[];
  getKeysAndNamespaces<N>(stateName: string): Array<[K, N]>;

  /** Calls `fn` for every key with state in `namespace`; `fn` may modify or clear state. */
  applyToAllKeys<N, S extends State, V>(
    namespace: N,
    namespaceSerializer: TypeSerializer<N>,
    descriptor: StateDescriptor<S, V>,
    fn: (key: K, state: S) => void,
  ): void;

  /**
   * The priority queue (timers) called `stateName`, created on first call; the same name returns
   * the same queue. A restored queue gets its elements on the first call. Snapshotted, restored and
   * rescaled with the key groups; the name must not be a keyed state's.
   */
  createPriorityQueue<T>(stateName: string, elementType: PriorityQueueElementType<K, T>): KeyGroupedInternalPriorityQueue<T>;

  /** Number of (key, namespace) entries over all states. */
  numKeyValueStateEntries(): number;
  /**
   * Runs the incremental TTL cleanup of every state configured with
   * `cleanup.incremental.runCleanupForEveryRecord` (Flink runs it on each record): a runtime calls
   * it once per record processed. A no-op when no state asks for it.
   */
  runIncrementalTtlCleanup?(): void;
  /** Counters of the TTL cleanup strategies (for tests and diagnostics). */
  ttlCleanupStatistics?(): TtlCleanupStatistics;
  getRegisteredStateNames(): string[];
  dispose(): void;
}

/** Operator (non-keyed) state of one subtask. */
export interface OperatorStateBackend extends Snapshotable<OperatorStateHandle> {
  /** Redistributed by even split when parallelism changes. */
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  /** Every subtask receives the union of all subtasks' lists on restore. */
  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  /** Identical on every subtask; replicated on restore. */
  getBroadcastState<K, V>(descriptor: MapStateDescriptor<K, V>): BroadcastState<K, V>;
  getRegisteredStateNames(): string[];
  getRegisteredBroadcastStateNames(): string[];
  dispose(): void;
}

/** What the TTL cleanup strategies of a keyed backend did so far. */
export interface TtlCleanupStatistics {
  /** Entries (heap: (key, namespace) entries; KV: rows) the incremental cleanup examined. */
  readonly incrementalEntriesExamined: number;
  /** Rows the periodic sweep (KV backends) examined. */
  readonly sweepEntriesExamined: number;
  /** Entries (or list elements) the background strategies removed: incremental cleanup and sweeps. */
  readonly expiredRemoved: number;
}

export interface KeyedStateBackendParameters<K> {
  /** Identifies the operator in messages and file names. */
  readonly operatorIdentifier: string;
  readonly keySerializer: TypeSerializer<K>;
  /** maxParallelism. */
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /**
   * Handles to restore from, possibly of several old subtasks after rescaling: the backend takes
   * the key groups that intersect its range and ignores the rest.
   */
  readonly restoreState?: readonly KeyedStateHandle[];
  /** Reads the restore handles; required when restoreState is not empty. */
  readonly stateHandleReader?: StateHandleReader;
  /** Resolves serializer snapshots on restore; defaults to the built-in registry. */
  readonly serializerRegistry?: SerializerSnapshotRegistry;
  /** Cancels the restore: checked between handles and key groups; the backend is released and RestoreCancelledError thrown. */
  readonly signal?: AbortSignal;
  /** Local working directory for backends that keep state on disk. */
  readonly localDirectory?: string;
  /** Sampled state access latencies (Flink's state.latency-track); off when absent. */
  readonly stateLatencyTracking?: StateLatencyTrackingOptions;
  /** The clock of processing-time TTL (default: the wall clock). Tests pass a controllable one. */
  readonly ttlTimeProvider?: TtlTimeProvider;
  /**
   * The clock of event-time TTL: the operator's current watermark, supplied by the runtime.
   * Registering a state with event-time TTL without it is an IllegalStateUsageError.
   */
  readonly ttlWatermarkProvider?: TtlTimeProvider;
}

export interface OperatorStateBackendParameters {
  readonly operatorIdentifier: string;
  /** Cancels the restore (see KeyedStateBackendParameters.signal). */
  readonly signal?: AbortSignal;
  /** Handles already assigned to this subtask (see OperatorStateRepartitioner). */
  readonly restoreState?: readonly OperatorStateHandle[];
  readonly stateHandleReader?: StateHandleReader;
  readonly serializerRegistry?: SerializerSnapshotRegistry;
}

/** A state backend: a factory of keyed and operator state backends for subtasks. */
export interface StateBackend {
  readonly name: string;
  /** False when snapshots do all their work in the synchronous part. */
  readonly supportsAsynchronousSnapshots: boolean;
  createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>>;
  createOperatorStateBackend(parameters: OperatorStateBackendParameters): Promise<OperatorStateBackend>;
}
