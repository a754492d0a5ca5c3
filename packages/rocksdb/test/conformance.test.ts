import { runConformance } from '@flowstate/conformance';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { corruptNewestSst } from './corrupt-sst.js';

// The three RocksDB variants run from three test files so that each stays well under the
// per-file limit of scripts/run-tests.mjs on a loaded machine.
runConformance({
  name: 'RocksDBStateBackend (incremental checkpoints)',
  createBackend: () => new RocksDBStateBackend({ incrementalCheckpoints: true }),
  hooks: { corruptLocalSnapshotFile: corruptNewestSst },
});
