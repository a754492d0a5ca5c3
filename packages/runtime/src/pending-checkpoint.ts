import { serialize as v8Serialize } from 'node:v8';
import type { KeyedStateHandle, OperatorStateHandle, SnapshotFuture } from '@flowstate/core';
import type { BarrierMessage, RecordMessage } from './channel.js';

/** A checkpoint a task is taking part in: its barriers so far, its snapshot, its in-flight records. */
export interface Pending {
  readonly barrier: BarrierMessage;
  readonly startedAt: number;
  readonly received: boolean[];
  receivedCount: number;
  unaligned: boolean;
  snapshotTaken: boolean;
  /** The task had finished its input when the snapshot was taken. */
  finished: boolean;
  syncDurationMs: number;
  futures: { keyed: SnapshotFuture<KeyedStateHandle> | undefined; operator: SnapshotFuture<OperatorStateHandle> } | undefined;
  /** Per channel: records processed after the snapshot and before that channel's barrier (unaligned). */
  readonly recording: (RecordMessage[] | undefined)[];
  readonly inflight: Array<{ inputIndex: number; records: RecordMessage[] }>;
  /** Records processed during alignment, and the serialized size of every SAMPLE_EVERY-th of them. */
  processedRecords: number;
  sampledRecords: number;
  sampledBytes: number;
  alignmentDoneAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Serializing every record processed during alignment would slow exactly the phase that should
 * be fast; the statistic is extrapolated from every SAMPLE_EVERY-th record's size.
 */
export const SAMPLE_EVERY = 16;

export function estimateBytes(value: unknown): number {
  return v8Serialize(value).length;
}
