import assert from 'node:assert/strict';
import { Serializers, ValueStateDescriptor, type KeyedStateBackend, type KeyedStateHandle } from '@flowstate/core';
import { ConcurrentCheckpointDriver, type StoreProtocol } from '../harness/concurrent-checkpoints.js';
import type { Fixture } from '../harness/fixture.js';
import { keysInRange, MAX_PARALLELISM, subtaskRanges } from '../harness/keys.js';
import { caseSeed, formatSeed, Prng } from '../harness/prng.js';
import { VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup } from '../registry.js';

const RANDOM_SEED = caseSeed(0x5eed0c01);
/** Random interleavings against the real backend; FLOWSTATE_CONCURRENT_CHECKPOINT_RUNS runs more. */
const RANDOM_RUNS = Number(process.env['FLOWSTATE_CONCURRENT_CHECKPOINT_RUNS'] ?? 50);

const COUNTER = new ValueStateDescriptor<number>('counter', Serializers.int32, 0);
const KEYS = Array.from({ length: 300 }, (_, i) => `key-${i}`);

export const concurrentCheckpointsGroup = conformanceGroup('concurrent checkpoints and shared files', [
  {
    name: 'trigger 2, complete 2, notify 2, trigger 3, trigger 4, complete 3, notify 3, trigger 5, complete 4, complete 5 (1 retained): no retained checkpoint references a deleted file, and 5 restores',
    run: issueSequence,
  },
  {
    name: `${RANDOM_RUNS} random interleavings of trigger / complete / notify (late, reordered, lost) / abort, 1-4 concurrent: retained files always exist, nothing is declined, the latest restores (${formatSeed(RANDOM_SEED)})`,
    run: randomInterleavings,
  },
]);

/** Writes `value` under `keys` in whichever subtask owns each key; the model follows. */
function write(subtasks: ReadonlyArray<KeyedStateBackend<string>>, keys: readonly string[], value: number, model: Map<string, number>): void {
  for (const kb of subtasks) {
    const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, COUNTER);
    for (const k of keysInRange(keys, kb.keyGroupRange, Serializers.string)) {
      kb.setCurrentKey(k);
      state.update(value);
      model.set(k, value);
    }
  }
}

/** Restores the latest retained checkpoint, each old subtask at its own key groups, and compares. */
async function assertRestores(fx: Fixture, driver: ConcurrentCheckpointDriver<string>, expected: ReadonlyMap<string, number>, label: string): Promise<void> {
  const latest = driver.store.latest();
  assert.ok(latest !== undefined, `${label}: a checkpoint is retained`);
  const op = latest.metadata.operators[0]!;
  const ranges = subtaskRanges(op.parallelism);
  for (const st of op.subtasks) {
    const keyGroupRange = ranges[st.subtaskIndex]!;
    const restored = await fx.keyed<string>({ keySerializer: Serializers.string, keyGroupRange, restoreState: st.keyed as KeyedStateHandle[], stateHandleReader: driver.storage });
    const state = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, COUNTER);
    for (const k of keysInRange(KEYS, keyGroupRange, Serializers.string)) {
      restored.setCurrentKey(k);
      assert.equal(state.value(), expected.get(k) ?? 0, `${label}: checkpoint ${latest.checkpointId}, key ${k}`);
    }
    restored.dispose();
  }
}

/** The deterministic reproduction from issue 10, through both ways of driving the store. */
async function issueSequence(fx: Fixture): Promise<void> {
  for (const protocol of ['store-only', 'coordinator'] as const) {
    const storage = await fx.newStorage();
    const kb = await fx.keyed<string>({ keySerializer: Serializers.string });
    const d = new ConcurrentCheckpointDriver(storage, [kb], 1, protocol, MAX_PARALLELISM);
    const model = new Map<string, number>();
    const label = (step: string) => `${protocol}, after ${step}`;
    // Each write before a trigger becomes a new SST: checkpoint 3 uploads one that 4 (which only
    // knows checkpoint 2) uploads again, and that 5 (which knows 3) could reuse.
    write([kb], KEYS, 2, model);
    await d.trigger(2);
    assert.equal(await d.complete(2), 'completed');
    d.notifyComplete(2);
    write([kb], KEYS.slice(0, 200), 3, model);
    await d.trigger(3);
    write([kb], KEYS.slice(100), 4, model);
    const at4 = new Map(model);
    await d.trigger(4);
    assert.equal(await d.complete(3), 'completed');
    await d.assertRetainedFilesExist(label('complete 3'));
    d.notifyComplete(3);
    await d.trigger(5);
    // Completing 4 subsumes 3 and deletes what 3 uploaded and 4 does not use.
    assert.equal(await d.complete(4), 'completed');
    await d.assertRetainedFilesExist(label('complete 4'));
    assert.equal(await d.complete(5), 'completed', `${protocol}: checkpoint 5 completes (it must not reuse a file it cannot keep)`);
    await d.assertRetainedFilesExist(label('complete 5'));
    await assertRestores(fx, d, at4, protocol);
    kb.dispose();
  }
}

