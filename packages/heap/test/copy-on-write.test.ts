/**
 * Regression tests for the copy-on-write snapshots of the Fs backend: a snapshot must see the
 * state as of snapshot(), whatever the caller does afterwards with the objects state hands out.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  AggregatingStateDescriptor,
  CHECKPOINT,
  FsCheckpointStorage,
  KeyGroupRange,
  MapStateDescriptor,
  MemoryFileSystem,
  MsgpackSerializer,
  Serializers,
  SnapshotCancelledError,
  StorageError,
  VoidNamespace,
  type CheckpointStreamFactory,
  type InternalMergingState,
  type KeyedStateBackend,
  type KeyedStateHandle,
} from '@flowstate/core';
import { FsStateBackend, type HeapKeyedStateBackend } from '@flowstate/heap';

const RANGE = new KeyGroupRange(0, 127);
type Counter = { n: number };
const SUM = new AggregatingStateDescriptor<number, Counter, number>(
  'sum',
  {
    createAccumulator: () => ({ n: 0 }),
    // Mutates its accumulator in place, as many aggregate functions do.
    add: (v, acc) => ((acc.n += v), acc),
    getResult: (acc) => acc.n,
    merge: (a, b) => ((a.n += b.n), a),
  },
  MsgpackSerializer.INSTANCE as unknown as MsgpackSerializer<Counter>,
);
const OBJS = new MapStateDescriptor<string, Counter>('objs', Serializers.string, MsgpackSerializer.INSTANCE as unknown as MsgpackSerializer<Counter>);

async function backend(restore: KeyedStateHandle[] = [], reader?: FsCheckpointStorage): Promise<KeyedStateBackend<string>> {
  return new FsStateBackend().createKeyedStateBackend({
    operatorIdentifier: 'cow',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: RANGE,
    restoreState: restore,
    ...(reader ? { stateHandleReader: reader } : {}),
  });
}

async function snapshotWhile(kb: KeyedStateBackend<string>, mutate: () => void): Promise<KeyedStateBackend<string>> {
  const storage = new FsCheckpointStorage(new MemoryFileSystem());
  const loc = await storage.initializeLocationForCheckpoint(1);
  const fut = kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT);
  mutate();
  const h = (await fut.result).jobManagerOwnedSnapshot!;
  return backend([h], storage);
}

describe('Fs backend copy-on-write snapshots', () => {
  it('merging namespaces with an in-place merge function does not change a running snapshot', async () => {
    const kb = await backend();
    const sum = kb.getOrCreateKeyedState(Serializers.string, SUM);
    kb.setCurrentKey('k');
    sum.setCurrentNamespace('w1');
    sum.add(1);
    sum.setCurrentNamespace('w2');
    sum.add(10);
    const restored = await snapshotWhile(kb, () => (sum as unknown as InternalMergingState<string>).mergeNamespaces('w3', ['w1', 'w2']));
    sum.setCurrentNamespace('w3');
    assert.equal(sum.get(), 11, 'the live state merged');
    const r = restored.getOrCreateKeyedState(Serializers.string, SUM);
    restored.setCurrentKey('k');
    r.setCurrentNamespace('w1');
    assert.equal(r.get(), 1);
    r.setCurrentNamespace('w2');
    assert.equal(r.get(), 10);
    r.setCurrentNamespace('w3');
    assert.equal(r.get(), null);
  });

  it('mutating values returned by get() after snapshot() does not reach the snapshot', async () => {
    const kb = await backend();
    const objs = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, OBJS);
    const sum = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, SUM);
    kb.setCurrentKey('k');
    objs.put('a', { n: 1 });
    sum.add(5);
    const restored = await snapshotWhile(kb, () => {
      objs.get('a')!.n = 99;
      for (const [, v] of objs.entries()) v!.n = 98;
    });
    const ro = restored.getPartitionedState(VoidNamespace, Serializers.voidNamespace, OBJS);
    const rs = restored.getPartitionedState(VoidNamespace, Serializers.voidNamespace, SUM);
    restored.setCurrentKey('k');
    assert.deepEqual(ro.get('a'), { n: 1 });
    assert.equal(rs.get(), 5);
  });

  it('a snapshot whose output stream cannot be opened is released (no copy-on-write left behind)', async () => {
    const kb = (await backend()) as HeapKeyedStateBackend<string>;
    const objs = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, OBJS);
    kb.setCurrentKey('k');
    objs.put('a', { n: 1 });
    const broken: CheckpointStreamFactory = {
      checkpointId: 1,
      createCheckpointStateOutputStream: () => {
        throw new StorageError('nowhere', 'injected: cannot open a stream');
      },
      discardStateHandle: async () => {},
    };
    await assert.rejects(kb.snapshot(1, 1, broken, CHECKPOINT).result, StorageError);
    assert.equal(kb.activeSnapshotViews, 0, 'no snapshot view stays registered');
  });

  it('a snapshot releases its copy-on-write view once every key group is encoded, before its stream is made durable', async () => {
    const kb = (await backend()) as HeapKeyedStateBackend<string>;
    const objs = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, OBJS);
    for (let i = 0; i < 50; i++) {
      kb.setCurrentKey(`k${i}`);
      objs.put('a', { n: i });
    }
    const storage = new FsCheckpointStorage(new MemoryFileSystem());
    const inner = (await storage.initializeLocationForCheckpoint(1)).streamFactory;
    let closeAsked!: () => void;
    const closing = new Promise<void>((r) => (closeAsked = r));
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    const held: CheckpointStreamFactory = {
      checkpointId: 1,
      createCheckpointStateOutputStream(scope) {
        const s = inner.createCheckpointStateOutputStream(scope);
        return { get position() { return s.position; }, write: (b, c) => s.write(b, c), abort: () => s.abort(), closeAndGetHandle: async () => (closeAsked(), await gate, s.closeAndGetHandle()) };
      },
      discardStateHandle: (h) => inner.discardStateHandle(h),
    };
    const future = kb.snapshot(1, 1, held, CHECKPOINT);
    assert.equal(kb.activeSnapshotViews, 1);
    await closing;
    assert.equal(kb.activeSnapshotViews, 0, 'no view while the stream is being closed: writes pay no copy-on-write');
    kb.setCurrentKey('k7');
    objs.get('a')!.n = 700;
    openGate();
    const restored = await backend([(await future.result).jobManagerOwnedSnapshot!], storage);
    restored.setCurrentKey('k7');
    assert.deepEqual(restored.getPartitionedState(VoidNamespace, Serializers.voidNamespace, OBJS).get('a'), { n: 7 }, 'the snapshot holds the value as of snapshot()');
  });

  it('dispose() while a snapshot waits to write releases its view at once; a cancelled one releases it when it ends', async () => {
    const kb = (await backend()) as HeapKeyedStateBackend<string>;
    kb.setCurrentKey('k');
    kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, OBJS).put('a', { n: 1 });
    const storage = new FsCheckpointStorage(new MemoryFileSystem());
    const controller = new AbortController();
    const cancelled = kb.snapshot(1, 1, (await storage.initializeLocationForCheckpoint(1)).streamFactory, CHECKPOINT, controller.signal);
    controller.abort();
    await assert.rejects(cancelled.result, SnapshotCancelledError);
    assert.equal(kb.activeSnapshotViews, 0, 'the cancelled snapshot released its view');

    const running = kb.snapshot(2, 1, (await storage.initializeLocationForCheckpoint(2)).streamFactory, CHECKPOINT);
    assert.equal(kb.activeSnapshotViews, 1);
    kb.dispose();
    assert.equal(kb.activeSnapshotViews, 0, 'dispose() released the running snapshot view before returning');
    await assert.rejects(running.result, SnapshotCancelledError);
  });
});
