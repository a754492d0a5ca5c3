import assert from 'node:assert/strict';
import {
  CHECKPOINT,
  FsCheckpointStorage,
  ListStateDescriptor,
  MemoryFileSystem,
  Serializers,
  SnapshotCancelledError,
  type OperatorStateBackend,
  type Snapshotable,
} from '@flowstate/core';
import { beginKeyedCheckpoint, checkpointOperator } from '../harness/checkpoint.js';
import { expectRejects } from '../harness/expect.js';
import { FaultyStreamFactory, InjectedStorageFailure } from '../harness/faulty-stream-factory.js';
import { filledBackend } from '../harness/filled-backend.js';
import type { Fixture } from '../harness/fixture.js';
import { assertNothingLeft, GatedStreamFactory } from '../harness/gated-stream-factory.js';
import { assertMixed } from '../harness/mixed-workload.js';
import { caseSeed, formatSeed } from '../harness/prng.js';
import { restoreKeyed } from '../harness/restore.js';
import { conformanceGroup } from '../registry.js';
import { assertUsableAfterCancel } from './snapshot-lifecycle.js';

const SEED = caseSeed(0x5eed0d01);

/**
 * What every snapshot guarantees about its asynchronous part, however it ends (in core, the
 * SnapshotStrategyRunner's contract): cancelled by a signal or dispose() before it started, it
 * opens nothing; failed by storage, it reports the storage's error and leaves no file.
 */
export const snapshotRunnerGroup = conformanceGroup('snapshot cancellation, failure and disposal', [
  { name: `a signal aborted before snapshot() is called: result rejects with SnapshotCancelledError and no stream is opened (${formatSeed(SEED)})`, run: signalAbortedBefore },
  {
    name: `a signal aborted right after snapshot() returned: result rejects with SnapshotCancelledError before any stream is opened (${formatSeed(SEED)})`,
    requires: ['asyncSnapshots'],
    run: (fx) => stoppedBeforeAsyncPart(fx, 'signal'),
  },
  {
    name: `dispose() right after snapshot() returned: result rejects with SnapshotCancelledError before any stream is opened (${formatSeed(SEED)})`,
    requires: ['asyncSnapshots'],
    run: (fx) => stoppedBeforeAsyncPart(fx, 'dispose'),
  },
  { name: `the first stream write fails: result rejects with that storage error, every stream is aborted, no file is left, the next checkpoint restores (${formatSeed(SEED)})`, run: (fx) => failingStorage(fx, 'write') },
  { name: `the last stream close fails: result rejects with that storage error, the files already closed are deleted, the next checkpoint restores (${formatSeed(SEED)})`, run: (fx) => failingStorage(fx, 'close') },
  { name: `cancel() after the result resolved changes nothing: the snapshot's files stay and it restores (${formatSeed(SEED)})`, run: cancelAfterResolved },
  { name: 'an operator snapshot whose stream write fails: result rejects with that storage error and no file is left', requires: ['operatorState'], run: failingOperatorWrite },
  { name: 'an operator snapshot cancelled by a signal right after snapshot() returned: rejects with SnapshotCancelledError, no stream is opened', requires: ['operatorState', 'asyncSnapshots'], run: operatorSignal },
]);

/** Storage that records the streams a snapshot opens, on a fresh in-memory file system. */
async function observedLocation(fx: Fixture) {
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const checkpointId = fx.nextCheckpointId();
  const location = await storage.initializeLocationForCheckpoint(checkpointId);
  return { fs, checkpointId, location, observed: new GatedStreamFactory(location.streamFactory, { gated: false }) };
}

async function expectCancelledWithoutStreams(what: string, checkpointId: number, result: Promise<unknown>, observed: GatedStreamFactory): Promise<void> {
  const err = await expectRejects(what, SnapshotCancelledError, result);
  assert.equal(err.checkpointId, checkpointId, 'the error names the checkpoint');
  assert.equal(observed.streams.length, 0, `${what}: no stream is opened, ${observed.streams.length} were`);
}

async function signalAbortedBefore(fx: Fixture): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEED, 200);
  const { fs, checkpointId, location, observed } = await observedLocation(fx);
  const controller = new AbortController();
  controller.abort();
  const future = kb.snapshot(checkpointId, Date.now(), observed, CHECKPOINT, controller.signal);
  await expectCancelledWithoutStreams('snapshot with an aborted signal', checkpointId, future.result, observed);
  await assertNothingLeft(fs, [], observed);
  kb.notifyCheckpointAborted(checkpointId);
  await location.disposeOnFailure();
  await assertUsableAfterCancel(fx, kb, work);
}

