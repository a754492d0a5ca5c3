/**
 * The embeddable checkpoint coordinator in a plain event loop, without the runtime: a keyed counter
 * over a replayable input (event i counts for key `k<i mod 7>`), checkpointed to a storage URI
 * (`s3://bucket/prefix`, or a local path). Replay contract: the input offset is operator state in
 * the same checkpoint as the counts, so after a crash the restored counts are exactly those of the
 * events before the restored offset, and the loop resumes there: nothing lost, nothing counted twice.
 * Usage: node embedded-counter.js <checkpoint URI> [events] [checkpoint every n events] [pause at event]
 */
import '@flowstate/storage-local';
import '@flowstate/storage-s3';
import { computeKeyGroupRangeForOperatorIndex, fileSystemRegistry, FsCheckpointStorage, ListStateDescriptor, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { EmbeddedCheckpointCoordinator, subtaskRestoreState } from '@flowstate/coordinator';
import { FsStateBackend } from '@flowstate/heap';

const [uri = 'embedded-counter-checkpoints', events = '20000', every = '1000', pauseAt = '-1'] = process.argv.slice(2);
const MAX_P = 128;
const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const OFFSET = new ListStateDescriptor<number>('offset', Serializers.int32);
const storage = new FsCheckpointStorage(fileSystemRegistry.resolve(uri));
// CLAIM: this process owns its checkpoint directory across restarts (retention deletes old ones).
const coordinator = await EmbeddedCheckpointCoordinator.open({ storage, retainedCheckpoints: 2, restoreMode: 'CLAIM' });
const backend = new FsStateBackend();
const { keyed, operator } = await coordinator.restore(async (point) => {
  const r = subtaskRestoreState(point, 'counter', 0, 1);
  const reader = r ? { stateHandleReader: r.reader } : {};
  const range = computeKeyGroupRangeForOperatorIndex(MAX_P, 1, 0);
  const keyed = await backend.createKeyedStateBackend({ operatorIdentifier: 'counter#0', keySerializer: Serializers.string, maxParallelism: MAX_P, keyGroupRange: range, restoreState: r?.keyed ?? [], ...reader });
  const operator = await backend.createOperatorStateBackend({ operatorIdentifier: 'counter#0', restoreState: r?.operator ?? [], ...reader }).catch((e: unknown) => {
    keyed.dispose();
    throw e;
  });
  return { keyed, operator };
});
coordinator.register({ uid: 'counter', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed, operator });
const count = keyed.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT);
const offsetState = operator.getListState(OFFSET);
const counts = (): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const k of [...keyed.getKeys('count', VoidNamespace)].sort()) (keyed.setCurrentKey(k), (out[k] = count.value() ?? 0));
  return out;
};
let offset = offsetState.get()[0] ?? 0;
console.log(`restored ${coordinator.restorePoint?.checkpointId ?? 'nothing'} offset ${offset} counts ${JSON.stringify(counts())}`);
for (const n = Number(events); offset < n; ) {
  keyed.setCurrentKey(`k${offset % 7}`);
  count.update((count.value() ?? 0) + 1);
  offset++;
  if (offset % Number(every) === 0 || offset === n) {
    offsetState.update([offset]); // Between two events the state is consistent: checkpoint here.
    console.log(`checkpoint ${(await coordinator.triggerCheckpoint()).checkpointId} offset ${offset}`);
  }
  // A test crashes the process here (SIGKILL) with events processed since the last checkpoint.
  if (offset === Number(pauseAt)) await new Promise(() => setInterval(() => console.log(`paused at ${offset}`), 1000));
  if (offset % 256 === 0) await new Promise(setImmediate);
}
console.log(`done offset ${offset} counts ${JSON.stringify(counts())}`);
await coordinator.close();
