import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  IllegalStateUsageError,
  KeyGroupRange,
  serializeCheckpointMetadata,
  Serializers,
  timerElementType,
  ValueStateDescriptor,
  VoidNamespace,
  type CheckpointMetadata,
  type InternalTimer,
} from '@flowstate/core';
import { RocksDBStateBackend, type RocksDBTimerServiceFactory } from '@flowstate/rocksdb';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { convertSavepoint, inspectSavepoint, SavepointReader, SavepointWriter, validateSavepoint } from '../src/index.js';
import { freshDirs, NATIVE } from './helpers.js';

const fresh = freshDirs();
const MAX_P = 16;
const TIMERS = timerElementType(Serializers.string, Serializers.voidNamespace);
const QUEUE = '_timer_state/event_timers';

/** One incremental RocksDB checkpoint with 30 timers and a value state; returns chk-1. */
async function checkpointWithTimers(factory: RocksDBTimerServiceFactory): Promise<string> {
  const root = fresh();
  const storage = localCheckpointStorage(root);
  const kb = await new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: fresh(), timerServiceFactory: factory }).createKeyedStateBackend({
    operatorIdentifier: 'windows',
    keySerializer: Serializers.string,
    maxParallelism: MAX_P,
    keyGroupRange: new KeyGroupRange(0, MAX_P - 1),
  });
  try {
    const q = kb.createPriorityQueue(QUEUE, TIMERS);
    for (let i = 0; i < 30; i++) q.add({ timestamp: 1000 - i, key: `key-${i % 7}`, namespace: VoidNamespace });
    kb.setCurrentKey('key-1');
    kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('count', Serializers.int32)).update(3);
    const loc = await storage.initializeLocationForCheckpoint(1);
    const keyed = await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result;
    const metadata: CheckpointMetadata = {
      checkpointId: 1,
      kind: 'CHECKPOINT',
      timestamp: 1,
      operators: [{ uid: 'windows', parallelism: 1, maxParallelism: MAX_P, subtasks: [{ subtaskIndex: 0, keyed: [keyed.jobManagerOwnedSnapshot!], operator: [] }] }],
    };
    await loc.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
  } finally {
    kb.dispose();
  }
  return join(root, 'chk-1');
}

describe('priority-queue (timer) state in savepoint tools', () => {
  for (const factory of ['ROCKSDB', 'HEAP'] as const) {
    it(`RocksDB with ${factory} timers: validate, convert to canonical, inspect and read the timers in order`, async () => {
      const chk = await checkpointWithTimers(factory);
      const report = await validateSavepoint(chk, NATIVE);
      assert.deepEqual(report.problems, []);
      assert.equal(report.records, 31, '30 timers and one value, decoded through the canonical form');
      const sp = join(fresh(), 'sp');
      await convertSavepoint(chk, sp, 'canonical', NATIVE);
      const reader = await SavepointReader.load(sp);
      const states = await reader.keyedStates('windows');
      assert.deepEqual(states.map((s) => [s.name, s.kind]).sort(), [[QUEUE, 'PRIORITY_QUEUE'], ['count', 'VALUE']].sort());
      const inspected = await inspectSavepoint(reader, { scan: true });
      assert.equal(inspected.operators[0]!.keyedStates.find((s) => s.name === QUEUE)?.entries, 30);
      const timers: Array<InternalTimer<string, unknown>> = [];
      for await (const e of reader.readKeyedState<string, unknown, InternalTimer<string, unknown>>('windows', QUEUE)) {
        assert.equal(e.value.key, e.key, 'the record key is the timer key');
        timers.push(e.value);
      }
      assert.deepEqual(timers.map((t) => t.timestamp).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => 971 + i));
      // Elements carry their key and order: rewriting them would move them out of their key groups.
      const writer = SavepointWriter.fromExisting(reader).transformKeyedState('windows', QUEUE, { map: (e) => e.value });
      await assert.rejects(writer.write(join(fresh(), 'out')), IllegalStateUsageError);
    });
  }
});
