import assert from 'node:assert/strict';
import {
  CHECKPOINT,
  defaultSerializerRegistry,
  FsCheckpointStorage,
  isKeyGroupsStateHandle,
  KeyGroupRange,
  MapStateDescriptor,
  MemoryFileSystem,
  MsgpackSerializer,
  readKeyedStateHeader,
  readKeyGroups,
  SAVEPOINT,
  Serializers,
  SnapshotCancelledError,
  StateMigrationError,
  ValueStateDescriptor,
  type KeyedStateBackend,
  type SnapshotFuture,
  type KeyedStateHandle,
  type StateHandleReader,
  type StreamStateHandle,
} from '@flowstate/core';
import { beginKeyedCheckpoint, checkpointKeyed } from '../harness/checkpoint.js';
import { assertSameMembers, expectRejects, expectThrows } from '../harness/expect.js';
import type { Fixture } from '../harness/fixture.js';
import { assertNothingLeft, GatedStreamFactory } from '../harness/gated-stream-factory.js';
import { assertMixed, MIXED_DESCRIPTORS, type MixedWorkload } from '../harness/mixed-workload.js';
import { caseSeeds, formatSeed } from '../harness/prng.js';
import { filledBackend } from '../harness/filled-backend.js';
import { restoreKeyed, snapshotAndRestoreOne } from '../harness/restore.js';
import { VOID_NS, VOID_NS_SERIALIZER } from '../harness/state-checks.js';
import { conformanceGroup } from '../registry.js';

const SEEDS = caseSeeds({ isolation: 0x5eed0801, concurrent: 0x5eed0802, cancel: 0x5eed0803, savepoint: 0x5eed0804 });

export const snapshotLifecycleGroup = conformanceGroup('snapshot isolation and lifecycle', [
  { name: 'a backend without registered state snapshots to a null handle and restores from none', run: emptySnapshot },
  { name: 'a state registered but never written survives restore, serializer included', run: registeredNeverWritten },
  { name: `writes made after snapshot() returned are not in the snapshot (${formatSeed(SEEDS.isolation)})`, run: writesAfterSnapshot },
  { name: `two snapshots run concurrently and each restores its own view (${formatSeed(SEEDS.concurrent)})`, run: concurrentSnapshots },
  { name: 'map user keys of a mutable type that the caller changes after snapshot() are not changed in the snapshot', run: mutableUserKeysAfterSnapshot },
  { name: 'a key object the caller changes after setCurrentKey is snapshotted and restored as it was set', run: keyChangedAfterSetCurrentKey },
  {
    name: `cancel() while the asynchronous part writes: result rejects with SnapshotCancelledError and no file is left (${formatSeed(SEEDS.cancel)})`,
    requires: ['asyncSnapshots'],
    run: (fx) => cancelDuringWrite(fx, false),
  },
  {
    name: `cancel() while the asynchronous part closes a stream: result rejects with SnapshotCancelledError and the closed file is deleted (${formatSeed(SEEDS.cancel)})`,
    requires: ['asyncSnapshots'],
    run: (fx) => cancelDuringWrite(fx, true),
  },
  { name: `cancel() right after snapshot() returns; the backend stays usable (${formatSeed(SEEDS.cancel)})`, run: cancelRightAway },
  {
    name: `dispose() while the asynchronous part writes: result rejects with SnapshotCancelledError and no file is left (${formatSeed(SEEDS.cancel)})`,
    requires: ['asyncSnapshots'],
    run: disposeDuringWrite,
  },
  { name: `a savepoint is a canonical key-groups stream with every entry, and restores (${formatSeed(SEEDS.savepoint)})`, run: canonicalSavepoint },
  { name: `a restore from a savepoint reads its key groups with one range request per contiguous run, not one per key group (${formatSeed(SEEDS.savepoint)})`, run: coalescedRestoreReads },
]);

async function emptySnapshot(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  kb.setCurrentKey('a'); // a current key alone registers nothing
  const cp = await checkpointKeyed(fx, [kb]);
  assert.equal(cp.results[0]?.jobManagerOwnedSnapshot, null, 'no registered state: the snapshot handle is null');
  assert.deepStrictEqual(cp.handles, [[]]);
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  assert.deepStrictEqual(restored.getRegisteredStateNames(), []);
  assert.equal(restored.numKeyValueStateEntries(), 0);
}

