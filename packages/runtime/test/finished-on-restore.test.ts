import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AssertionError,
  deserializeCheckpointMetadata,
  finishedOnRestore,
  FsCheckpointStorage,
  MemoryFileSystem,
  serializeCheckpointMetadata,
  writeCommitted,
  type OperatorSnapshotMetadata,
  type SubtaskStateMetadata,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { JobClient, sequenceLog, StreamExecutionEnvironment, type JobGraph } from '../src/index.js';

// Core's finishedOnRestore is the one rule of which subtasks a restore starts finished, for the
// runtime (job.ts) and the savepoint tools' rewrites alike.

/** Operator 'op' of `parallelism` subtasks; `finished[i]`: subtask i's flag, undefined: not listed. */
function operator(parallelism: number, finished: readonly (boolean | undefined)[]): OperatorSnapshotMetadata {
  const subtasks: SubtaskStateMetadata[] = [];
  finished.forEach((f, subtaskIndex) => f !== undefined && subtasks.push({ subtaskIndex, keyed: [], operator: [], finished: f }));
  return { uid: 'op', parallelism, maxParallelism: 8, subtasks };
}

describe('finishedOnRestore (core)', () => {
  test('at the same parallelism each subtask keeps its own flag; one the metadata does not list did not finish', () => {
    assert.deepEqual(finishedOnRestore(operator(3, [true, false, true]), 3), [true, false, true]);
    // The runtime took every subtask finished here when the listed ones were; a rewrite of the same
    // savepoint at the same layout (existing-operator.ts) kept subtask 1 unfinished.
    assert.deepEqual(finishedOnRestore(operator(2, [true, undefined]), 2), [true, false]);
    assert.deepEqual(finishedOnRestore(operator(2, [undefined, undefined]), 2), [false, false]);
  });

  test('redistributed, all start finished only when every subtask of the operator finished (Flink\'s fully finished operator)', () => {
    assert.deepEqual(finishedOnRestore(operator(2, [true, true]), 3), [true, true, true]);
    assert.deepEqual(finishedOnRestore(operator(2, [true, false]), 3), [false, false, false]);
    // Both rules took an operator with an unlisted subtask for a finished one when the listed ones were.
    assert.deepEqual(finishedOnRestore(operator(2, [true, undefined]), 1), [false]);
    assert.deepEqual(finishedOnRestore(operator(2, [undefined, undefined]), 4), [false, false, false, false]);
    // Key groups moving at the same parallelism (a savepoint rewrite's new maxParallelism or key serializer).
    assert.deepEqual(finishedOnRestore(operator(2, [true, false]), 2, { redistributed: true }), [false, false]);
    assert.deepEqual(finishedOnRestore(operator(2, [true, true]), 2, { redistributed: true }), [true, true]);
  });

  test('a subtask keeps its own flag only at the same parallelism (an assertion: a caller bug)', () => {
    assert.throws(() => finishedOnRestore(operator(2, [true, true]), 3, { redistributed: false }), AssertionError);
    assert.throws(() => finishedOnRestore(operator(2, [true, true]), 0), AssertionError);
  });
});

/** src (two partitions) -> 'end' (counts its endInput calls per subtask) -> a sink that drops everything, at parallelism 2. */
function endJob(endInputs: number[]): JobGraph {
  const env = new StreamExecutionEnvironment('finished-on-restore', { parallelism: 2, bufferCapacity: 8 });
  env
    .fromLog('src', sequenceLog(2, 20, (_p, o) => o))
    .process<string>('end', () => {
      let subtask = -1;
      return {
        open: (ctx) => {
          subtask = ctx.subtaskIndex;
        },
        processElement: () => {},
        endInput: (out) => {
          endInputs.push(subtask);
          out.collect('end');
        },
      };
    })
    .sinkTo('sink', () => ({ invoke: () => {} }));
  return env.getJobGraph();
}

test('restoring a final checkpoint that does not list a subtask of an operator runs that subtask (endInput) again, only it', async () => {
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const endInputs: number[] = [];
  const options = { stateBackend: new FsStateBackend(), checkpointStorage: storage, checkpointing: { mode: 'EXACTLY_ONCE' as const } };
  const first = await JobClient.execute(endJob(endInputs), options);
  assert.equal((await first.result).status, 'FINISHED');
  assert.deepEqual(endInputs.sort(), [0, 1]);
  const pointer = (await storage.listCompletedCheckpoints()).at(-1)!;
  const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint(pointer)).metadata, pointer);
  assert.ok(md.operators.every((o) => o.subtasks.length === 2 && o.subtasks.every((s) => s.finished === true)), 'the final checkpoint lists every subtask, finished');
  // Subtask 1 of 'end' and of 'sink' left out (another writer's metadata may list only some subtasks).
  const partial = { ...md, operators: md.operators.map((o) => (o.uid === 'src' ? o : { ...o, subtasks: o.subtasks.filter((s) => s.subtaskIndex === 0) })) };
  await writeCommitted(fs, `${pointer}/_metadata`, (w) => w.write(serializeCheckpointMetadata(partial)));
  endInputs.length = 0;
  const second = await JobClient.execute(endJob(endInputs), { ...options, restoreFrom: { storage, pointer } });
  assert.equal((await second.result).status, 'FINISHED');
  // Before core's rule, the listed subtask 0 being finished made every subtask start finished.
  assert.deepEqual(endInputs, [1], 'subtask 1 never said it finished: it ran again; subtask 0 did not');
});
