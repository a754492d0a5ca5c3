import { crc32c, formatChecksum } from '../checksum.js';
import { CorruptCheckpointError } from '../errors.js';
import type { StreamStateHandle } from './handles.js';

/** Checks bytes against their handle's size and CRC32C; returns them when they match. */
export function verifyStreamBytes(handle: StreamStateHandle, data: Uint8Array, checkpointId?: number, root?: string): Uint8Array {
  const name = handle.type === 'file' ? (root === undefined ? handle.path : `${root}/${handle.path}`) : `inline:${handle.name}`;
  if (data.length !== handle.size) {
    throw new CorruptCheckpointError(name, `has ${data.length} bytes, its handle says ${handle.size} (truncated or replaced)`, checkpointId);
  }
  const actual = crc32c(data);
  if (actual !== handle.checksum) {
    throw new CorruptCheckpointError(name, `CRC32C is ${formatChecksum(actual)}, its handle says ${formatChecksum(handle.checksum)}`, checkpointId);
  }
  return data;
}