/** Flink writes meta info of empty states, so that the serializer check still happens on restore. */
async function registeredNeverWritten(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.string });
  const desc = new ValueStateDescriptor<string>('untouched', Serializers.string);
  kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  const cp = await checkpointKeyed(fx, [kb]);
  assert.notEqual(cp.results[0]?.jobManagerOwnedSnapshot, null, 'a registered state is snapshotted even without entries');

  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  assert.ok(restored.getRegisteredStateNames().includes('untouched'), `restored names ${JSON.stringify(restored.getRegisteredStateNames())} include 'untouched'`);
  const err = expectThrows(
    "re-registering restored 'untouched' with an incompatible serializer",
    StateMigrationError,
    () => restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, new ValueStateDescriptor<number>('untouched', Serializers.int32)),
  );
  assert.equal(err.stateName, 'untouched');

  const again = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  const state = again.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  again.setCurrentKey('a');
  assert.equal(state.value(), null);
  assert.equal(again.numKeyValueStateEntries(), 0);
}

async function writesAfterSnapshot(fx: Fixture): Promise<void> {
  const { kb, work, prng, keys } = await filledBackend(fx, SEEDS.isolation, 150);
  const before = work.snapshotModel();

  const pending = await beginKeyedCheckpoint(fx, [kb]);
  // Every kind of write, on old keys and new ones, after the synchronous part returned.
  for (const key of keys) for (let i = prng.int(4); i > 0; i--) work.mutate(key);
  for (const key of prng.uniqueStrings(40, 'new-')) work.mutate(key);
  const cp = await pending.complete();

  assertMixed(kb, work.model, work.keys, 'live backend after the snapshot completed');
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  assertMixed(restored, before, work.keys, 'restored: the state as of snapshot()');
}

type ObjectKey = { k: number };
type ObjectValue = { n: number };

/**
 * A map state hands out its user key objects (keys(), entries()) as it does its values. A heap
 * backend copied a map for a running snapshot on first access, but shared its key objects with
 * the copy: keys the caller changed afterwards were written by the snapshot, under the old identity.
 */
async function mutableUserKeysAfterSnapshot(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: Serializers.int32 });
  const desc = new MapStateDescriptor<ObjectKey, ObjectValue>('object-keys', new MsgpackSerializer<ObjectKey>(), new MsgpackSerializer<ObjectValue>());
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  kb.setCurrentKey(5);
  state.put({ k: 1 }, { n: 1 });
  state.put({ k: 2 }, { n: 2 });
  const pending = await beginKeyedCheckpoint(fx, [kb]);
  for (const [k, v] of state.entries()) {
    k.k += 100;
    v!.n += 100;
  }
  for (const k of state.keys()) k.k += 1000;
  const cp = await pending.complete();
  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.int32 });
  const rs = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  restored.setCurrentKey(5);
  assertSameMembers(rs.entries(), [[{ k: 1 }, { n: 1 }], [{ k: 2 }, { n: 2 }]], 'restored: the map as of snapshot()');
  assert.deepStrictEqual(rs.get({ k: 1 }), { n: 1 }, 'restored: found under its key');
}

/**
 * State is keyed by the key as serialized at setCurrentKey: a KV backend keeps those bytes. A heap
 * backend keeps the key object, and its snapshot serialized it again: a key the caller changed
 * since was written with other bytes, in the block of its old key group, and restore refused the
 * checkpoint as corrupt.
 */
async function keyChangedAfterSetCurrentKey(fx: Fixture): Promise<void> {
  const kb = await fx.keyed({ keySerializer: new MsgpackSerializer<ObjectValue>() });
  const desc = new ValueStateDescriptor<number>('value', Serializers.int32);
  const state = kb.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  const key = { n: 1 };
  kb.setCurrentKey(key);
  state.update(10);
  key.n = 2;
  kb.setCurrentKey({ n: 3 });
  state.update(30);
  const restored = await snapshotAndRestoreOne(fx, kb);
  const rs = restored.getPartitionedState(VOID_NS, VOID_NS_SERIALIZER, desc);
  assertSameMembers(restored.getKeys(desc.name, VOID_NS), [{ n: 1 }, { n: 3 }], 'restored keys');
  for (const [n, expected] of [[1, 10], [2, null], [3, 30]] as const) {
    restored.setCurrentKey({ n });
    assert.equal(rs.value(), expected, `restored: value of key { n: ${n} }`);
  }
}

async function concurrentSnapshots(fx: Fixture): Promise<void> {
  const { kb, work, prng, keys } = await filledBackend(fx, SEEDS.concurrent, 120);
  const view1 = work.snapshotModel();
  const p1 = await beginKeyedCheckpoint(fx, [kb]);
  for (const key of keys) work.mutate(key);
  const view2 = work.snapshotModel();
  const p2 = await beginKeyedCheckpoint(fx, [kb]);
  for (const key of keys) work.mutate(key);
  for (const key of prng.uniqueStrings(20, 'late-')) work.mutate(key);

  // Both asynchronous parts were started before either is awaited.
  await Promise.all([...p1.futures, ...p2.futures].map((f) => f.result));
  const cp1 = await p1.complete();
  const cp2 = await p2.complete();
  assertMixed(kb, work.model, work.keys, 'live backend');
  assertMixed(await restoreKeyed(fx, cp1, { keySerializer: Serializers.string }), view1, work.keys, 'restored from the first snapshot');
  assertMixed(await restoreKeyed(fx, cp2, { keySerializer: Serializers.string }), view2, work.keys, 'restored from the second snapshot');
}


