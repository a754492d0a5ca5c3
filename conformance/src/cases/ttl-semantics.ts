import assert from 'node:assert/strict';
import { IllegalStateUsageError, ManualTtlClock, MapStateDescriptor, Serializers } from '@flowstate/core';
import { expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { listContents, mapContents, VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { NEVER_RETURN, TTL_COMBOS, ttlConfig, ttlList, ttlSumAggregating, ttlSumReducing, ttlValue, type TtlCombo } from '../harness/ttl.js';
import { conformanceGroup } from '../registry.js';

export const ttlSemanticsGroup = conformanceGroup('state TTL: semantics', [
  { name: 'value, reducing and aggregating state expire as a whole, for every update type and visibility', run: valueLikeStates },
  { name: 'list elements expire individually, for every update type and visibility', run: listElements },
  { name: 'map entries expire individually, for every update type and visibility', run: mapEntries },
  {
    name: 'OnReadAndWrite: iterating a map re-stamps the entries of the map it began on, also when the current key or namespace changes between next() calls',
    run: mapIterationRestamp,
  },
  { name: 'event-time TTL expires against the watermark, not the processing-time clock', run: eventTime },
]);

const returns = (c: TtlCombo): boolean => c.visibility === 'ReturnExpiredIfNotCleanedUp';
const onRead = (c: TtlCombo): boolean => c.updateType === 'OnReadAndWrite';

/** An expired value: returned once (then cleaned up on that read) with ReturnExpiredIfNotCleanedUp, never otherwise. */
function expectExpired<T>(c: TtlCombo, what: string, read: () => T, expiredValue: T, empty: T): void {
  assert.deepStrictEqual(read(), returns(c) ? expiredValue : empty, `${c.label}: ${what}, first read after expiry`);
  assert.deepStrictEqual(read(), empty, `${c.label}: ${what}, second read after expiry (cleaned up on the first)`);
}

async function valueLikeStates(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock();
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  for (const c of TTL_COMBOS) {
    clock.now = 0;
    const cfg = ttlConfig(c);
    const value = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, ttlValue(`value-${c.label}`, cfg));
    const reducing = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, ttlSumReducing(`reducing-${c.label}`, cfg));
    const aggregating = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, ttlSumAggregating(`aggregating-${c.label}`, cfg));
    const read = () => [value.value(), reducing.get(), aggregating.get()];
    for (const key of ['k', 'edge', 'stale']) {
      kb.setCurrentKey(key);
      value.update('a');
      reducing.add(1);
      aggregating.add(1);
      reducing.add(2);
      aggregating.add(2);
    }
    const written = ['a', 3, 'sum=3'];
    const none = [null, null, null];

    // Expiry boundary (timestamp + ttl <= now) on a key that is not read before.
    if (!onRead(c)) {
      kb.setCurrentKey('edge');
      clock.now = 99;
      assert.deepStrictEqual(read(), written, `${c.label}: visible 1 ms before expiry`);
      clock.now = 100;
      expectExpired(c, 'at exactly timestamp + ttl', read, written, none);
    }

    kb.setCurrentKey('k');
    clock.now = 50;
    assert.deepStrictEqual(read(), written, `${c.label}: visible before expiry`);
    clock.now = 120;
    if (onRead(c)) {
      assert.deepStrictEqual(read(), written, `${c.label}: the read at 50 renewed the timestamps (OnReadAndWrite)`);
      clock.now = 300;
    }
    expectExpired(c, 'value/reducing/aggregating', read, written, none);

    // An expired accumulator that was never read is not merged into: add() starts afresh.
    kb.setCurrentKey('stale');
    clock.now = 400;
    reducing.add(5);
    aggregating.add(5);
    assert.deepStrictEqual([reducing.get(), aggregating.get()], [5, 'sum=5'], `${c.label}: add() after expiry drops the expired accumulator`);
    assert.deepStrictEqual(value.value(), returns(c) ? 'a' : null, `${c.label}: the value of 'stale' expired too`);
    value.update('b');
    clock.now = 450;
    assert.equal(value.value(), 'b', `${c.label}: update() after expiry stores a fresh value`);
  }
}

async function listElements(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock();
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  kb.setCurrentKey('k');
  for (const c of TTL_COMBOS) {
    const list = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, ttlList(`list-${c.label}`, ttlConfig(c)));
    const get = () => listContents(list, c.label);
    clock.now = 0;
    list.add('a');
    clock.now = 60;
    list.addAll(['b', 'c']);
    assert.deepStrictEqual(get(), ['a', 'b', 'c'], `${c.label}: every element visible at 60`);
    clock.now = 120;
    if (onRead(c)) {
      assert.deepStrictEqual(get(), ['a', 'b', 'c'], `${c.label}: the read at 60 renewed 'a' (OnReadAndWrite)`);
      clock.now = 250;
      expectExpired(c, 'all elements', get, ['a', 'b', 'c'], []);
    } else {
      expectExpired(c, "element 'a' written at 0", get, ['a', 'b', 'c'], ['b', 'c']);
      clock.now = 160;
      expectExpired(c, "elements 'b' and 'c' written at 60", get, ['b', 'c'], []);
    }
    clock.now = 300;
    list.update(['x', 'y']);
    clock.now = 350;
    list.add('z');
    clock.now = 400;
    // The update at 300 expires at 400; with OnReadAndWrite nothing was read since.
    expectExpired(c, 'elements of update() at 300', get, ['x', 'y', 'z'], ['z']);
  }
}

