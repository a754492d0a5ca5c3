import { CorruptCheckpointError, streamHandleName } from '@flowstate/core';
import type { IncrementalRocksDBStateHandle } from './handles.js';

/** RocksDB names its files like '000012.sst' or 'MANIFEST-000005'; anything longer is not one. */
const MAX_ROCKSDB_FILE_NAME = 128;

/**
 * Restore writes each file of a native handle under its name into the download directory, so each
 * name must be a plain, new file name there. '.' and '..' match the character set but name
 * directories (a raw EISDIR otherwise); a repeated name would silently replace another file.
 * A checkpoint always has a CURRENT file (it names the MANIFEST); one without is corrupt.
 * Runs after checkIncrementalRocksDBStateHandleStructure (names are strings, handles well formed).
 */
export function checkRocksFileNames(h: IncrementalRocksDBStateHandle): void {
  const seen = new Set<string>();
  for (const f of [...h.sharedFiles, ...h.privateFiles]) {
    const fail = (detail: string): never => {
      const shown = f.name.length > 40 ? `${f.name.slice(0, 40)}...` : f.name;
      throw new CorruptCheckpointError(streamHandleName(f.handle), `RocksDB file name ${JSON.stringify(shown)} ${detail}`, h.checkpointId);
    };
    if (f.name.length > MAX_ROCKSDB_FILE_NAME) fail(`is longer than ${MAX_ROCKSDB_FILE_NAME} characters`);
    if (!/^[A-Za-z0-9_.-]+$/.test(f.name) || f.name === '.' || f.name === '..') fail('is not a plain file name');
    if (seen.has(f.name)) fail('appears twice in the handle');
    seen.add(f.name);
  }
  // Without CURRENT, RocksDB (opened with createIfMissing for the restored database) would make a
  // new, empty database and delete the downloaded SSTs as obsolete: an empty state, silently.
  if (!seen.has('CURRENT')) throw new CorruptCheckpointError(streamHandleName(h.meta), 'the native RocksDB snapshot has no CURRENT file', h.checkpointId);
}
