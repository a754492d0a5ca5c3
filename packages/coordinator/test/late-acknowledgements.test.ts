/**
 * Acknowledgements that arrive after their checkpoint was aborted (a snapshot that finished after
 * the checkpoint expired or was declined). The runtime's coordinator runs checkpoints while a
 * task's upload for an aborted one is still going: many may be aborted before it acknowledges.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CHECKPOINT_HISTORY_DIR,
  FsCheckpointStorage,
  MemoryFileSystem,
  type CheckpointStorage,
  type CheckpointStreamFactory,
  type CheckpointedStateScope,
  type FileStateHandle,
} from '@flowstate/core';
import { CheckpointCoordinator, type CheckpointAcknowledgement, type CheckpointAttempt, type CheckpointParticipant, type MetadataLayout, type PendingCheckpoint } from '@flowstate/coordinator';
import { MAX_P } from './counter.js';

const task: CheckpointParticipant = { name: 'op#0', notifyCheckpointComplete: () => {}, notifyCheckpointAborted: () => {} };
const attempt: CheckpointAttempt<CheckpointParticipant> = { attempt: 0, tasks: [task], fail: () => {} };
type Pending = PendingCheckpoint<CheckpointParticipant, CheckpointAcknowledgement>;

/** The lifecycle alone: the test starts the snapshots (`onStart`) and acknowledges them. */
class TestCoordinator extends CheckpointCoordinator<CheckpointParticipant, CheckpointAcknowledgement> {
  onStart: (p: Pending) => void = () => {};
  constructor(storage: CheckpointStorage) {
    const config = { mode: 'EXACTLY_ONCE', intervalMs: undefined, timeoutMs: 600_000, maxConcurrentCheckpoints: 1, minPauseBetweenCheckpointsMs: 0, tolerableFailedCheckpoints: Number.MAX_SAFE_INTEGER, retainedCheckpoints: 1, alignedCheckpointTimeoutMs: undefined } as const;
    super(config, storage, { firstCheckpointId: 1, initial: undefined, log: () => {}, restoreMode: 'NO_CLAIM', history: false });
  }
  protected startSnapshots(p: Pending): void {
    this.onStart(p);
  }
  protected layoutOf(): MetadataLayout {
    return { operators: [{ uid: 'op', parallelism: 1, maxParallelism: MAX_P }], properties: {} };
  }
}

async function write(f: CheckpointStreamFactory, scope: CheckpointedStateScope): Promise<FileStateHandle> {
  const out = f.createCheckpointStateOutputStream(scope);
  await out.write(new Uint8Array([1, 2, 3]));
  return (await out.closeAndGetHandle()) as FileStateHandle;
}

/** A snapshot of one shared file (operator state) and one exclusive file (channel state). */
async function snapshot(f: CheckpointStreamFactory): Promise<CheckpointAcknowledgement> {
  const shared = await write(f, 'SHARED');
  const exclusive = await write(f, 'EXCLUSIVE');
  const stats = { syncDurationMs: 0, asyncDurationMs: 0, alignmentDurationMs: 0, checkpointedSize: 6, fullSize: 6 };
  return { uid: 'op', subtaskIndex: 0, keyed: null, operator: { type: 'operator', stream: shared, stateSize: 3, states: {} }, channelState: exclusive, stats };
}

const pathsOf = (ack: CheckpointAcknowledgement) => [(ack.operator!.stream as FileStateHandle).path, (ack.channelState as FileStateHandle).path];

describe('late acknowledgements', () => {
  it('the files of a late acknowledgement are deleted however many checkpoints were aborted since; a completed checkpoint keeps its files', async () => {
    const fs = new MemoryFileSystem();
    const storage = new FsCheckpointStorage(fs);
    const c = new TestCoordinator(storage);
    c.startAttempt(attempt);
    // Checkpoint 1: the snapshot starts, then the checkpoint is cancelled while it uploads.
    let first: Pending | undefined;
    c.onStart = (p) => (first = p);
    const one = c.trigger('CHECKPOINT', undefined, { final: false, stop: false });
    await assert.rejects(
      (async () => {
        while (first === undefined) await new Promise((r) => setImmediate(r));
        c.cancel(1, 'expired');
        return one;
      })(),
      /expired/,
    );
    // 100 more are aborted (declined at once), and one completes, before the upload of 1 finishes.
    c.onStart = (p) => c.decline(task, p.id, new Error('declined'));
    for (let i = 0; i < 100; i++) await assert.rejects(c.trigger('CHECKPOINT', undefined, { final: false, stop: false }), /declined/);
    c.onStart = (p) => void snapshot(p.location.streamFactory).then((ack) => c.acknowledge(task, p.id, ack));
    const done = await c.trigger('CHECKPOINT', undefined, { final: false, stop: false });
    assert.equal(done.checkpointId, 102);
    const late = await snapshot(first!.location.streamFactory);
    c.acknowledge(task, 1, late);
    // A duplicate of an acknowledgement of the completed checkpoint is not late: nothing of it is deleted.
    const completedAck = { ...done.metadata.operators[0]!.subtasks[0]!, uid: 'op', keyed: null, operator: done.metadata.operators[0]!.subtasks[0]!.operator[0]!, channelState: done.metadata.operators[0]!.subtasks[0]!.channelState![0]!, stats: late.stats };
    c.acknowledge(task, 102, completedAck);
    await c.drainBackground();
    for (const path of pathsOf(late)) assert.equal(await fs.stat(path), null, `${path} of the late acknowledgement is deleted`);
    for (const path of pathsOf(completedAck)) assert.ok((await fs.stat(path)) !== null, `${path} of completed checkpoint 102 survives`);
    const left = (await fs.list('')).map((f) => f.path).filter((p) => !p.startsWith(`${CHECKPOINT_HISTORY_DIR}/`));
    assert.deepEqual(left.sort(), [...pathsOf(completedAck), 'chk-102/_metadata'].sort());
    assert.deepEqual(await storage.listCompletedCheckpoints(), ['chk-102']);
  });
});
