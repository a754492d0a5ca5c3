import { runConformance } from '@flowstate/conformance';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { corruptNewestSst } from './corrupt-sst.js';

// Flink's state.backend.rocksdb.timer-service.factory: HEAP. Priority queues live on the JS heap and
// native checkpoints carry them as a key-group stream next to the SSTs.
runConformance({
  name: 'RocksDBStateBackend (incremental checkpoints, HEAP timers)',
  createBackend: () => new RocksDBStateBackend({ incrementalCheckpoints: true, timerServiceFactory: 'HEAP' }),
  hooks: { corruptLocalSnapshotFile: corruptNewestSst },
});
