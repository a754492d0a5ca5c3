import type { TypeSerializer } from '@flowstate/core';
import type { OperatorEnvironment } from './environment.js';
import type { Collector, SnapshotContext, SourceFunction } from './functions.js';
import type { WatermarkStrategy } from './time/watermarks.js';

/** How a producer's records are distributed over the consumer's subtasks. */
export type Partitioner =
  | { readonly kind: 'forward' }
  | { readonly kind: 'rebalance' }
  | { readonly kind: 'broadcast' }
  | { readonly kind: 'hash'; readonly keySelector: (value: unknown) => unknown; readonly keySerializer: TypeSerializer<unknown> };

export interface StreamEdge {
  readonly source: StreamNode;
  readonly partitioner: Partitioner;
  /** 0 for one-input operators; 0 or 1 for two-input operators. */
  readonly inputIndex: number;
  /** The OutputTag id when the edge consumes a side output of its source (getSideOutput). */
  readonly sideOutput?: string;
}

/** The per-subtask operator the task drives; internal, user functions are wrapped into one. */
export interface StreamOperator {
  open(env: OperatorEnvironment): Promise<void>;
  processElement(input: number, value: unknown, out: Collector<unknown>): void | Promise<void>;
  endInput(out: Collector<unknown>): Promise<void>;
  snapshotState(ctx: SnapshotContext): Promise<void>;
  notifyCheckpointComplete(checkpointId: number): Promise<void>;
  notifyCheckpointAborted(checkpointId: number): Promise<void>;
  /** Every input ended and endInput ran; the final checkpoint follows (and commits what this pre-commits). */
  finish(): Promise<void>;
  close(): Promise<void>;
}

export interface StreamNode {
  readonly id: number;
  /** Stable across job versions: state in checkpoints and savepoints is matched by uid. */
  readonly uid: string;
  readonly parallelism: number;
  readonly kind: 'source' | 'operator';
  readonly inputs: readonly StreamEdge[];
  /** Set for operators after keyBy: their state is keyed by this serializer. */
  readonly keySerializer?: TypeSerializer<unknown>;
  readonly createOperator?: () => StreamOperator;
  readonly createSource?: () => SourceFunction<unknown>;
  /** Sources: how records get timestamps and watermarks are generated; none when absent. */
  readonly watermarkStrategy?: WatermarkStrategy<unknown>;
}

export interface JobGraph {
  readonly name: string;
  readonly maxParallelism: number;
  readonly nodes: readonly StreamNode[];
  /** Records a channel buffers before its producer runs out of credit. */
  readonly bufferCapacity: number;
}
