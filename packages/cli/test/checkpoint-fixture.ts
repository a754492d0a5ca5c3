import {
  CHECKPOINT,
  checkpointHistoryEntry,
  CheckpointHistoryWriter,
  CompletedCheckpointStore,
  FsCheckpointStorage,
  IllegalStateUsageError,
  isKeyGroupsStateHandle,
  KeyGroupRange,
  ListStateDescriptor,
  mulberry32,
  serializeCheckpointMetadata,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  type CheckpointHistoryEntry,
  type CheckpointMetadata,
  type FileSystem,
  type KeyedStateBackend,
  type OperatorStateBackend,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { RocksDBStateBackend } from '@flowstate/rocksdb';

// A job's checkpoint directory written by the real backends, as a job leaves it: incremental
// RocksDB checkpoints (SSTs in shared/, reused from one checkpoint to the next), a heap operator
// and a source's operator state (exclusive files in chk-<id>/), two retained checkpoints, one
// checkpoint in progress (files, no _metadata) and one whose metadata references a lost file;
// and the checkpoint history a coordinator persists (_history/).

const MAX_P = 128;
const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const OFFSETS = new ListStateDescriptor<number>('offsets', Serializers.int32);

export interface CheckpointRootFixture {
  /** Retained, complete. */
  readonly completed: readonly number[];
  /** Files only, no _metadata. */
  readonly inProgress: number;
  /** _metadata references a file that is gone. */
  readonly incomplete: number;
  /** The file of the incomplete checkpoint that was deleted. */
  readonly lostFile: string;
}

interface Job {
  readonly counts: KeyedStateBackend<string>[];
  readonly window: KeyedStateBackend<string>;
  readonly source: OperatorStateBackend;
}

function update(job: Job, rand: () => number, round: number): void {
  for (let i = 0; i < 300; i++) {
    const key = `user-${Math.floor(rand() * 400)}`;
    for (const kb of [...job.counts, job.window]) {
      try {
        kb.setCurrentKey(key);
      } catch (e) {
        // Each subtask of 'counts' owns half of the key groups.
        if (e instanceof IllegalStateUsageError) continue;
        throw e;
      }
      const s = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
      s.update((s.value() ?? 0) + round);
    }
  }
  job.source.getListState(OFFSETS).update([round * 100, round * 100 + 1]);
}

async function snapshot(job: Job, id: number, storage: FsCheckpointStorage, subtasks: 'all' | 'first'): Promise<CheckpointMetadata> {
  const loc = await storage.initializeLocationForCheckpoint(id);
  const counts = [];
  for (const kb of subtasks === 'all' ? job.counts : job.counts.slice(0, 1)) counts.push((await kb.snapshot(id, id, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot!);
  const window = (await job.window.snapshot(id, id, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot!;
  const source = (await job.source.snapshot(id, id, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot!;
  const metadata: CheckpointMetadata = {
    checkpointId: id,
    kind: 'CHECKPOINT',
    timestamp: Date.UTC(2026, 11, 2, 12, 0, id),
    operators: [
      { uid: 'source', parallelism: 1, maxParallelism: MAX_P, subtasks: [{ subtaskIndex: 0, keyed: [], operator: [source] }] },
      { uid: 'counts', parallelism: 2, maxParallelism: MAX_P, subtasks: counts.map((h, i) => ({ subtaskIndex: i, keyed: [h], operator: [] })) },
      { uid: 'window', parallelism: 1, maxParallelism: MAX_P, subtasks: [{ subtaskIndex: 0, keyed: [window], operator: [] }] },
    ],
  };
  if (subtasks === 'all') await loc.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
  return metadata;
}

/** What a coordinator persists for a checkpoint (figures made up, deterministic). */
function historyEntry(id: number, status: 'COMPLETED' | 'FAILED'): CheckpointHistoryEntry {
  const subtasks = ['source', 'counts', 'counts', 'window'].map((operatorUid, i) => ({
    operatorUid,
    subtaskIndex: operatorUid === 'counts' ? i - 1 : 0,
    syncDurationMs: id,
    asyncDurationMs: 10 * id,
    alignmentDurationMs: 0,
    checkpointedSize: 1000,
    fullSize: 1000 * id,
  }));
  return checkpointHistoryEntry(
    { checkpointId: id, kind: 'CHECKPOINT', status, triggerTimestamp: Date.UTC(2026, 11, 2, 12, 0, id), durationMs: 100 + id, ...(status === 'COMPLETED' ? { pointer: `chk-${id}` } : { failureCause: 'declined by subtask 1 of counts' }) },
    status === 'COMPLETED' ? subtasks : subtasks.slice(0, 2),
  );
}

/** Writes the fixture to `fs` (rooted at the job's checkpoint directory); `localDir` is RocksDB's working directory. */
export async function writeCheckpointRoot(fs: FileSystem, localDir: string): Promise<CheckpointRootFixture> {
  const storage = new FsCheckpointStorage(fs);
  const store = new CompletedCheckpointStore(storage, 2);
  const rocks = new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: localDir });
  const ranges = [new KeyGroupRange(0, 63), new KeyGroupRange(64, MAX_P - 1)];
  const job: Job = {
    counts: await Promise.all(ranges.map((keyGroupRange, i) => rocks.createKeyedStateBackend({ operatorIdentifier: `counts-${i}`, keySerializer: Serializers.string, maxParallelism: MAX_P, keyGroupRange }))),
    window: await new FsStateBackend().createKeyedStateBackend({ operatorIdentifier: 'window', keySerializer: Serializers.string, maxParallelism: MAX_P, keyGroupRange: new KeyGroupRange(0, MAX_P - 1) }),
    source: await new FsStateBackend().createOperatorStateBackend({ operatorIdentifier: 'source' }),
  };
  const rand = mulberry32(0xc4e7);
  const history = new CheckpointHistoryWriter(fs);
  try {
    // Three checkpoints: RocksDB compacts its level 0 at four files, which would replace every SST.
    for (let id = 1; id <= 3; id++) {
      update(job, rand, id);
      const metadata = await snapshot(job, id, storage, 'all');
      await store.add({ checkpointId: id, pointer: `chk-${id}`, metadata });
      for (const kb of job.counts) kb.notifyCheckpointComplete(id);
      await store.registry.drain();
      await history.write(historyEntry(id, 'COMPLETED'));
    }
    await history.write(historyEntry(4, 'FAILED'));
    update(job, rand, 4);
    await snapshot(job, 4, storage, 'first');
    update(job, rand, 5);
    const five = await snapshot(job, 5, storage, 'all');
    const lost = five.operators.find((o) => o.uid === 'window')!.subtasks[0]!.keyed[0]!;
    if (!isKeyGroupsStateHandle(lost) || lost.stream.type !== 'file') throw new Error('the heap backend writes a key-groups file');
    await fs.delete(lost.stream.path);
    return { completed: [2, 3], inProgress: 4, incomplete: 5, lostFile: lost.stream.path };
  } finally {
    for (const kb of [...job.counts, job.window]) kb.dispose();
    job.source.dispose();
  }
}
