import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  assignToKeyGroup,
  CHECKPOINT,
  computeKeyGroupRangeForOperatorIndex,
  CorruptCheckpointError,
  DataOutputSerializer,
  IllegalStateUsageError,
  KeyGroupRange,
  SAVEPOINT,
  serializeCheckpointMetadata,
  Serializers,
  TimerSerializer,
  TimerSerializerSnapshot,
  timerElementType,
  ValueStateDescriptor,
  VoidNamespace,
  type CheckpointMetadata,
  type InternalTimer,
  type KeyedStateHandle,
  type PriorityQueueElementType,
  type StateBackend,
  type TypeSerializer,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { RocksDBStateBackend, type RocksDBTimerServiceFactory } from '@flowstate/rocksdb';
import { localCheckpointStorage, localSavepointStorage } from '@flowstate/storage-local';
import { convertSavepoint, inspectSavepoint, SavepointReader, SavepointWriter, UnsupportedSavepointOperationError, validateSavepoint } from '../src/index.js';
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

type Timer = InternalTimer<unknown, unknown>;
const COUNT = new ValueStateDescriptor('count', Serializers.int32);

/**
 * A heap savepoint of operator 'windows' (string keys 'k<i>', `p` subtasks) with a value state and
 * the priority queue `elements` holds (default: 40 timers over 12 keys).
 */