type Message = { readonly kind: 'complete' | 'abort'; readonly id: number; readonly subtask: number };

async function randomInterleavings(fx: Fixture): Promise<void> {
  let completed = 0;
  for (let run = 0; run < RANDOM_RUNS; run++) completed += await oneInterleaving(fx, new Prng((RANDOM_SEED + run) >>> 0), `run ${run}`);
  assert.ok(completed >= RANDOM_RUNS, `the interleavings complete checkpoints (${completed})`);
}

/** One random interleaving; returns how many checkpoints completed. */
async function oneInterleaving(fx: Fixture, rand: Prng, run: string): Promise<number> {
  const parallelism = rand.intBetween(1, 2);
  const maxConcurrent = rand.intBetween(1, 4);
  const retained = rand.chance(0.7) ? 1 : 2;
  const steps = rand.intBetween(10, 24);
  const subtasks: Array<KeyedStateBackend<string>> = [];
  for (const keyGroupRange of subtaskRanges(parallelism)) subtasks.push(await fx.keyed<string>({ keySerializer: Serializers.string, keyGroupRange }));
  const d = new ConcurrentCheckpointDriver(await fx.newStorage(), subtasks, retained, 'coordinator', MAX_PARALLELISM);
  const label = `${run} (${formatSeed(rand.seed)}, parallelism ${parallelism}, ${maxConcurrent} concurrent, ${retained} retained)`;
  const model = new Map<string, number>();
  const modelAt = new Map<number, Map<string, number>>();
  const inbox: Message[] = [];
  let nextId = 1;
  let completed = 0;
  for (let step = 0; step < steps; step++) {
    const pending = d.pendingIds;
    const r = rand.int(20);
    if (r < 2) {
      write(subtasks, KEYS.filter(() => rand.chance(0.3)), nextId * 100 + step, model);
    } else if (r < 8 && pending.length < maxConcurrent) {
      // New data before each barrier: every checkpoint has an SST of its own to upload.
      write(subtasks, KEYS.filter(() => rand.chance(0.5)), nextId * 100 + step, model);
      modelAt.set(nextId, new Map(model));
      await d.trigger(nextId++);
    } else if (r < 13 && pending.length > 0) {
      const id = pending[rand.int(pending.length)]!;
      const outcome = await d.complete(id);
      assert.notEqual(outcome, 'declined', `${label}: checkpoint ${id} was declined: the backend reused a file it could not keep`);
      if (outcome === 'completed') {
        completed++;
        for (let s = 0; s < parallelism; s++) inbox.push({ kind: 'complete', id, subtask: s });
      }
    } else if (r < 14 && pending.length > 0) {
      const id = pending[rand.int(pending.length)]!;
      await d.abort(id);
      for (let s = 0; s < parallelism; s++) inbox.push({ kind: 'abort', id, subtask: s });
    } else if (inbox.length > 0) {
      // Notifications arrive late, out of order, or (one in ten) never.
      const m = inbox.splice(rand.int(inbox.length), 1)[0]!;
      if (rand.chance(0.9)) {
        if (m.kind === 'complete') d.notifyComplete(m.id, m.subtask);
        else d.notifyAborted(m.id, m.subtask);
      }
    }
    await d.assertRetainedFilesExist(`${label}, step ${step}`);
  }
  for (const id of d.pendingIds) await d.abort(id);
  await d.assertRetainedFilesExist(`${label}, end`);
  const latest = d.store.latest();
  if (latest !== undefined) await assertRestores(fx, d, modelAt.get(latest.checkpointId)!, label);
  for (const kb of subtasks) kb.dispose();
  return completed;
}
