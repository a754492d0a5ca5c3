import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryFileSystem, writeCommitted, type ListState } from '@flowstate/core';
import { TwoPhaseCommitFileSink, type RuntimeContext } from '../src/index.js';

/** Subtask 0 of sink `uid`, restored from a checkpoint that recorded no transaction of it. */
function restoredContext(uid: string): RuntimeContext {
  const state = { get: () => [], update: () => {} } as unknown as ListState<unknown>;
  return { isRestored: true, subtaskIndex: 0, parallelism: 1, attempt: 1, operatorUid: uid, getUnionListState: () => state } as unknown as RuntimeContext;
}

it("a restored two-phase-commit sink aborts its own stale transactions only, not those of a sink whose uid it begins (sinks 'out' and 'out-b' in one directory)", async () => {
  const fs = new MemoryFileSystem();
  const pending = (name: string) => `shared/pending/${name}`;
  const files = ['out-0-0123abcd-a0-c1-0', 'out-1-0123abcd-a0-final-3', 'out-b-0-0123abcd-a0-c1-0', 'out-b-1-0123abcd-a0-final-2', 'outer-0-0123abcd-a0-c1-0'];
  for (const f of files) await writeCommitted(fs, pending(f), (w) => w.write(new Uint8Array([10])));
  const sink = new TwoPhaseCommitFileSink<string>({ fs, directory: 'shared' });
  await sink.initializeState(restoredContext('out'));
  const left = (await fs.list('shared/pending')).map((f) => f.path.slice(f.path.lastIndexOf('/') + 1)).sort();
  assert.deepEqual(left, ['out-b-0-0123abcd-a0-c1-0', 'out-b-1-0123abcd-a0-final-2', 'outer-0-0123abcd-a0-c1-0'], "'out' aborted its own two, and only those");
});
