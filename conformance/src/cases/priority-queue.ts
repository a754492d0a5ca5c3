import assert from 'node:assert/strict';
import {
  computeOperatorIndexForKeyGroup,
  IllegalStateUsageError,
  Serializers,
  timerElementType,
  ValueStateDescriptor,
  type InternalTimer,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type KeyGroupedInternalPriorityQueue,
} from '@flowstate/core';
import { beginKeyedCheckpoint, checkpointKeyed, type CompletedCheckpoint } from '../harness/checkpoint.js';
import { expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { keyGroupOf, serializeKey, subtaskRanges } from '../harness/keys.js';
import { caseSeeds, formatSeed, Prng } from '../harness/prng.js';
import { restoreKeyed } from '../harness/restore.js';
import { VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup } from '../registry.js';

type Timer = InternalTimer<string, string>;

const SEEDS = caseSeeds({ model: 0x5eed1501, rescale: 0x5eed1502 });
const QUEUE = '_timer_state/event_timers';
const TIMERS = timerElementType(Serializers.string, Serializers.string);

export const priorityQueueGroup = conformanceGroup('priority queue (timers)', [
  { name: `add, remove, poll and peek against a model, one key group past any head cache (${formatSeed(SEEDS.model)})`, run: againstModel },
  { name: 'set semantics: an equal element is added once and removed once', run: setSemantics },
  { name: 'ordering across key groups: the head is the smallest of all key groups; subsets per key group', run: acrossKeyGroups },
  { name: 'bulkPoll stops at its bound and at maxElements; elements added while consuming are ordered in', run: bulkPollBounds },
  { name: 'snapshot isolation: changes after the synchronous part are not in the snapshot', run: snapshotIsolation },
  { name: 'restore: elements on first create, same queue for the same name, names of keyed states refused', run: restoreAndNames },
  { name: `rescaling 4 -> 2 -> 7: each subtask polls exactly its key groups' timers in order (${formatSeed(SEEDS.rescale)})`, requires: ['rescaling'], run: rescale4to2to7 },
]);

/** Priority order, computed independently of the backend: timestamp, then key and namespace bytes. */
function compareModel(a: Timer, b: Timer): number {
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  const ab = Buffer.concat([serializeKey(a.key, Serializers.string), serializeKey(a.namespace, Serializers.string)]);
  const bb = Buffer.concat([serializeKey(b.key, Serializers.string), serializeKey(b.namespace, Serializers.string)]);
  return Buffer.compare(ab, bb);
}

const id = (t: Timer): string => `${t.timestamp}|${t.key}|${t.namespace}`;
const timer = (timestamp: number, key: string, namespace = 'w'): Timer => ({ timestamp, key, namespace });

function drain(q: KeyGroupedInternalPriorityQueue<Timer>): Timer[] {
  const out: Timer[] = [];
  for (let t = q.poll(); t !== undefined; t = q.poll()) out.push(t);
  return out;
}

function assertTimers(actual: readonly Timer[], expected: readonly Timer[], what: string): void {
  assert.deepEqual(actual.map(id), expected.map(id), what);
}

/**
 * The expected queue: timers kept sorted by compareModel, each with its key and namespace bytes
 * computed once (sorting by re-serializing on every comparison would make the case slow).
 */
class SortedModel {
  private readonly items: Array<{ readonly t: Timer; readonly id: string; readonly tail: Buffer }> = [];

  get size(): number {
    return this.items.length;
  }

  head(): Timer | undefined {
    return this.items[0]?.t;
  }

  at(i: number): Timer {
    return this.items[i]!.t;
  }

  all(): Timer[] {
    return this.items.map((x) => x.t);
  }

  /** Adds unless present; whether it was added. */
  add(t: Timer): boolean {
    const x = { t, id: id(t), tail: Buffer.concat([serializeKey(t.key, Serializers.string), serializeKey(t.namespace, Serializers.string)]) };
    const i = this.position(x);
    if (this.items[i]?.id === x.id) return false;
    this.items.splice(i, 0, x);
    return true;
  }

  /** Removes if present; the index it had, or -1. */
  remove(t: Timer): number {
    const i = this.items.findIndex((x) => x.id === id(t));
    if (i >= 0) this.items.splice(i, 1);
    return i;
  }

  private position(x: { t: Timer; tail: Buffer }): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.items[mid]!;
      const c = m.t.timestamp !== x.t.timestamp ? m.t.timestamp - x.t.timestamp : Buffer.compare(m.tail, x.tail);
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const idOrUndefined = (t: Timer | undefined): string | undefined => (t === undefined ? undefined : id(t));

async function againstModel(fx: Fixture): Promise<void> {
  const prng = new Prng(SEEDS.model);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const q = kb.createPriorityQueue(QUEUE, TIMERS);
  const keys = prng.uniqueStrings(30, 'key-');
  const model = new SortedModel();
  for (let op = 0; op < 4000; op++) {
    const r = prng.int(10);
    // A hot key puts hundreds of timers in one key group: more than a KV head cache holds.
    const key = prng.chance(0.4) ? 'hot' : keys[prng.int(keys.length)]!;
    const t = timer(prng.int(500) - 100, key, `w${prng.int(3)}`);
    if (r < 6) {
      const added = model.add(t);
      assert.equal(q.add(t), added && model.head() === t, `op ${op}: add(${id(t)}) reports whether the head changed`);
    } else if (r < 8) {
      const victim = prng.chance(0.7) && model.size > 0 ? model.at(prng.int(model.size)) : t;
      assert.equal(q.remove(victim), model.remove(victim) === 0, `op ${op}: remove(${id(victim)}) reports whether the head changed`);
    } else {
      const head = model.head();
      assert.equal(idOrUndefined(q.poll()), idOrUndefined(head), `op ${op}: poll`);
      if (head !== undefined) model.remove(head);
    }
    assert.equal(idOrUndefined(q.peek()), idOrUndefined(model.head()), `op ${op}: peek`);
    if (op % 250 === 0) assert.equal(q.size(), model.size, `op ${op}: size`);
  }
  assert.equal(q.isEmpty(), model.size === 0, 'isEmpty');
  assertTimers(drain(q), model.all(), 'draining the queue polls the model in order');
  assert.ok(q.isEmpty(), 'empty after draining');
}

async function setSemantics(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const q = kb.createPriorityQueue(QUEUE, TIMERS);
  assert.equal(q.add(timer(10, 'a')), true, 'the first element becomes the head');
  assert.equal(q.add({ timestamp: 10, key: 'a', namespace: 'w' }), false, 'an equal element (another object) is not added');
  assert.equal(q.add(timer(10, 'a', 'other')), false, 'another namespace is another element, not the head');
  assert.equal(q.size(), 2, 'two distinct elements');
  assert.equal(q.remove(timer(11, 'a')), false, 'removing an absent element changes nothing');
  assert.equal(q.remove(timer(10, 'a')), true, 'removing the head changes the head');
  assert.equal(q.remove(timer(10, 'a')), false, 'an element is removed once');
  assert.equal(q.size(), 1);
  assert.equal(q.add(timer(10, 'a')), true, 'a removed element can be added again');
  assertTimers(drain(q), [timer(10, 'a'), timer(10, 'a', 'other')], 'contents');
}

async function acrossKeyGroups(fx: Fixture): Promise<void> {
  const prng = new Prng(SEEDS.model ^ 0x1111);
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const q = kb.createPriorityQueue(QUEUE, TIMERS);
  const timers = prng.uniqueStrings(400, 'k-').map((k) => timer(prng.int(50), k));
  q.addAll(timers);
  const expected = [...timers].sort(compareModel);
  assert.equal(id(q.peek()!), id(expected[0]!), 'the head is the smallest over all key groups');
  for (const g of kb.keyGroupRange) {
    const mine = timers.filter((t) => keyGroupOf(t.key, Serializers.string) === g);
    assert.deepEqual(q.getSubsetForKeyGroup(g).map(id).sort(), mine.map(id).sort(), `getSubsetForKeyGroup(${g})`);
  }
  assertTimers(drain(q), expected, 'poll order over all key groups');
}

async function bulkPollBounds(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const q = kb.createPriorityQueue(QUEUE, TIMERS);
  for (let i = 0; i < 20; i++) q.add(timer(i * 10, `key-${i}`));
  const fired: Timer[] = [];
  assert.equal(q.bulkPoll((h) => h.timestamp <= 95, (t) => fired.push(t), 4), 4, 'maxElements bounds a bulk poll');
  assert.deepEqual(fired.map((t) => t.timestamp), [0, 10, 20, 30]);
  const n = q.bulkPoll(
    (h) => h.timestamp <= 95,
    (t) => {
      fired.push(t);
      // A timer registered from a firing timer: due ones fire in the same poll, later ones wait.
      if (t.timestamp === 40) q.add(timer(45, 'from-consume'));
      if (t.timestamp === 50) q.add(timer(1000, 'later'));
    },
  );
  assert.equal(n, 7, 'bulk poll up to the bound: 40, 45, 50, 60, 70, 80, 90');
  assert.deepEqual(fired.slice(4).map((t) => t.timestamp), [40, 45, 50, 60, 70, 80, 90]);
  assert.equal(q.peek()!.timestamp, 100, 'the first element past the bound stays');
  assert.equal(q.size(), 11, '10 left of the first 20 plus the later one');
}

async function snapshotIsolation(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const q = kb.createPriorityQueue(QUEUE, TIMERS);
  const before = Array.from({ length: 300 }, (_, i) => timer(i % 37, `key-${i % 61}`, `w${i % 5}`));
  q.addAll(before);
  const expected = drainCopy(before);
  const pending = await beginKeyedCheckpoint(fx, [kb]);
  // After the synchronous part: none of this may show up in the snapshot.
  for (let i = 0; i < 50; i++) q.poll();
  q.addAll(Array.from({ length: 100 }, (_, i) => timer(-i, `late-${i}`)));
  q.remove(before[299]!);
  const cp = await pending.complete();
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  assertTimers(drain(restored.createPriorityQueue(QUEUE, TIMERS)), expected, 'the restored queue is the queue at snapshot time');
}

/** The distinct timers of `timers` in priority order. */
function drainCopy(timers: readonly Timer[]): Timer[] {
  return [...new Map(timers.map((t) => [id(t), t])).values()].sort(compareModel);
}

async function restoreAndNames(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const valueDesc = new ValueStateDescriptor<string>('value', Serializers.string);
  const timers = Array.from({ length: 200 }, (_, i) => timer(1000 - i, `key-${i % 23}`));
  kb.createPriorityQueue(QUEUE, TIMERS).addAll(timers);
  kb.setCurrentKey('key-1');
  kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc).update('v');
  expectThrows('a keyed state with a queue name', IllegalStateUsageError, () => kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new ValueStateDescriptor<string>(QUEUE, Serializers.string)));
  expectThrows('a queue with a keyed state name', IllegalStateUsageError, () => kb.createPriorityQueue('value', TIMERS));
  const half = await fx.keyed({ keySerializer: Serializers.string, keyGroupRange: subtaskRanges(2)[0]! });
  const outside = Array.from({ length: 100 }, (_, i) => `key-${i}`).find((k) => !half.keyGroupRange.contains(keyGroupOf(k, Serializers.string)))!;
  expectThrows('an element of a key outside the range', IllegalStateUsageError, () => half.createPriorityQueue(QUEUE, TIMERS).add(timer(1, outside)));

  // A restored queue not created again is snapshotted as it was restored.
  const first = await restoreKeyed(fx, await checkpointKeyed(fx, [kb]), { keySerializer: Serializers.string });
  first.setCurrentKey('key-1');
  assert.equal(first.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, valueDesc).value(), 'v', 'keyed state restored alongside');
  const second = await restoreKeyed(fx, await checkpointKeyed(fx, [first]), { keySerializer: Serializers.string });
  const q = second.createPriorityQueue(QUEUE, TIMERS);
  assert.equal(second.createPriorityQueue(QUEUE, TIMERS), q, 'the same name returns the same queue');
  assert.equal(q.size(), timers.length, 'every restored element');
  assertTimers(drain(q), drainCopy(timers), 'restored order');
}

