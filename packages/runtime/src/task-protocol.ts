import type { CheckpointingMode, KeyedStateHandle, OperatorStateHandle, StreamStateHandle } from '@flowstate/core';
import type { Channel } from './channel.js';
import type { InflightRecords } from './channel-state.js';
import type { Partitioner } from './graph.js';

export type { CheckpointingMode };

/** Identifies a subtask in hooks and stats. */
export interface TaskInfo {
  readonly uid: string;
  readonly subtaskIndex: number;
  readonly attempt: number;
  readonly name: string;
}

/**
 * Points where a test may make a task fail (by throwing). The runtime calls them at exactly
 * these places, so a fault plan can name "the 137th record of map#1" or "checkpoint 3's barrier
 * at sink#0, before its snapshot".
 */
export interface RuntimeHooks {
  /** Before a task processes (or a source emits) a record; `n` counts records in this attempt. */
  onRecord?(task: TaskInfo, n: number): void;
  /**
   * Before a task emits a record; `n` counts emitted records in this attempt. Throwing here fails
   * the task in the middle of processing a record: its state is already updated, its output only
   * partly emitted.
   */
  onEmit?(task: TaskInfo, n: number): void;
  /** The barrier arrived (aligned: all barriers), the snapshot has not started. */
  beforeSnapshot?(task: TaskInfo, checkpointId: number): void;
  /** The checkpoint completed; the task is about to run notifyCheckpointComplete (sinks commit here). */
  beforeNotifyComplete?(task: TaskInfo, checkpointId: number): void;
  /** An execution attempt starts deploying (before any state is read). */
  onAttemptStart?(attempt: number): void;
  /** The task's state backends were restored; its operator is not open yet. */
  onRestore?(task: TaskInfo): void;
}

export interface TaskCheckpointStats {
  readonly task: string;
  /** Trigger to the first barrier reaching this task: how long barriers queued behind records. */
  readonly startDelayMs: number;
  readonly syncDurationMs: number;
  readonly asyncDurationMs: number;
  readonly alignmentDurationMs: number;
  readonly checkpointedSize: number;
  readonly fullSize: number;
  /** Bytes processed between the first and the last barrier of an aligned checkpoint (extrapolated from sampled record sizes). */
  readonly processedInflightBytes: number;
  /** Bytes of in-flight records an unaligned checkpoint persisted as channel state. */
  readonly persistedInflightBytes: number;
  readonly unaligned: boolean;
}

export interface TaskAck {
  readonly uid: string;
  readonly subtaskIndex: number;
  readonly keyed: KeyedStateHandle | null;
  readonly operator: OperatorStateHandle | null;
  readonly channelState: StreamStateHandle | null;
  /** The subtask had finished its input (endInput and finish ran) when it took this snapshot. */
  readonly finished: boolean;
  readonly stats: TaskCheckpointStats;
}

/** One consumer edge of a task: its partitioner and a channel per consumer subtask. */
export interface OutputEdge {
  readonly partitioner: Partitioner;
  readonly channels: readonly Channel[];
  readonly consumerParallelism: number;
  /** The OutputTag id when this edge consumes a side output; undefined for the main output. */
  readonly sideOutput: string | undefined;
}

export interface InputChannelSpec {
  readonly channel: Channel;
  readonly inputIndex: number;
  /** For keyed inputs: the key of a record. */
  readonly keySelector: ((value: unknown) => unknown) | undefined;
}

/** In-flight records restored from an unaligned checkpoint, replayed before any new input. */
export type RestoredInflight = InflightRecords;
