// The RocksDB binding @flowstate/flink reads RocksDB-native Flink savepoints with: injected here,
// so that the Flink format package has no native dependency.
import type { FlinkRocksDbAccess, FlinkRocksDbInstance } from '@flowstate/flink';
import { isNativeAvailable, RocksDB, SCRATCH_DATABASE_OPTIONS } from '@flowstate/rocksdb/native';

/** Entries per native call while walking a column family. */
const BATCH = 1024;

function instance(db: RocksDB): FlinkRocksDbInstance {
  return {
    columnFamilies: () => db.listColumnFamilies(),
    *entries(name: string) {
      const cf = db.getColumnFamily(name);
      if (cf === undefined) return;
      const it = db.iterator(cf);
      try {
        it.seekToFirst();
        for (let batch = it.nextBatch(BATCH); batch.length > 0; batch = it.nextBatch(BATCH)) yield* batch;
      } finally {
        it.close();
      }
    },
    close: () => db.close(),
  };
}

/**
 * `@flowstate/rocksdb/native` as @flowstate/flink's RocksDB access: opens the scratch copy of a
 * RocksDB-native handle's files (never Flink's own files: opening writes a MANIFEST and OPTIONS)
 * as a scratch database (SCRATCH_DATABASE_OPTIONS). Undefined when the native addon cannot load:
 * RocksDB-native state is then read by header only.
 */
export function flinkRocksDbAccess(): FlinkRocksDbAccess | undefined {
  if (!isNativeAvailable()) return undefined;
  // Flink's merge operator, not ours: list-state operands still unmerged in Flink's SST files are
  // joined with ',' as Flink's RocksDB backend joins them.
  return { open: (dir) => instance(RocksDB.open(dir, { ...SCRATCH_DATABASE_OPTIONS, createIfMissing: false, mergeOperator: 'flink-string-append' })) };
}

/** FlinkSavepointOptions with the RocksDB access, where the addon loads. */
export function flinkReadOptions(): { rocksdb?: FlinkRocksDbAccess } {
  const rocksdb = flinkRocksDbAccess();
  return rocksdb === undefined ? {} : { rocksdb };
}
