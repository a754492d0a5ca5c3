/**
 * A snapshot releases what its synchronous part captured (here a KV store's view) as soon as it
 * has read every key group, not only after its stream is made durable: SnapshotContext.releaseResources.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  FsCheckpointStorage,
  KeyGroupRange,
  KvKeyedStateBackend,
  MemoryFileSystem,
  MinimalKvStore,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  type CheckpointStreamFactory,
  type KvView,
  type ValueState,
} from '@flowstate/core';

/** MinimalKvStore that counts the views taken and the releases (each view must be released once). */
class CountingStore extends MinimalKvStore {
  views = 0;
  releases = 0;
  get open(): number {
    return this.views - this.releases;
  }
  override view(): KvView {
    const v = super.view();
    this.views++;
    return {
      keySpace: (name) => v.keySpace(name),
      release: () => {
        this.releases++;
        v.release();
      },
    };
  }
}

/** `inner` with every stream's close held until `open()`; `closing` settles when a close was asked for. */
function heldClose(inner: CheckpointStreamFactory): { factory: CheckpointStreamFactory; closing: Promise<void>; open: () => void } {
  let asked!: () => void;
  const closing = new Promise<void>((r) => (asked = r));
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const factory: CheckpointStreamFactory = {
    checkpointId: inner.checkpointId,
    createCheckpointStateOutputStream(scope) {
      const s = inner.createCheckpointStateOutputStream(scope);
      return {
        get position() {
          return s.position;
        },
        write: (bytes, checksum) => s.write(bytes, checksum),
        closeAndGetHandle: async () => {
          asked();
          await gate;
          return s.closeAndGetHandle();
        },
        abort: () => s.abort(),
      };
    },
    discardStateHandle: (h) => inner.discardStateHandle(h),
  };
  return { factory, closing, open };
}

const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32);

describe('snapshot resources released once the state is read', () => {
  it('a canonical KV snapshot releases its store view before its stream is made durable, and writes meanwhile stay out of it', async () => {
    const store = new CountingStore();
    const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127) };
    const kb = await KvKeyedStateBackend.open<string>(params, store);
    const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT) as ValueState<number>;
    for (let i = 0; i < 50; i++) {
      kb.setCurrentKey(`k${i}`);
      count.update(i);
    }
    const storage = new FsCheckpointStorage(new MemoryFileSystem());
    const held = heldClose((await storage.initializeLocationForCheckpoint(1)).streamFactory);
    const future = kb.snapshot(1, 0, held.factory, CHECKPOINT);
    assert.equal(store.open, 1, 'the synchronous part took a view');
    await held.closing;
    assert.equal(store.open, 0, 'released while the stream is being closed');
    kb.setCurrentKey('k7');
    count.update(700);
    held.open();
    const handle = (await future.result).jobManagerOwnedSnapshot!;
    assert.deepEqual([store.views, store.releases], [1, 1], 'one view, released once (not again when the snapshot ended)');
    kb.dispose();

    const restored = await KvKeyedStateBackend.open<string>({ ...params, restoreState: [handle], stateHandleReader: storage }, new MinimalKvStore());
    const back = restored.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT) as ValueState<number>;
    restored.setCurrentKey('k7');
    assert.equal(back.value(), 7, 'the snapshot holds the value as of snapshot()');
    restored.dispose();
  });
});
