import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8';
import { CorruptCheckpointError } from '@flowstate/core';

/** Channel state: a version byte, then the structured-clone serialization of the in-flight records per input. */
export function encodeChannelState(inflight: ReadonlyArray<{ inputIndex: number; records: readonly unknown[] }>): Uint8Array {
  return v8Serialize({ version: 1, inputs: inflight });
}

export function decodeChannelState(bytes: Uint8Array, file: string): Array<{ inputIndex: number; records: unknown[] }> {
  let decoded: unknown;
  try {
    decoded = v8Deserialize(bytes);
  } catch (e) {
    throw new CorruptCheckpointError(file, `channel state cannot be decoded: ${(e as Error).message}`, undefined, undefined, { cause: e });
  }
  const d = decoded as { version?: unknown; inputs?: unknown };
  if (typeof d !== 'object' || d === null || d.version !== 1 || !Array.isArray(d.inputs)) {
    throw new CorruptCheckpointError(file, 'channel state has an unknown layout');
  }
  return d.inputs as Array<{ inputIndex: number; records: unknown[] }>;
}
