import type { SerializerSnapshotRegistry } from '../serialization/snapshot-registry.js';
import type { KeyedStateStreamHeader } from '../snapshot/keyed-state-stream.js';
import type { KeyedStateHandle } from '../storage/handles.js';
import type { StateHandleReader } from '../storage/spi.js';
import type { StateBackend } from './spi.js';

/**
 * A backend's native keyed snapshot format (RocksDB's SST files), as offline tools see it: they
 * recognise its handles, read the serializer snapshots stored with them, and convert between it
 * and the canonical format through the backend itself (restore, then snapshot in the other
 * format). A backend package exports one; savepoint tools take it by injection, so that they
 * depend on no backend.
 */
export interface NativeSnapshotFormat {
  /** The conversion target's name, e.g. 'native-rocksdb'. */
  readonly name: string;
  /** Whether `handle` is a snapshot in this format. */
  isHandle(handle: KeyedStateHandle): boolean;
  /** Names a handle in messages; `fileName` turns a stream's relative path into what users see. */
  describe(handle: KeyedStateHandle, fileName: (path: string) => string): string;
  /** The canonical keyed-stream header (key and state serializer snapshots) kept with a native handle. */
  readHeader(handle: KeyedStateHandle, reader: StateHandleReader, registry: SerializerSnapshotRegistry): Promise<KeyedStateStreamHeader>;
  /**
   * A backend that restores canonical and native handles and snapshots in either format
   * (`formatType` CANONICAL or NATIVE); `workDirectory` is local scratch space it may fill. The
   * caller deletes `workDirectory` after disposing the backend: the backend need not delete what
   * it left there.
   */
  createBackend(workDirectory: string): StateBackend;
}
