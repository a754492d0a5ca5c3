/**
 * Unaligned checkpoints whose channel state cannot be written: the task's state uploads had
 * succeeded, and their files must not outlive the declined checkpoint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectGarbage, FsCheckpointStorage, ForwardingFileSystem, MemoryFileSystem, Serializers, StorageError, type FileWriter } from '@flowstate/core';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { JobClient, sequenceLog, StreamExecutionEnvironment, type RuntimeHooks } from '../src/index.js';
import { decodeChannelState, type InflightRecords } from '../src/channel-state.js';
import { Gate, heldCounter, quiesce } from './gates.js';


/** Records the keyed operator counts before it waits at the gate: RocksDB then holds state to upload. */
const HOLD_AFTER = 40;

/** The in-flight records of a channel-state file, decoded by the runtime's own decoder; undefined for any other file. */
function channelStateInputs(bytes: Uint8Array, path: string): InflightRecords[] | undefined {
  try {
    return decodeChannelState(bytes, path);
  } catch {
    return undefined;
  }
}

/** True for in-flight records of the keyed operator's input (the source's `{ key }` events; the sink's input is numbers). */
const isKeyedInput = (inputs: readonly InflightRecords[]) => inputs.some((i) => i.records.some((r) => typeof r.value === 'object' && r.value !== null && 'key' in r.value));

/** Fails the commit of every channel-state file; every other file is written as usual. */
class ChannelStateFailingFileSystem extends ForwardingFileSystem {
  failed = 0;
  /** Failed channel-state files holding the keyed operator's in-flight input. */
  failedKeyed = 0;
  /** Files committed under shared/: the SSTs an incremental RocksDB snapshot uploaded. */
  sharedCommitted = 0;

  override async create(path: string): Promise<FileWriter> {
    const w = await this.inner.create(path);
    const chunks: Uint8Array[] = [];
    return {
      write: async (chunk) => {
        chunks.push(new Uint8Array(chunk));
        await w.write(chunk);
      },
      commit: async () => {
        const inputs = channelStateInputs(Buffer.concat(chunks), path);
        if (inputs !== undefined) {
          this.failed++;
          if (isKeyedInput(inputs)) this.failedKeyed++;
          await w.abort();
          throw new StorageError(path, 'injected failure committing channel state');
        }
        await w.commit();
        if (path.startsWith('shared/')) this.sharedCommitted++;
      },
      abort: () => w.abort(),
    };
  }
}

test('a checkpoint whose channel state fails to upload leaves none of the shared files the task uploaded for it', async () => {
  const gate = new Gate();
  let counted = 0;
  let emitted = 0;
  let keyedSnapshots = 0;
  const env = new StreamExecutionEnvironment('channel-state-failure', { parallelism: 1, maxParallelism: 16, bufferCapacity: 8 });
  env
    .fromLog('src', sequenceLog(1, 1_000_000, (_p, o) => ({ key: `k${o % 50}` })))
    .keyBy((r) => r.key, Serializers.string)
    .process<number>(
      'count',
      heldCounter(
        () => (counted >= HOLD_AFTER ? gate.wait() : undefined),
        () => counted++,
      ),
    )
    .sinkTo('discard', () => ({ invoke() {} }));
  const hooks: RuntimeHooks = {
    onEmit(t) {
      if (t.uid === 'src') emitted++;
    },
    beforeSnapshot(t) {
      if (t.uid === 'count') keyedSnapshots++;
    },
  };
  const fs = new ChannelStateFailingFileSystem(new MemoryFileSystem());
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new RocksDBStateBackend({ incrementalCheckpoints: true }),
    checkpointStorage: new FsCheckpointStorage(fs),
    checkpointing: { mode: 'UNALIGNED', timeoutMs: 600_000, tolerableFailedCheckpoints: 10 },
    hooks,
  });
  // The operator waits at the gate with state in RocksDB; records queue up in front of it.
  await quiesce(() => emitted);
  const triggered = job.triggerCheckpoint();
  await quiesce(() => emitted + keyedSnapshots);
  gate.open();
  await assert.rejects(triggered, /DECLINED.*injected failure committing channel state/);
  job.cancel();
  assert.equal((await job.result).status, 'CANCELLED');
  // The keyed task's channel state failed, exactly once; the sink's may have failed too, when
  // records were in flight to it as well and its write started before the abort.
  assert.equal(fs.failedKeyed, 1, "the keyed task's channel-state commit failed");
  assert.ok(fs.failed - fs.failedKeyed <= 1, 'at most the sink wrote channel state besides');
  assert.ok(fs.sharedCommitted > 0, 'the keyed task uploaded SSTs for the checkpoint before its channel state failed');
  const orphans = (await collectGarbage(new FsCheckpointStorage(fs.inner), { dryRun: true })).orphans;
  console.log(`channel state failure: ${fs.sharedCommitted} shared file(s) uploaded, ${orphans.length} left behind (${orphans.join(', ') || 'none'})`);
  assert.deepEqual(orphans, [], 'the SSTs uploaded for the declined checkpoint are deleted');
});