/** After a cancelled snapshot: state unchanged, still writable, and the next checkpoint restores. */
export async function assertUsableAfterCancel(fx: Fixture, kb: KeyedStateBackend<string>, work: MixedWorkload): Promise<void> {
  assertMixed(kb, work.model, work.keys, 'after cancel()');
  for (const key of [...work.keys].slice(0, 30)) work.mutate(key);
  const restored = await snapshotAndRestoreOne(fx, kb);
  assertMixed(restored, work.model, work.keys, 'restored from the checkpoint after the cancelled one');
}

/** `atClose`: cancel() arrives while a stream is being closed, after every write went through. */
async function cancelDuringWrite(fx: Fixture, atClose: boolean): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEEDS.cancel, 200);
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const filesBefore = (await fs.list('')).map((f) => f.path);
  const gated: { factory?: GatedStreamFactory } = {};
  const pending = await beginKeyedCheckpoint(fx, [kb], { storage, streamFactory: (inner) => (gated.factory = new GatedStreamFactory(inner, { closesOnly: atClose })) });
  const gate = gated.factory!;
  const future = pending.futures[0]!;
  const first = await Promise.race([
    gate.firstUse.then(() => 'writing' as const),
    future.result.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
  ]);
  assert.equal(first, 'writing', 'the asynchronous part writes its state after snapshot() returned');

  future.cancel();
  gate.release();
  const err = await expectRejects('result of a snapshot cancelled while writing', SnapshotCancelledError, future.result);
  assert.equal(err.checkpointId, pending.checkpointId);
  // The contract: by the time result rejects, whatever the snapshot wrote is deleted.
  await assertNothingLeft(fs, filesBefore, gate);
  kb.notifyCheckpointAborted(pending.checkpointId);
  await pending.location.disposeOnFailure();
  await assertUsableAfterCancel(fx, kb, work);
}

/** dispose() ends a running snapshot like cancel() does (Flink closes its streams on dispose). */
async function disposeDuringWrite(fx: Fixture): Promise<void> {
  const { kb } = await filledBackend(fx, SEEDS.cancel, 200);
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const gated: { factory?: GatedStreamFactory } = {};
  const pending = await beginKeyedCheckpoint(fx, [kb], { storage, streamFactory: (inner) => (gated.factory = new GatedStreamFactory(inner)) });
  const gate = gated.factory!;
  const future = pending.futures[0]!;
  const first = await Promise.race([gate.firstUse.then(() => 'writing' as const), future.result.then(() => 'resolved' as const, () => 'rejected' as const)]);
  assert.equal(first, 'writing', 'the asynchronous part writes its state after snapshot() returned');

  kb.dispose();
  gate.release();
  const err = await expectRejects('result of a snapshot whose backend was disposed while it wrote', SnapshotCancelledError, future.result);
  assert.equal(err.checkpointId, pending.checkpointId);
  await assertNothingLeft(fs, [], gate);
  await pending.location.disposeOnFailure();
}

async function cancelRightAway(fx: Fixture): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEEDS.cancel, 200);
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const checkpointId = fx.nextCheckpointId();
  const location = await storage.initializeLocationForCheckpoint(checkpointId);
  const observed = new GatedStreamFactory(location.streamFactory, { gated: false });
  // No await between snapshot() and cancel(): the asynchronous part cannot have finished.
  const future: SnapshotFuture<KeyedStateHandle> = kb.snapshot(checkpointId, Date.now(), observed, CHECKPOINT);
  future.cancel();

  let outcome: 'resolved' | 'rejected';
  try {
    await future.result;
    outcome = 'resolved';
  } catch (e) {
    assert.ok(e instanceof SnapshotCancelledError, `a cancelled snapshot rejects with SnapshotCancelledError, got ${String(e)}`);
    assert.equal(e.checkpointId, checkpointId);
    outcome = 'rejected';
  }
  if (outcome === 'resolved') {
    assert.ok(
      !fx.isApplicable('asyncSnapshots'),
      'result resolved although cancel() was called before the asynchronous part could run; only a backend ' +
        "declaring 'asyncSnapshots' not applicable may finish its snapshot in the synchronous part",
    );
  } else {
    await assertNothingLeft(fs, [], observed);
  }
  kb.notifyCheckpointAborted(checkpointId);
  await location.disposeOnFailure();
  await assertUsableAfterCancel(fx, kb, work);
}

