import { CorruptLocalStateError, formatChecksum, type StreamStateHandle } from '@flowstate/core';
import { RocksDBError, verifySstFile, type SstFileVerification } from '../native.js';

/**
 * Checks an SST a local RocksDB checkpoint pinned, on its first upload (before a copy, or
 * through the new name once it is linked into local storage, see uploadSst): RocksDB checks
 * every block checksum (off the main thread) after the CRC32C of the whole file was taken. Local
 * files can rot or be damaged after RocksDB wrote them; uploading one would give it a fresh,
 * valid CRC32C, every later checkpoint would reuse it by unique id, and restores would succeed
 * and then fail on the first read. A block checksum mismatch fails the checkpoint instead.
 */
export async function verifySstBeforeUpload(path: string, name: string, checkpointId: number, enabled: boolean): Promise<SstFileVerification | undefined> {
  if (!enabled) return undefined;
  try {
    return await verifySstFile(path);
  } catch (e) {
    if (e instanceof RocksDBError && e.code === 'ROCKSDB_CORRUPTION') {
      throw new CorruptLocalStateError(name, checkpointId, e.status ?? e.message, { cause: e });
    }
    throw e;
  }
}

/**
 * The upload's CRC32C (the one restore will check) must be the CRC32C of the bytes that were
 * verified; otherwise the file changed between verification and upload.
 */
export function checkUploadIsVerified(handle: StreamStateHandle, verified: SstFileVerification | undefined, name: string, checkpointId: number): void {
  if (verified === undefined) return; // verification is switched off
  if (handle.size === verified.size && handle.checksum === verified.crc32c) return;
  throw new CorruptLocalStateError(
    name,
    checkpointId,
    `the uploaded bytes (${handle.size} bytes, CRC32C ${formatChecksum(handle.checksum)}) are not the verified ones ` +
      `(${verified.size} bytes, CRC32C ${formatChecksum(verified.crc32c)}): the file changed during the checkpoint`,
  );
}
