import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyGroupRange, KvKeyedStateBackend, ListStateDescriptor, Serializers, StateTtlConfigBuilder, VoidNamespace, type TtlTimeProvider } from '@flowstate/core';
import { LmdbStateBackend } from '@flowstate/lmdb';

class Clock implements TtlTimeProvider {
  now = 0;
  currentTimestamp(): number {
    return this.now;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'flowstate-lmdb-ttl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function open(clock: Clock): Promise<KvKeyedStateBackend<string>> {
  const kb = await new LmdbStateBackend({ localDirectory: dir }).createKeyedStateBackend<string>({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: KeyGroupRange.of(0, 127),
    ttlTimeProvider: clock,
  });
  assert.ok(kb instanceof KvKeyedStateBackend);
  return kb as KvKeyedStateBackend<string>;
}

describe('LMDB: periodic TTL sweep', () => {
  it('drops expired rows and expired list elements, at most entriesPerSweep rows per run, from its timer too', async () => {
    const clock = new Clock();
    const kb = await open(clock);
    const ttl = StateTtlConfigBuilder.newBuilder(100).cleanupByPeriodicSweep(5, 1).build();
    const list = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor<string>('list', Serializers.string).enableTimeToLive(ttl));
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    for (const k of keys) {
      kb.setCurrentKey(k);
      list.add('early');
    }
    clock.now = 80;
    kb.setCurrentKey('k0');
    list.add('late');
    clock.now = 150;
    // One run by hand: bounded.
    const examined = kb.runTtlSweep();
    assert.ok(examined >= 1 && examined <= 5, `one sweep examined ${examined} rows`);
    // Then the timer (unref-ed, every 1 ms) finishes the job; we wait on the mechanism, not a duration.
    for (let i = 0; i < 2000 && kb.getKeysAndNamespaces('list').length > 1; i++) await sleep(5);
    assert.deepStrictEqual(kb.getKeysAndNamespaces('list').map(([k]) => k), ['k0'], 'only the key with an unexpired element is left');
    clock.now = 0;
    kb.setCurrentKey('k0');
    assert.deepStrictEqual(list.get(), ['late'], "the sweep removed k0's expired element and kept the other");
    const stats = kb.ttlCleanupStatistics();
    assert.equal(stats.expiredRemoved, keys.length);
    kb.dispose();
  });
});