/** SAVEPOINT asks for the CANONICAL format: a key-groups stream any backend (and tool) can read. */
async function canonicalSavepoint(fx: Fixture): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEEDS.savepoint, 100);
  for (const key of [...work.keys]) work.mutate(key);
  const cp = await checkpointKeyed(fx, [kb], { options: SAVEPOINT });
  const handle = cp.handles[0]?.[0];
  assert.ok(handle !== undefined && isKeyGroupsStateHandle(handle), `a savepoint handle is a 'key-groups' handle, got '${handle?.type}'`);
  assert.deepStrictEqual(handle.keyGroupRange, kb.keyGroupRange.toJSON());

  const header = await readKeyedStateHeader(cp.reader, handle, defaultSerializerRegistry, cp.checkpointId);
  assert.equal(header.keySerializerSnapshot.typeId, Serializers.string.typeId, 'the header records the key serializer');
  const names = header.states.map((s) => s.name).sort();
  assert.deepStrictEqual(names, [...kb.getRegisteredStateNames()].sort(), 'the header lists every registered state');
  const expectedKinds = Object.fromEntries(Object.values(MIXED_DESCRIPTORS).map((d) => [d.name, d.kind]));
  for (const s of header.states) assert.equal(s.kind, expectedKinds[s.name], `kind of '${s.name}' in the header`);

  // One distinct (state, key, namespace) per entry the backend reports: nothing missing, nothing extra.
  const entries = new Set<string>();
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  await readKeyGroups(cp.reader, handle, header, kb.keyGroupRange, (_g, r) => entries.add(`${r.stateIndex}|${hex(r.key)}|${hex(r.namespace)}`), cp.checkpointId);
  assert.equal(entries.size, kb.numKeyValueStateEntries(), 'the canonical stream holds exactly the backend\'s (key, namespace) entries');

  const restored = await restoreKeyed(fx, cp, { keySerializer: Serializers.string });
  assertMixed(restored, work.model, work.keys, 'restored from the savepoint');
}

/** Counts the range requests a restore sends to storage (the GETs of a remote store). */
function countingReader(inner: StateHandleReader): { reader: StateHandleReader; ranges: Array<{ offset: number; length: number }> } {
  const ranges: Array<{ offset: number; length: number }> = [];
  const reader: StateHandleReader = {
    readFully: (h, id) => inner.readFully(h, id),
    readRange: (h, offset, length, id) => {
      ranges.push({ offset, length });
      return inner.readRange(h, offset, length, id);
    },
    ...(inner.describeHandle === undefined ? {} : { describeHandle: (h: StreamStateHandle) => inner.describeHandle!(h) }),
  };
  return { reader, ranges };
}

/**
 * Issue 16: a savepoint's key groups are adjacent in its stream, so a restore reads each handle's
 * header and then all the key groups it needs in one request (the savepoint here is far below the
 * coalescing limit), also when it takes only part of the handle's range (rescaling).
 */
async function coalescedRestoreReads(fx: Fixture): Promise<void> {
  const { kb, work } = await filledBackend(fx, SEEDS.savepoint, 100);
  const cp = await checkpointKeyed(fx, [kb], { options: SAVEPOINT });
  const handle = cp.handles[0]?.[0];
  assert.ok(handle !== undefined && isKeyGroupsStateHandle(handle), 'a savepoint handle is a key-groups handle');
  assert.ok(handle.keyGroupOffsets.length > 3, 'the handle covers several key groups');
  const whole = countingReader(cp.reader);
  const restored = await restoreKeyed(fx, { ...cp, reader: whole.reader }, { keySerializer: Serializers.string });
  assertMixed(restored, work.model, work.keys, 'restored through the counting reader');
  const blockBytes = handle.stateSize - handle.headerLength;
  const blocks = whole.ranges.filter((r) => r.offset >= handle.headerLength);
  assert.equal(blocks.length, 1, `one range request for all ${handle.keyGroupOffsets.length - 1} key groups, got ${blocks.length}`);
  assert.deepStrictEqual(blocks[0], { offset: handle.headerLength, length: blockBytes }, 'the request covers exactly the key groups');

  const { start, end } = handle.keyGroupRange;
  const half = KeyGroupRange.of(start, start + Math.floor((end - start) / 2));
  const part = countingReader(cp.reader);
  await restoreKeyed(fx, { ...cp, reader: part.reader }, { keySerializer: Serializers.string, keyGroupRange: half, maxParallelism: kb.maxParallelism });
  const partBlocks = part.ranges.filter((r) => r.offset >= handle.headerLength);
  const from = handle.keyGroupOffsets[0]!;
  const to = handle.keyGroupOffsets[half.endKeyGroup - start + 1]!;
  assert.deepStrictEqual(partBlocks, [{ offset: from, length: to - from }], 'a rescaled restore reads its key groups in one request, and no others');
}
