import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyGroupRange, KvKeyedStateBackend, ListStateDescriptor, Serializers, StateTtlConfigBuilder, VoidNamespace, type TtlSweepScheduler } from '@flowstate/core';
import { ManualTtlClock } from '@flowstate/conformance';
import { LmdbKvStore } from '@flowstate/lmdb';

const dir = mkdtempSync(join(tmpdir(), 'flowstate-lmdb-ttl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The sweep timer, fired by hand: the test drives the mechanism, never a wall-clock interval. */
class ManualSweepTimer {
  readonly scheduled: Array<{ run: () => void; intervalMs: number; closed: boolean }> = [];
  readonly schedule: TtlSweepScheduler = (run, intervalMs) => {
    const entry = { run, intervalMs, closed: false };
    this.scheduled.push(entry);
    return { close: () => void (entry.closed = true) };
  };
  fire(): void {
    for (const s of this.scheduled) if (!s.closed) s.run();
  }
}

async function open(clock: ManualTtlClock, timer: ManualSweepTimer): Promise<KvKeyedStateBackend<string>> {
  const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 128, keyGroupRange: KeyGroupRange.of(0, 127), ttlTimeProvider: clock };
  const store = new LmdbKvStore({ path: mkdtempSync(join(dir, 'store-')), maxKeySpaces: 16 });
  return KvKeyedStateBackend.open(params, store, { scheduleTtlSweep: timer.schedule });
}

describe('LMDB: periodic TTL sweep', () => {
  it('drops expired rows and expired list elements, at most entriesPerSweep rows per run, from its timer too', async () => {
    const clock = new ManualTtlClock();
    const timer = new ManualSweepTimer();
    const kb = await open(clock, timer);
    const ttl = StateTtlConfigBuilder.newBuilder(100).cleanupByPeriodicSweep(5, 1).build();
    const list = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ListStateDescriptor<string>('list', Serializers.string).enableTimeToLive(ttl));
    assert.deepStrictEqual(timer.scheduled.map((s) => s.intervalMs), [1], 'one sweep, at the configured interval');
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
    // Then the timer finishes the job, each firing bounded as well.
    for (let fired = 0; kb.getKeysAndNamespaces('list').length > 1; fired++) {
      assert.ok(fired < 10, `the sweep timer finished within ${fired} firings`);
      const before = kb.ttlCleanupStatistics().sweepEntriesExamined;
      timer.fire();
      assert.ok(kb.ttlCleanupStatistics().sweepEntriesExamined - before <= 5, 'at most entriesPerSweep rows per firing');
    }
    assert.deepStrictEqual(kb.getKeysAndNamespaces('list').map(([k]) => k), ['k0'], 'only the key with an unexpired element is left');
    clock.now = 0;
    kb.setCurrentKey('k0');
    assert.deepStrictEqual(list.get(), ['late'], "the sweep removed k0's expired element and kept the other");
    assert.equal(kb.ttlCleanupStatistics().expiredRemoved, keys.length);
    kb.dispose();
    assert.ok(timer.scheduled.every((s) => s.closed), 'dispose stops the sweep timer');
  });
});