async function populateSubtasks(fx: Fixture, timers: readonly Timer[], parallelism: number): Promise<Array<KeyedStateBackend<string>>> {
  const backends: Array<KeyedStateBackend<string>> = [];
  for (const keyGroupRange of subtaskRanges(parallelism)) backends.push(await fx.keyed({ keySerializer: Serializers.string, keyGroupRange }));
  for (const t of timers) {
    const g = keyGroupOf(t.key, Serializers.string);
    backends[computeOperatorIndexForKeyGroup(128, parallelism, g)]!.createPriorityQueue(QUEUE, TIMERS).add(t);
  }
  return backends;
}

async function restoreAndCheck(fx: Fixture, cp: CompletedCheckpoint<KeyedStateHandle>, timers: readonly Timer[], parallelism: number, what: string): Promise<Array<KeyedStateBackend<string>>> {
  const out: Array<KeyedStateBackend<string>> = [];
  const polled: string[] = [];
  for (const [i, keyGroupRange] of subtaskRanges(parallelism).entries()) {
    const kb = await restoreKeyed(fx, cp, { keySerializer: Serializers.string, keyGroupRange });
    const q = kb.createPriorityQueue(QUEUE, TIMERS);
    const mine = drainCopy(timers.filter((t) => keyGroupRange.contains(keyGroupOf(t.key, Serializers.string))));
    assert.equal(q.size(), mine.length, `${what}, subtask ${i} ${keyGroupRange}: size`);
    const polledHere = drainAndRefill(q);
    assertTimers(polledHere, mine, `${what}, subtask ${i} ${keyGroupRange}: poll order`);
    polled.push(...polledHere.map(id));
    out.push(kb);
  }
  // What the restored backends polled, together: every timer exactly once over all subtasks.
  assert.deepEqual(polled.sort(), drainCopy(timers).map(id).sort(), `${what}: every timer on exactly one subtask`);
  return out;
}

/** Drains `q` and adds everything back, so the backend can be snapshotted again with the same content. */
function drainAndRefill(q: KeyGroupedInternalPriorityQueue<Timer>): Timer[] {
  const all = drain(q);
  q.addAll(all);
  return all;
}

async function rescale4to2to7(fx: Fixture): Promise<void> {
  const prng = new Prng(SEEDS.rescale);
  const keys = prng.uniqueStrings(300, 'user-');
  const timers = Array.from({ length: 1500 }, () => timer(prng.int(1000), keys[prng.int(keys.length)]!, `w${prng.int(4)}`));
  const four = await populateSubtasks(fx, timers, 4);
  const two = await restoreAndCheck(fx, await checkpointKeyed(fx, four), timers, 2, 'restored 4 -> 2');
  await restoreAndCheck(fx, await checkpointKeyed(fx, two), timers, 7, 'restored 4 -> 2 -> 7');
}
