import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8';
import { CorruptCheckpointError } from '@flowstate/core';
import type { RecordMessage } from './channel.js';

/** In-flight records of one input, in channel order. */
export interface InflightRecords {
  readonly inputIndex: number;
  readonly records: readonly RecordMessage[];
}

/**
 * Channel state: the structured-clone serialization of the in-flight records per input. Version 2
 * keeps each record's timestamp next to its value (version 1, values only, is still read: its
 * records have no timestamp). Watermarks are not channel state: a restored operator starts at
 * MIN_WATERMARK and the sources re-emit theirs, as Flink's operators do not checkpoint watermarks.
 */
export function encodeChannelState(inflight: readonly InflightRecords[]): Uint8Array {
  const inputs = inflight.map((e) => ({
    inputIndex: e.inputIndex,
    values: e.records.map((r) => r.value),
    timestamps: e.records.map((r) => (r.timestamp === undefined ? null : r.timestamp)),
  }));
  return v8Serialize({ version: 2, inputs });
}

const MAX_INPUTS = 1 << 16;

export function decodeChannelState(bytes: Uint8Array, file: string): InflightRecords[] {
  let decoded: unknown;
  try {
    decoded = v8Deserialize(bytes);
  } catch (e) {
    throw new CorruptCheckpointError(file, `channel state cannot be decoded: ${(e as Error).message}`, undefined, undefined, { cause: e });
  }
  const d = decoded as { version?: unknown; inputs?: unknown };
  if (typeof d !== 'object' || d === null || (d.version !== 1 && d.version !== 2) || !Array.isArray(d.inputs) || d.inputs.length > MAX_INPUTS) {
    throw new CorruptCheckpointError(file, 'channel state has an unknown layout');
  }
  if (d.version === 1) {
    return (d.inputs as Array<{ inputIndex: number; records: unknown[] }>).map((e) => ({
      inputIndex: e.inputIndex,
      records: e.records.map((value): RecordMessage => ({ kind: 'record', value, timestamp: undefined })),
    }));
  }
  return (d.inputs as Array<{ inputIndex: unknown; values: unknown; timestamps: unknown }>).map((e) => {
    if (typeof e.inputIndex !== 'number' || !Array.isArray(e.values) || !Array.isArray(e.timestamps) || e.values.length !== e.timestamps.length) {
      throw new CorruptCheckpointError(file, 'channel state entry has an unknown layout');
    }
    const ts = e.timestamps as unknown[];
    return {
      inputIndex: e.inputIndex,
      records: (e.values as unknown[]).map((value, i): RecordMessage => ({ kind: 'record', value, timestamp: typeof ts[i] === 'number' ? ts[i] : undefined })),
    };
  });
}
