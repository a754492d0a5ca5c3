import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  defaultSerializerRegistry,
  KeyGroupRange,
  ListStateDescriptor,
  serializeCheckpointMetadata,
  Serializers,
  SimpleTypeSerializerSnapshot,
  ValueStateDescriptor,
  VoidNamespace,
  type CheckpointMetadata,
  type KeyedStateHandle,
  type SerializerSnapshotRegistry,
  type TypeSerializer,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { isIncrementalRocksDBStateHandle, RocksDBStateBackend } from '@flowstate/rocksdb';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { convertSavepoint, inspectSavepoint, SavepointReader, validateSavepoint } from '../src/index.js';
import { freshDirs, NATIVE } from './helpers.js';

const fresh = freshDirs();

const OFFSETS = new ListStateDescriptor<number>('offsets', Serializers.int32);
const MAX_P = 16;

/**
 * Two incremental RocksDB checkpoints of one subtask in a job's checkpoint directory, as the
 * runtime writes them (FsCheckpointStorage over local disk): the second reuses the SSTs of the
 * first from `shared/`. Returns the checkpoint root.
 */
async function twoIncrementalCheckpoints(valueSerializer: TypeSerializer<string> = Serializers.string): Promise<string> {
  const root = fresh();
  const storage = localCheckpointStorage(root);
  const kb = await new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: fresh() }).createKeyedStateBackend({
    operatorIdentifier: 'counter',
    keySerializer: Serializers.string,
    maxParallelism: MAX_P,
    keyGroupRange: new KeyGroupRange(0, MAX_P - 1),
  });
  const ob = await new FsStateBackend().createOperatorStateBackend({ operatorIdentifier: 'counter' });
  try {
    const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<string>('count', valueSerializer, ''));
    for (const id of [1, 2]) {
      for (let k = 0; k < 40; k++) {
        kb.setCurrentKey(`key-${id}-${k}`);
        count.update(`value ${k}`);
      }
      ob.getListState(OFFSETS).add(id * 100);
      const loc = await storage.initializeLocationForCheckpoint(id);
      const keyed = await kb.snapshot(id, 1_700_000_000_000 + id, loc.streamFactory, CHECKPOINT).result;
      const operator = await ob.snapshot(id, 1_700_000_000_000 + id, loc.streamFactory, CHECKPOINT).result;
      const metadata: CheckpointMetadata = {
        checkpointId: id,
        kind: 'CHECKPOINT',
        timestamp: 1_700_000_000_000 + id,
        operators: [{ uid: 'counter', parallelism: 1, maxParallelism: MAX_P, subtasks: [{ subtaskIndex: 0, keyed: [keyed.jobManagerOwnedSnapshot!], operator: [operator.jobManagerOwnedSnapshot!] }] }],
      };
      await loc.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
      kb.notifyCheckpointComplete(id);
    }
  } finally {
    kb.dispose();
    ob.dispose();
  }
  return root;
}

describe('retained checkpoints (chk-<id> with files in ../shared/), as Flink run -s reads them', () => {
  it('RocksDB incremental: validate decodes every entry, inspect and read work, shared files of the checkpoint root are not unreferenced', async () => {
    const root = await twoIncrementalCheckpoints();
    assert.ok(readdirSync(join(root, 'shared')).length > 0, 'SSTs in shared/');
    const chk2 = join(root, 'chk-2');
    const reader = await SavepointReader.load(chk2);
    const keyed: KeyedStateHandle[] = reader.metadata.operators[0]!.subtasks[0]!.keyed as KeyedStateHandle[];
    assert.ok(keyed.every(isIncrementalRocksDBStateHandle));
    const report = await validateSavepoint(chk2, NATIVE);
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
    assert.equal(report.records, 80, 'both checkpoints\' keys, decoded through the canonical form');
    const inspected = await inspectSavepoint(reader);
    assert.equal(inspected.kind, 'CHECKPOINT');
    assert.equal(inspected.operators[0]!.nativeKeyedHandles, 1);
    const offsets: number[] = [];
    for await (const o of reader.readListState<number>('counter', 'offsets')) offsets.push(o);
    assert.deepEqual(offsets, [100, 200]);
    // Converting a retained checkpoint gives a self-contained canonical savepoint with every entry.
    const sp = join(fresh(), 'sp');
    await convertSavepoint(chk2, sp, 'canonical', NATIVE);
    const entries = new Map<string, string>();
    for await (const e of (await SavepointReader.load(sp)).readKeyedState<string, unknown, string>('counter', 'count')) entries.set(e.key, e.value);
    assert.equal(entries.size, 80);
    assert.equal(entries.get('key-1-7'), 'value 7');
    assert.equal((await validateSavepoint(sp)).ok, true);
  });

  it('validate decodes the entries of native RocksDB handles: values its serializers cannot read are errors naming the handle', async () => {
    const root = await twoIncrementalCheckpoints(TAG);
    const chk1 = join(root, 'chk-1');
    const healthy = await validateSavepoint(chk1, { registry: tagRegistry(TAG), ...NATIVE });
    assert.deepEqual(healthy.problems, []);
    // The same snapshot read by a registry whose 'tag' serializer reads int32: the SSTs are intact,
    // but no value decodes exactly.
    const report = await validateSavepoint(chk1, { registry: tagRegistry(Serializers.int32 as unknown as TypeSerializer<string>), ...NATIVE });
    assert.equal(report.ok, false);
    const p = report.problems.find((x) => x.severity === 'error');
    assert.ok(p !== undefined && p.code === 'CORRUPT_CHECKPOINT' && /RocksDB checkpoint 1/.test(p.message) && /value of 'count'/.test(p.message) && /trailing bytes/.test(p.message), JSON.stringify(report.problems));
  });
});

/** A serializer only a registry that knows 'tag' reads (an application serializer). */
const TAG: TypeSerializer<string> = {
  typeId: 'tag',
  isImmutableType: true,
  serialize: (v, out) => out.writeString(v),
  deserialize: (input) => input.readString(),
  copy: (v) => v,
  snapshotConfiguration: () => new SimpleTypeSerializerSnapshot('tag', () => TAG),
};

function tagRegistry(restoresTo: TypeSerializer<string>): SerializerSnapshotRegistry {
  return defaultSerializerRegistry.extend().register('tag', () => new SimpleTypeSerializerSnapshot('tag', () => restoresTo));
}