async function heapSavepoint(p: number, elements?: { type: PriorityQueueElementType<string, unknown>; add: readonly unknown[] }): Promise<string> {
  const dir = join(fresh(), 'sp');
  const loc = await localSavepointStorage(dir).initializeLocationForCheckpoint(3);
  const type = elements?.type ?? (TIMERS as PriorityQueueElementType<string, unknown>);
  const add = elements?.add ?? Array.from({ length: 40 }, (_, i) => ({ timestamp: 1000 + i, key: `k${i % 12}`, namespace: VoidNamespace }));
  const subtasks = [];
  for (let i = 0; i < p; i++) {
    const range = computeKeyGroupRangeForOperatorIndex(MAX_P, p, i);
    const kb = await new FsStateBackend().createKeyedStateBackend({ operatorIdentifier: 'windows', keySerializer: Serializers.string, maxParallelism: MAX_P, keyGroupRange: range });
    try {
      const q = kb.createPriorityQueue(QUEUE, type);
      for (const e of add) if (range.contains(assignToKeyGroup(keyBytes(Serializers.string, type.keyOf(e)), MAX_P))) q.add(e);
      for (let k = 0; k < 12; k++) {
        if (!range.contains(assignToKeyGroup(keyBytes(Serializers.string, `k${k}`), MAX_P))) continue;
        kb.setCurrentKey(`k${k}`);
        kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT).update(k);
      }
      const h = (await kb.snapshot(3, 1, loc.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot;
      subtasks.push({ subtaskIndex: i, keyed: h === null ? [] : [h], operator: [] });
    } finally {
      kb.dispose();
    }
  }
  await loc.finalizeCheckpoint(serializeCheckpointMetadata({ checkpointId: 3, kind: 'SAVEPOINT', timestamp: 1, operators: [{ uid: 'windows', parallelism: p, maxParallelism: MAX_P, subtasks }] }));
  return dir;
}

function keyBytes<K>(serializer: TypeSerializer<K>, key: K): Uint8Array {
  const out = new DataOutputSerializer(16);
  serializer.serialize(key, out);
  return out.toBytes();
}

/** The timers a backend restores from `dir` at parallelism `p` (int32 keys), each checked to be in its key's key group. */
async function restoredTimers(dir: string, p: number, backend: StateBackend): Promise<string[]> {
  const reader = await SavepointReader.load(dir);
  const handles: KeyedStateHandle[] = reader.metadata.operators[0]!.subtasks.flatMap((s) => s.keyed);
  const timers: string[] = [];
  for (let i = 0; i < p; i++) {
    const range = computeKeyGroupRangeForOperatorIndex(MAX_P, p, i);
    const kb = await backend.createKeyedStateBackend({
      operatorIdentifier: 'windows',
      keySerializer: Serializers.int32,
      maxParallelism: MAX_P,
      keyGroupRange: range,
      restoreState: handles,
      stateHandleReader: reader.dir.reader,
    });
    try {
      const q = kb.createPriorityQueue(QUEUE, timerElementType(Serializers.int32, Serializers.voidNamespace));
      for (const g of range) {
        for (const t of q.getSubsetForKeyGroup(g)) {
          assert.equal(assignToKeyGroup(keyBytes(Serializers.int32, t.key), MAX_P), g, `timer ${t.timestamp} of key ${t.key} restored into its key's key group`);
          timers.push(`${t.timestamp}:${t.key}`);
        }
      }
    } finally {
      kb.dispose();
    }
  }
  return timers.sort();
}

describe('changing the key serializer of an operator with timers', () => {
  const toInt = (k: unknown) => Number(String(k).slice(1));
  const expected = Array.from({ length: 40 }, (_, i) => `${1000 + i}:${i % 12}`).sort();

  it('re-keys every timer: its own key, the serializer the header names, its key group', async () => {
    const sp = await heapSavepoint(2);
    const out = join(fresh(), 'out');
    await SavepointWriter.fromExisting(await SavepointReader.load(sp)).changeKeySerializer('windows', Serializers.int32, toInt).rescale('windows', { parallelism: 3 }).write(out);
    const report = await validateSavepoint(out);
    assert.deepEqual(report.problems, []);
    const reader = await SavepointReader.load(out);
    const queue = (await reader.keyedStates('windows')).find((s) => s.name === QUEUE)!;
    assert.ok(queue.stateSerializerSnapshot instanceof TimerSerializerSnapshot);
    assert.equal((queue.stateSerializerSnapshot as TimerSerializerSnapshot<unknown, unknown>).keySnapshot.typeId, 'int32', 'the timers are written with the new key serializer');
    const read: string[] = [];
    for await (const e of reader.readKeyedState<number, unknown, Timer>('windows', QUEUE)) {
      assert.equal(e.value.key, e.key, 'the timer key is its record key');
      read.push(`${e.value.timestamp}:${e.key}`);
    }
    assert.deepEqual(read.sort(), expected);
    for (const backend of [new FsStateBackend(), new RocksDBStateBackend({ localDirectory: fresh() })]) {
      assert.deepEqual(await restoredTimers(out, 3, backend), expected, `restored by ${backend.constructor.name}`);
    }
  });

  it('refuses a priority queue of other elements, which may embed the key in ways the tool cannot know', async () => {
    const strings: PriorityQueueElementType<string, unknown> = {
      serializer: Serializers.string as TypeSerializer<unknown>,
      compare: (a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0),
      keyOf: (e) => String(e),
    };
    const sp = await heapSavepoint(1, { type: strings, add: ['k1', 'k2'] });
    const out = join(fresh(), 'out');
    const write = SavepointWriter.fromExisting(await SavepointReader.load(sp)).changeKeySerializer('windows', Serializers.int32, toInt).write(out);
    await assert.rejects(write, (e: unknown) => e instanceof UnsupportedSavepointOperationError && e.code === 'UNSUPPORTED_OPERATION' && e.message.includes(QUEUE));
  });

  /** A timer filed under another key than its own: what a key change that left the timer bytes alone wrote. */
  const misfiledTimerSavepoint = () => {
    const misfiled: PriorityQueueElementType<string, unknown> = {
      serializer: new TimerSerializer(Serializers.string, Serializers.voidNamespace) as TypeSerializer<unknown>,
      compare: (a, b) => (a as Timer).timestamp - (b as Timer).timestamp,
      keyOf: (t) => `new-${String((t as Timer).key)}`,
    };
    return heapSavepoint(1, { type: misfiled, add: [{ timestamp: 5, key: 'k1', namespace: VoidNamespace }] });
  };

  it('validate reports a timer whose own key is not its record key (restores file it in different key groups)', async () => {
    const report = await validateSavepoint(await misfiledTimerSavepoint());
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems.map((p) => p.code), ['CORRUPT_CHECKPOINT']);
    assert.match(report.problems[0]!.message, /holds another key than its record/);
  });

  it('changeKeySerializer refuses a timer whose own key is not its record key (it would take over the record key)', async () => {
    const out = join(fresh(), 'out');
    const write = SavepointWriter.fromExisting(await SavepointReader.load(await misfiledTimerSavepoint())).changeKeySerializer('windows', Serializers.string, (k: unknown) => `x${String(k)}`).write(out);
    await assert.rejects(write, (e: unknown) => e instanceof CorruptCheckpointError && e.code === 'CORRUPT_CHECKPOINT' && /a timer of '.*' holds another key than its record/.test(e.message));
  });
});
