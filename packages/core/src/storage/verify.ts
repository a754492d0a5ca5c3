import { crc32c, formatChecksum } from '../checksum.js';
import { CorruptCheckpointError } from '../errors.js';
import type { ByteStreamStateHandle, StreamStateHandle } from './handles.js';

/**
 * A range of an inline handle's bytes, checked against both the size the handle declares and the
 * bytes it carries. The caller verifies the range's own checksum.
 */
export function inlineRange(handle: ByteStreamStateHandle, offset: number, length: number, checkpointId?: number): Uint8Array {
  const name = `inline:${handle.name}`;
  if (handle.data.length !== handle.size) {
    throw new CorruptCheckpointError(name, `carries ${handle.data.length} bytes, its handle says ${handle.size}`, checkpointId);
  }
  if (offset < 0 || length < 0 || offset + length > handle.size) {
    throw new CorruptCheckpointError(name, `range [${offset}, +${length}) is outside the ${handle.size} bytes the handle declares`, checkpointId, offset);
  }
  return handle.data.subarray(offset, offset + length);
}

/** Checks bytes against their handle's size and CRC32C; returns them when they match. */
export function verifyStreamBytes(handle: StreamStateHandle, data: Uint8Array, checkpointId?: number, root?: string): Uint8Array {
  verifyStreamSize(handle, data.length, checkpointId, root);
  verifyStreamChecksum(handle, crc32c(data), checkpointId, root);
  return data;
}

/** Checks the size of a stream's bytes against its handle (before anything reads them). */
export function verifyStreamSize(handle: StreamStateHandle, size: number, checkpointId?: number, root?: string): void {
  if (size !== handle.size) {
    throw new CorruptCheckpointError(streamName(handle, root), `has ${size} bytes, its handle says ${handle.size} (truncated or replaced)`, checkpointId);
  }
}

/** Checks the CRC32C of a stream's bytes against its handle. */
export function verifyStreamChecksum(handle: StreamStateHandle, actual: number, checkpointId?: number, root?: string): void {
  if (actual !== handle.checksum) {
    throw new CorruptCheckpointError(streamName(handle, root), `CRC32C is ${formatChecksum(actual)}, its handle says ${formatChecksum(handle.checksum)}`, checkpointId);
  }
}

function streamName(handle: StreamStateHandle, root: string | undefined): string {
  return handle.type === 'file' ? (root === undefined ? handle.path : `${root}/${handle.path}`) : `inline:${handle.name}`;
}
