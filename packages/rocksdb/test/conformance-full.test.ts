import { runConformance } from '@flowstate/conformance';
import { RocksDBStateBackend } from '@flowstate/rocksdb';

runConformance({
  name: 'RocksDBStateBackend (canonical full checkpoints)',
  createBackend: () => new RocksDBStateBackend({ incrementalCheckpoints: false }),
});
