import { assert, DataInputDeserializer, decodeHeader, wrapDecodeError, streamHandleName, type NativeSnapshotFormat } from '@flowstate/core';
import { checkRocksDBHandleFormatVersion, isIncrementalRocksDBStateHandle } from './handles.js';
import { RocksDBStateBackend, type RocksDBStateBackendOptions } from './rocksdb-state-backend.js';

/**
 * The options of a conversion's scratch backend but its `localDirectory` (see createBackend below):
 * as a backend's options, what SCRATCH_DATABASE_OPTIONS says for a database opened directly.
 */
const CONVERSION_BACKEND_OPTIONS = {
  incrementalCheckpoints: true,
  verifySstsBeforeUpload: false,
  syncLocalFiles: false,
  linkRestoredFiles: true,
  removeWorkingDirectoryOnDispose: false,
  infoLog: false,
  preallocateFiles: false,
  blockCacheSize: 0,
} as const satisfies RocksDBStateBackendOptions;

/**
 * RocksDB's native snapshots for savepoint tools: its handles keep the canonical header in their
 * `meta` stream, and an incremental RocksDB backend converts in both directions.
 */
export const ROCKSDB_NATIVE_FORMAT: NativeSnapshotFormat = {
  name: 'native-rocksdb',
  isHandle: isIncrementalRocksDBStateHandle,
  describe(handle, fileName) {
    assert(isIncrementalRocksDBStateHandle(handle), `describe is called with RocksDB handles only, got '${handle.type}'`);
    return `${fileName(streamHandleName(handle.meta))} (RocksDB checkpoint ${handle.checkpointId} of '${handle.backendIdentifier}')`;
  },
  async readHeader(handle, reader, registry) {
    assert(isIncrementalRocksDBStateHandle(handle), `readHeader is called with RocksDB handles only, got '${handle.type}'`);
    checkRocksDBHandleFormatVersion(handle, streamHandleName(handle.meta));
    const bytes = await reader.readFully(handle.meta);
    try {
      return decodeHeader(new DataInputDeserializer(bytes), registry);
    } catch (e) {
      wrapDecodeError(e, streamHandleName(handle.meta));
    }
  },
  // A conversion's backend is scratch: its files are read once, by the snapshot that copies them
  // into the output (which syncs the copies). So no block-checksum pass before upload (it guards
  // against local files rotting between a job's writes and a later checkpoint; these SSTs were
  // finished moments before, and restores check the uploaded files' CRC32C as always), and no
  // fsync of the local database (it doubled the disk writes). A native savepoint's SSTs are
  // hard-linked into the scratch database when both are on one file system (checked against
  // their handles' CRC32C as a download would be): nothing writes to either once finished. The
  // conversion deletes the work directory itself, asynchronously (see createBackend's contract).
  // No info LOG (nobody reads it before it is deleted) and no block cache: a conversion's scans
  // read without filling it, yet every block read still looked it up under a shard lock (~10% of
  // the scans' native time converting to canonical, issue 16). No preallocated space: RocksDB
  // frees the unused part when it closes or deletes a file, and where freed blocks are discarded
  // synchronously each open waited for that behind other subtasks' syncs (issue 16, session 30).
  createBackend: (workDirectory) => new RocksDBStateBackend({ ...CONVERSION_BACKEND_OPTIONS, localDirectory: workDirectory }),
};
