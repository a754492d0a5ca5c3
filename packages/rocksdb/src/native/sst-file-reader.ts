// Reading SST files outside a database: whole-file CRC32C plus RocksDB's per-block checksums.
import { loadBinding } from './binding.js';
import { asyncCall } from './errors.js';
import type { SstFileVerification } from './types.js';

/**
 * Checks an SST file on the libuv thread pool: computes the CRC32C of the whole file, then checks
 * the checksum of every block with RocksDB's SstFileReader::VerifyChecksum. Rejects with
 * ROCKSDB_CORRUPTION (e.g. `block checksum mismatch`) or ROCKSDB_IO_ERROR, naming the file.
 * A caller that uploads the file and gets the same CRC32C back uploaded the verified bytes.
 */
export function verifySstFile(path: string): Promise<SstFileVerification> {
  return asyncCall(() => loadBinding().verifySstFile(path));
}

/**
 * @internal For tests: the CRC32C verifySstFile computes, with the CPU's CRC32C instruction where
 * the machine has one (`portable: false`) or the portable table every other machine uses.
 */
export function nativeCrc32cForTest(bytes: Uint8Array, portable: boolean): number {
  return loadBinding().crc32cForTest(bytes, portable);
}