/**
 * Iterating with OnReadAndWrite re-stamps every entry handed out. The loop body may switch the
 * current key or namespace between next() calls: the re-stamp must still go to the map the
 * iteration began on. It used to be a put() through the state, into the current map: the other
 * key (or namespace) got entries it never had, and the iterated ones were not renewed.
 */
async function mapIterationRestamp(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock();
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  const entries: Array<[string, string]> = [['a', '1'], ['b', '2'], ['c', '3']];
  for (const iterator of ['entries', 'keys', 'values'] as const) {
    for (const switched of ['key', 'namespace'] as const) {
      const what = `${iterator}() switching the ${switched}`;
      const desc = new MapStateDescriptor<string, string>(`restamp-${iterator}-${switched}`, Serializers.string, Serializers.string).enableTimeToLive(ttlConfig({ updateType: 'OnReadAndWrite', visibility: 'NeverReturnExpired' }));
      const map = kb.getPartitionedState('w', Serializers.string, desc);
      // The map of (key k, namespace w), and the n-th other map the loop switches to.
      const select = (n: number) => {
        kb.setCurrentKey(n > 0 && switched === 'key' ? `other-${n}` : 'k');
        map.setCurrentNamespace(n > 0 && switched === 'namespace' ? `other-${n}` : 'w');
      };
      clock.now = 0;
      select(0);
      map.putAll(entries);
      clock.now = 50;
      let n = 0;
      for (const _ of map[iterator]()) select(++n);
      assert.equal(n, entries.length, `${what}: every entry handed out`);
      for (let i = 1; i <= n; i++) {
        select(i);
        assert.deepStrictEqual([...map.entries()], [], `${what}: nothing written to the ${switched} switched to (${i})`);
      }
      // Written at 0, read at 50: alive at 120 only if the read renewed them.
      clock.now = 120;
      select(0);
      assert.deepStrictEqual(mapContents(map), new Map(entries), `${what}: every entry iterated was renewed`);
    }
  }
}

async function mapEntries(fx: Fixture): Promise<void> {
  const clock = new ManualTtlClock();
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: clock });
  kb.setCurrentKey('k');
  for (const c of TTL_COMBOS) {
    const map = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new MapStateDescriptor<string, string>(`map-${c.label}`, Serializers.string, Serializers.string).enableTimeToLive(ttlConfig(c)));
    clock.now = 0;
    map.put('k1', 'v1');
    map.put('null', null);
    clock.now = 60;
    map.putAll([['k2', 'v2']]);
    assert.equal(map.get('k1'), 'v1', `${c.label}: k1 visible at 60`);
    clock.now = 120;
    // k1 was read at 60: renewed with OnReadAndWrite. 'null' (a null user value) was never read.
    if (onRead(c)) assert.equal(map.get('k1'), 'v1', `${c.label}: k1 renewed by the read at 60`);
    else expectExpired(c, 'k1 written at 0', () => map.get('k1'), 'v1', undefined);
    expectExpired(c, "'null' written at 0 (contains)", () => map.contains('null'), true, false);
    const live: Array<[string, string | null]> = onRead(c) ? [['k1', 'v1'], ['k2', 'v2']] : [['k2', 'v2']];
    assert.deepStrictEqual([...mapContents(map)].sort(), live, `${c.label}: entries() at 120`);
    assert.equal(map.isEmpty(), false, `${c.label}: not empty at 120`);

    clock.now = 1000;
    expectExpired(c, 'entries() when everything expired', () => [...mapContents(map)].sort(), live, []);
    assert.equal(map.isEmpty(), true, `${c.label}: empty once everything expired and was read`);
    map.put('k3', 'v3');
    const it = map.keys();
    assert.equal(it.next().value, 'k3');
    it.remove();
    assert.equal(map.contains('k3'), false, `${c.label}: iterator remove() on a TTL'd map`);
  }
}

async function eventTime(fx: Fixture): Promise<void> {
  const processing = new ManualTtlClock(0);
  const watermark = new ManualTtlClock(1_000);
  const kb = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: processing, ttlWatermarkProvider: watermark });
  const cfg = { ...ttlConfig(NEVER_RETURN), timeCharacteristic: 'EventTime' as const };
  const value = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, ttlValue('event-time', cfg));
  kb.setCurrentKey('k');
  value.update('v');
  processing.now = 1e12;
  watermark.now = 1_099;
  assert.equal(value.value(), 'v', 'processing time does not expire event-time TTL; watermark 1099 < 1000 + 100');
  watermark.now = 1_100;
  assert.equal(value.value(), null, 'expired once the watermark reaches last access + ttl');

  const noWatermark = await fx.keyed({ keySerializer: Serializers.string, ttlTimeProvider: processing });
  const e = expectThrows('event-time TTL without a watermark provider', IllegalStateUsageError, () =>
    noWatermark.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, ttlValue('event-time', cfg)),
  );
  assert.equal(e.stateName, 'event-time');
}
