import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC32C (Castagnoli), hardware accelerated through @node-rs/crc32. Every file a checkpoint writes
 * records this checksum in its handle, and restore verifies it before trusting the bytes.
 * `previous` continues a running checksum over several chunks.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  if (data.length === 0) return previous >>> 0;
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return nativeCrc32c(buf, previous) >>> 0;
}

export function formatChecksum(value: number): string {
  return value.toString(16).padStart(8, '0');
}