/** Between the synchronous and the asynchronous part: nothing may have been written yet, nor be. */
async function stoppedBeforeAsyncPart(fx: Fixture, how: 'signal' | 'dispose'): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEED, 200);
  const { fs, checkpointId, location, observed } = await observedLocation(fx);
  const controller = new AbortController();
  const future = kb.snapshot(checkpointId, Date.now(), observed, CHECKPOINT, controller.signal);
  // No await in between: the asynchronous part has not started.
  if (how === 'signal') controller.abort();
  else kb.dispose();
  await expectCancelledWithoutStreams(`snapshot stopped by ${how} right after snapshot()`, checkpointId, future.result, observed);
  await assertNothingLeft(fs, [], observed);
  await location.disposeOnFailure();
  if (how === 'dispose') return;
  kb.notifyCheckpointAborted(checkpointId);
  await assertUsableAfterCancel(fx, kb, work);
}

/** Closes a snapshot of `kb` makes (a dry run, aborted afterwards, so that nothing becomes reusable). */
async function countCloses(fx: Fixture, kb: Snapshotable<unknown>): Promise<number> {
  const { checkpointId, location, observed } = await observedLocation(fx);
  await kb.snapshot(checkpointId, Date.now(), observed, CHECKPOINT).result;
  kb.notifyCheckpointAborted(checkpointId);
  await location.disposeOnFailure();
  return observed.streams.filter((s) => s.handle !== undefined).length;
}

async function failingStorage(fx: Fixture, operation: 'write' | 'close'): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEED, 200);
  // The last close: every other file of the snapshot is closed by then, and must be deleted.
  const failOn = operation === 'write' ? 1 : await countCloses(fx, kb);
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const streams: { observed?: GatedStreamFactory; faulty?: FaultyStreamFactory } = {};
  const pending = await beginKeyedCheckpoint(fx, [kb], {
    storage,
    streamFactory: (inner) => (streams.observed = new GatedStreamFactory((streams.faulty = new FaultyStreamFactory(inner, operation, failOn)), { gated: false })),
  });
  const err = await expectRejects(`snapshot whose ${operation} #${failOn} fails`, InjectedStorageFailure, pending.futures[0]!.result);
  assert.equal(err, streams.faulty!.injected, 'result rejects with the storage error itself');
  const closed = streams.observed!.streams.filter((s) => s.handle !== undefined).length;
  if (operation === 'close') assert.equal(closed, failOn - 1, 'every other stream was closed before the last close failed');
  await assertNothingLeft(fs, [], streams.observed!);
  kb.notifyCheckpointAborted(pending.checkpointId);
  await pending.location.disposeOnFailure();
  await assertUsableAfterCancel(fx, kb, work);
}

async function cancelAfterResolved(fx: Fixture): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEED, 200);
  const before = work.snapshotModel();
  const pending = await beginKeyedCheckpoint(fx, [kb]);
  const future = pending.futures[0]!;
  await future.result;
  future.cancel();
  for (const key of [...work.keys].slice(0, 20)) work.mutate(key);
  const cp = await pending.complete();
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  assertMixed(restored, before, work.keys, 'restored from a snapshot cancelled after it finished');
}

const OPERATOR_LIST = new ListStateDescriptor<string>('list', Serializers.string);

async function filledOperator(fx: Fixture): Promise<OperatorStateBackend> {
  const ob = await fx.operator();
  ob.getListState(OPERATOR_LIST).addAll(['a', 'b', 'c']);
  return ob;
}

async function assertOperatorRestores(fx: Fixture, ob: OperatorStateBackend): Promise<void> {
  const cp = await checkpointOperator(fx, [ob]);
  const restored = await fx.operator({ restoreState: cp.handles.flat(), stateHandleReader: cp.reader });
  assert.deepStrictEqual([...restored.getListState(OPERATOR_LIST).get()], ['a', 'b', 'c'], 'the checkpoint after the failed one restores');
}

async function failingOperatorWrite(fx: Fixture): Promise<void> {
  const ob = await filledOperator(fx);
  const { fs, checkpointId, location } = await observedLocation(fx);
  const faulty = new FaultyStreamFactory(location.streamFactory, 'write', 1);
  const observed = new GatedStreamFactory(faulty, { gated: false });
  const err = await expectRejects('operator snapshot whose first write fails', InjectedStorageFailure, ob.snapshot(checkpointId, Date.now(), observed, CHECKPOINT).result);
  assert.equal(err, faulty.injected, 'result rejects with the storage error itself');
  await assertNothingLeft(fs, [], observed);
  ob.notifyCheckpointAborted(checkpointId);
  await location.disposeOnFailure();
  await assertOperatorRestores(fx, ob);
}

async function operatorSignal(fx: Fixture): Promise<void> {
  const ob = await filledOperator(fx);
  const { fs, checkpointId, location, observed } = await observedLocation(fx);
  const controller = new AbortController();
  const future = ob.snapshot(checkpointId, Date.now(), observed, CHECKPOINT, controller.signal);
  controller.abort();
  await expectCancelledWithoutStreams('operator snapshot stopped by its signal', checkpointId, future.result, observed);
  await assertNothingLeft(fs, [], observed);
  ob.notifyCheckpointAborted(checkpointId);
  await location.disposeOnFailure();
  await assertOperatorRestores(fx, ob);
}
