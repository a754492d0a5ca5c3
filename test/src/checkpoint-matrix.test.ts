/**
 * Every backend against every storage of the test registry (@flowstate/test-registry: heap,
 * RocksDB incremental and full; memory, local disk, S3 via s3rver, HDFS via the WebHDFS test
 * server), through the same CompletedCheckpointStore a runtime uses; the latest checkpoint is restored at another
 * parallelism and compared with a model, and the storage must hold exactly the files the retained
 * checkpoints reference.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CHECKPOINT,
  collectGarbage,
  CompletedCheckpointStore,
  computeKeyGroupRangeForOperatorIndex,
  FsCheckpointStorage,
  ListStateDescriptor,
  mulberry32,
  serializeCheckpointMetadata,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type StateBackend,
} from '@flowstate/core';
import { backendsFor, storagesFor, type RunningStorage } from '@flowstate/test-registry';

const MAX_P = 128;
const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const SEEN = new ListStateDescriptor<string>('seen', Serializers.string);

const work = mkdtempSync(join(tmpdir(), 'flowstate-matrix-'));
const backends = backendsFor('checkpoint-matrix');
const storages = storagesFor('checkpoint-matrix');
const running = new Map<string, RunningStorage>();
before(async () => {
  const started = await Promise.all(storages.map((s) => s.start({ workDirectory: work })));
  storages.forEach((s, i) => running.set(s.id, started[i]!));
});
after(async () => {
  for (const r of running.values()) await r.stop();
  rmSync(work, { recursive: true, force: true });
});

async function keyed(backend: StateBackend, parallelism: number, index: number, restore: KeyedStateHandle[], storage?: FsCheckpointStorage): Promise<KeyedStateBackend<string>> {
  return backend.createKeyedStateBackend({
    operatorIdentifier: `counter[${index}]`,
    keySerializer: Serializers.string,
    maxParallelism: MAX_P,
    keyGroupRange: computeKeyGroupRangeForOperatorIndex(MAX_P, parallelism, index),
    restoreState: restore,
    ...(storage ? { stateHandleReader: storage } : {}),
  });
}

describe('backends x storages', () => {
  for (const s of storages) {
    for (const b of backends) {
      it(`${b.label} checkpoints to ${s.label}, retains 2, and restores at parallelism 2`, async () => {
        const storage = new FsCheckpointStorage(running.get(s.id)!.createFileSystem());
        const create = () => b.create({ localDirectory: work });
        const store = new CompletedCheckpointStore(storage, 2);
        const kb = await keyed(create(), 1, 0, []);
        const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
        const seen = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, SEEN);
        const model = new Map<string, { count: number; seen: string[] }>();
        const rand = mulberry32(0x5eed);
        for (let id = 1; id <= 4; id++) {
          for (let i = 0; i < 1500; i++) {
            const k = `key-${Math.floor(rand() * 500)}`;
            kb.setCurrentKey(k);
            const m = model.get(k) ?? { count: 0, seen: [] };
            if (rand() < 0.1) {
              count.clear();
              seen.clear();
              model.delete(k);
              continue;
            }
            m.count++;
            m.seen.push(`${id}.${i}`);
            count.update(m.count);
            seen.add(`${id}.${i}`);
            model.set(k, m);
          }
          const loc = await storage.initializeLocationForCheckpoint(id);
          const res = await kb.snapshot(id, id, loc.streamFactory, CHECKPOINT).result;
          const metadata = {
            checkpointId: id,
            kind: 'CHECKPOINT' as const,
            timestamp: id,
            operators: [{ uid: 'counter', parallelism: 1, maxParallelism: MAX_P, subtasks: [{ subtaskIndex: 0, keyed: [res.jobManagerOwnedSnapshot!], operator: [] }] }],
          };
          await loc.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
          await store.add({ checkpointId: id, pointer: `chk-${id}`, metadata });
          kb.notifyCheckpointComplete(id);
          await store.registry.drain();
        }
        kb.dispose();
        assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-3', 'chk-4']);
        assert.deepEqual((await collectGarbage(storage, { dryRun: true })).orphans, [], 'storage holds exactly the retained checkpoints');

        const handles = [...store.latest()!.metadata.operators[0]!.subtasks[0]!.keyed];
        const seenKeys = new Set<string>();
        for (let i = 0; i < 2; i++) {
          const r = await keyed(create(), 2, i, handles, storage);
          const rc = r.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
          const rs = r.getPartitionedState(VoidNamespace, Serializers.voidNamespace, SEEN);
          for (const k of r.getKeys('count', VoidNamespace)) {
            assert.ok(!seenKeys.has(k), `${k} restored twice`);
            seenKeys.add(k);
            r.setCurrentKey(k);
            assert.equal(rc.value(), model.get(k)?.count, `count of ${k}`);
            assert.deepEqual(rs.get(), model.get(k)?.seen, `list of ${k}`);
          }
          r.dispose();
        }
        assert.deepEqual([...seenKeys].sort(), [...model.keys()].sort());
      });
    }
  }
});
