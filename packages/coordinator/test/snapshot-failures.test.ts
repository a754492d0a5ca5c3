/**
 * Snapshots that fail in ways other than a rejected future: synchronously, or for one half of a
 * subtask (keyed or operator) while the other half succeeded.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CHECKPOINT_HISTORY_DIR,
  FsCheckpointStorage,
  MemoryFileSystem,
  SHARED_STATE_DIR,
  StorageError,
  type CheckpointStorageLocation,
  type FileStateHandle,
  type KeyedStateBackend,
} from '@flowstate/core';
import { CheckpointFailedError, EmbeddedCheckpointCoordinator } from '@flowstate/coordinator';
import { fileBackend, MAX_P } from './counter.js';

/** A keyed backend whose snapshot fails: synchronously (`sync`), or its future rejects. */
function failingKeyed(sync: boolean): KeyedStateBackend<string> {
  const backend = {
    snapshot: (checkpointId: number) => {
      if (sync) throw new Error('synchronous part failed');
      return { checkpointId, syncDurationMs: 0, cancel: () => {}, result: new Promise((_, reject) => setImmediate(() => reject(new Error('asynchronous part failed')))) };
    },
    notifyCheckpointComplete: () => {},
    notifyCheckpointAborted: () => {},
    dispose: () => {},
  };
  return backend as unknown as KeyedStateBackend<string>;
}

/** `promise`, or a rejection after `ms` (the coordinator's timeout is ten minutes). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe('failing snapshots', () => {
  it('a snapshot whose synchronous part throws declines the checkpoint at once; the next one is not held up', async () => {
    const fs = new MemoryFileSystem();
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs) });
    c.register({ uid: 'ok', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    const unregister = c.register({ uid: 'bad', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: failingKeyed(true) });
    await within(
      assert.rejects(c.triggerCheckpoint(), (e: unknown) => e instanceof CheckpointFailedError && e.reason === 'DECLINED' && /synchronous part failed/.test(e.message)),
      2000,
    );
    unregister();
    const ok = await within(c.triggerCheckpoint(), 2000);
    assert.equal(ok.checkpointId, 2);
    await within(c.close(), 2000);
    const shared = (await fs.list(SHARED_STATE_DIR)).map((f) => f.path);
    assert.deepEqual(shared, [(ok.metadata.operators[0]!.subtasks[0]!.operator[0]!.stream as FileStateHandle).path], 'the failed checkpoint left no shared file');
  });

  it("a subtask whose keyed snapshot fails while its operator snapshot succeeds leaves none of the operator's shared files", async () => {
    const fs = new MemoryFileSystem();
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs) });
    c.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: failingKeyed(false), operator: fileBackend(() => undefined) });
    await assert.rejects(c.triggerCheckpoint(), (e: unknown) => e instanceof CheckpointFailedError && e.reason === 'DECLINED');
    await c.close();
    assert.deepEqual((await fs.list('')).map((f) => f.path).filter((p) => !p.startsWith(`${CHECKPOINT_HISTORY_DIR}/`)), [], 'nothing left on storage but the history');
  });

  it('a checkpoint with no registered subtask fails at once (TRIGGER_FAILED), instead of waiting for its timeout or completing empty', async () => {
    const fs = new MemoryFileSystem();
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs) });
    await within(
      assert.rejects(c.triggerCheckpoint(), (e: unknown) => e instanceof CheckpointFailedError && e.reason === 'TRIGGER_FAILED'),
      2000,
    );
    await c.close();
    assert.deepEqual(await new FsCheckpointStorage(fs).listCompletedCheckpoints(), [], 'no empty checkpoint was completed');
  });

  it("a checkpoint whose storage location cannot be initialized rejects with CheckpointFailedError TRIGGER_FAILED, the storage error as its cause", async () => {
    const failure = new StorageError('chk-1', 'injected failure creating the checkpoint directory');
    const storage = new (class extends FsCheckpointStorage {
      override initializeLocationForCheckpoint(): Promise<CheckpointStorageLocation> {
        return Promise.reject(failure);
      }
    })(new MemoryFileSystem());
    const c = await EmbeddedCheckpointCoordinator.open({ storage, log: () => {} });
    c.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: fileBackend(() => undefined) });
    await within(
      assert.rejects(c.triggerCheckpoint(), (e: unknown) => {
        assert.ok(e instanceof CheckpointFailedError, String(e));
        assert.equal(e.reason, 'TRIGGER_FAILED');
        assert.equal(e.checkpointId, 1);
        assert.equal(e.cause, failure);
        assert.match(e.message, /injected failure creating the checkpoint directory/);
        return true;
      }),
      2000,
    );
    await within(c.close(), 2000);
  });

  it('a backend that throws when told a checkpoint completed or was aborted does not hold up the checkpoint', async () => {
    const fs = new MemoryFileSystem();
    const c = await EmbeddedCheckpointCoordinator.open({ storage: new FsCheckpointStorage(fs), log: () => {} });
    const operator = Object.assign(fileBackend(() => undefined), {
      notifyCheckpointComplete: () => {
        throw new Error('complete');
      },
      notifyCheckpointAborted: () => {
        throw new Error('aborted');
      },
    });
    c.register({ uid: 'op', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator });
    // Registered after the one that throws: it is told all the same.
    const told: string[] = [];
    const listener = Object.assign(fileBackend(() => undefined), {
      notifyCheckpointComplete: (id: number) => told.push(`complete ${id}`),
      notifyCheckpointAborted: (id: number) => told.push(`aborted ${id}`),
    });
    c.register({ uid: 'listener', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, operator: listener });
    assert.equal((await within(c.triggerCheckpoint(), 2000)).checkpointId, 1);
    const unregister = c.register({ uid: 'bad', subtaskIndex: 0, parallelism: 1, maxParallelism: MAX_P, keyed: failingKeyed(false) });
    await within(
      assert.rejects(c.triggerCheckpoint(), (e: unknown) => e instanceof CheckpointFailedError && e.reason === 'DECLINED'),
      2000,
    );
    unregister();
    assert.equal((await within(c.triggerCheckpoint(), 2000)).checkpointId, 3);
    await within(c.close(), 2000);
    assert.deepEqual(await new FsCheckpointStorage(fs).listCompletedCheckpoints(), ['chk-3'], 'checkpoint 3 subsumed checkpoint 1');
    assert.deepEqual(told, ['complete 1', 'aborted 2', 'complete 3']);
  });
});
