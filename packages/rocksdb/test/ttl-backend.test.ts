// Core's TTL states over the RocksDB backend with its compaction filter: the backend hands the
// filter its own TTL clock before a manual compaction (not the wall clock the store starts with).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { KeyGroupRange, ListStateDescriptor, Serializers, StateTtlConfigBuilder, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { ManualTtlClock } from '@flowstate/conformance';
import { RocksDBStateBackend, type RocksDBKeyedStateBackend } from '@flowstate/rocksdb';
import { tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();

/** A RocksDB keyed backend on the given TTL clocks. */
async function ttlBackend(dir: string, processing: ManualTtlClock, watermark?: ManualTtlClock): Promise<RocksDBKeyedStateBackend<string>> {
  return (await new RocksDBStateBackend({ localDirectory: tempDir(dir) }).createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: new KeyGroupRange(0, 127),
    ttlTimeProvider: processing,
    ...(watermark === undefined ? {} : { ttlWatermarkProvider: watermark }),
  })) as RocksDBKeyedStateBackend<string>;
}

describe('RocksDB backend: TTL states and the compaction filter', () => {
  it('compactStates drops what expired by the backend TTL clock, and keeps live entries and list elements', async () => {
    const clock = new ManualTtlClock();
    const backend = await ttlBackend('ttl-states', clock);
    try {
      const ttl = StateTtlConfigBuilder.newBuilder(100).cleanupInRocksdbCompactFilter(1).build();
      const value = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<string>('value', Serializers.string).enableTimeToLive(ttl));
      const list = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor<string>('list', Serializers.string).enableTimeToLive(ttl));
      for (let i = 0; i < 10; i++) {
        backend.setCurrentKey(`old-${i}`);
        value.update('old');
      }
      backend.setCurrentKey('mixed');
      list.add('old');
      clock.now = 150;
      backend.setCurrentKey('live');
      value.update('live');
      backend.setCurrentKey('mixed');
      list.add('new');
      await backend.compactStates();
      // Counted without reading through the states (a read would clean up expired entries itself).
      assert.deepEqual(backend.getKeysAndNamespaces('value').map(([k]) => k), ['live'], 'expired rows left the column family; the live one stayed');
      clock.now = 0;
      backend.setCurrentKey('mixed');
      assert.deepEqual([...list.get()], ['new'], 'the filter removed the expired list element only');
    } finally {
      backend.dispose();
    }
  });

  it('a compaction the backend did not ask for, before any snapshot, judges entries by the TTL clock, not the wall clock (it dropped live entries)', async () => {
    // RocksDB compacts in the background whenever it likes: the filter must know the backend's time
    // from the moment a TTL state's column family is filtered, not from the first snapshot on.
    const clock = new ManualTtlClock(0);
    const backend = await ttlBackend('ttl-unasked', clock);
    try {
      const ttl = StateTtlConfigBuilder.newBuilder(60_000).cleanupInRocksdbCompactFilter(1).build();
      const value = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<string>('value', Serializers.string).enableTimeToLive(ttl));
      for (let i = 0; i < 10; i++) {
        backend.setCurrentKey(`k${i}`);
        value.update('live');
      }
      clock.now = 1_000;
      // A compaction of the column family straight through the store, as RocksDB's own would run: not compactStates.
      const store = (backend as unknown as { rocksStore: { keySpace(name: string): { compactAsync(): Promise<void> } } }).rocksStore;
      await store.keySpace('value').compactAsync();
      assert.equal(backend.getKeysAndNamespaces('value').length, 10, 'written at 0 with a TTL of 60 s: live at 1 s');
    } finally {
      backend.dispose();
    }
  });

  it('event-time TTL: the filter compares against the watermark, not a processing time running ahead of it (it dropped live entries)', async () => {
    const processing = new ManualTtlClock(10_000_000);
    const watermark = new ManualTtlClock(1_000_000);
    const backend = await ttlBackend('ttl-event-time', processing, watermark);
    try {
      const eventTtl = StateTtlConfigBuilder.newBuilder(60_000).useEventTime().cleanupInRocksdbCompactFilter(1).build();
      const processingTtl = StateTtlConfigBuilder.newBuilder(60_000).cleanupInRocksdbCompactFilter(1).build();
      const byEvent = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<string>('by-event-time', Serializers.string).enableTimeToLive(eventTtl));
      const byProcessing = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor<string>('by-processing-time', Serializers.string).enableTimeToLive(processingTtl));
      for (let i = 0; i < 10; i++) {
        backend.setCurrentKey(`k${i}`);
        byEvent.update('live');
        byProcessing.update('live');
      }
      watermark.now += 1_000;
      processing.now += 1_000;
      await backend.compactStates();
      const count = (state: string) => backend.getKeysAndNamespaces(state).length;
      assert.equal(count('by-event-time'), 10, 'one second of event time later nothing has expired (ttl 60 s)');
      // One time for the whole store, the earliest clock: processing-time cleanup waits for the watermark.
      processing.now += 120_000;
      await backend.compactStates();
      assert.deepEqual([count('by-event-time'), count('by-processing-time')], [10, 10], 'processing time past the TTL, the watermark not: nothing dropped yet');
      // The watermark past the processing-time entries' expiry too (they were stamped at 10,000,000).
      watermark.now = processing.now;
      await backend.compactStates();
      assert.deepEqual([count('by-event-time'), count('by-processing-time')], [0, 0], 'both clocks past the TTL: the filter dropped both');
    } finally {
      backend.dispose();
    }
  });
});
