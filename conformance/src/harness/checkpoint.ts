import assert from 'node:assert/strict';
import {
  CHECKPOINT,
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  serializeCheckpointMetadata,
  StorageNotFoundError,
  type CheckpointOptions,
  type CheckpointStorage,
  type CheckpointStorageLocation,
  type CheckpointStreamFactory,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type OperatorStateHandle,
  type Snapshotable,
  type SnapshotFuture,
  type SnapshotResult,
  type StateHandleReader,
  type SubtaskStateMetadata,
} from '@flowstate/core';
import { expectRejects } from './expect.js';
import { OPERATOR_ID, type Fixture } from './fixture.js';
import { MAX_PARALLELISM } from './keys.js';

export interface CompletedCheckpoint<H> {
  readonly checkpointId: number;
  readonly pointer: string;
  readonly storage: CheckpointStorage;
  /** What each subtask's snapshot produced, in subtask order. */
  readonly results: ReadonlyArray<SnapshotResult<H>>;
  /**
   * Per subtask, its handles as decoded from `_metadata` (empty when it had nothing to snapshot).
   * Restores use these, never the in-memory objects: handles must survive serialization.
   */
  readonly handles: ReadonlyArray<readonly H[]>;
  readonly reader: StateHandleReader;
}

export interface PendingCheckpoint<H> {
  readonly checkpointId: number;
  readonly location: CheckpointStorageLocation;
  /** One per subtask; their synchronous parts have already run. */
  readonly futures: ReadonlyArray<SnapshotFuture<H>>;
  /** Awaits every subtask, writes `_metadata`, notifies completion and reads the handles back. */
  complete(): Promise<CompletedCheckpoint<H>>;
}

export interface CheckpointSettings {
  /** Defaults to the fixture's storage. */
  readonly storage?: CheckpointStorage;
  readonly options?: CheckpointOptions;
  /** Wraps the location's stream factory (to gate or observe writes). */
  readonly streamFactory?: (inner: CheckpointStreamFactory) => CheckpointStreamFactory;
  readonly maxParallelism?: number;
}

type Role = 'keyed' | 'operator';

/**
 * Starts a checkpoint of several subtasks the way a task manager does: the location is prepared
 * first, then every subtask's synchronous part runs back to back with nothing in between. When the
 * returned promise resolves, the caller may mutate state: those writes happen "after snapshot()".
 */
async function begin<H>(fx: Fixture, role: Role, subtasks: ReadonlyArray<Snapshotable<H>>, settings: CheckpointSettings): Promise<PendingCheckpoint<H>> {
  const storage = settings.storage ?? fx.storage;
  const options = settings.options ?? CHECKPOINT;
  const checkpointId = fx.nextCheckpointId();
  const location = await storage.initializeLocationForCheckpoint(checkpointId);
  const factory = settings.streamFactory?.(location.streamFactory) ?? location.streamFactory;
  const timestamp = Date.now();
  const futures = subtasks.map((s) => s.snapshot(checkpointId, timestamp, factory, options));
  futures.forEach((f, i) => assert.equal(f.checkpointId, checkpointId, `subtask ${i}: SnapshotFuture.checkpointId`));

  const complete = async (): Promise<CompletedCheckpoint<H>> => {
    const results = await Promise.all(futures.map((f) => f.result));
    results.forEach((r, i) => checkSizes(r, `subtask ${i} of checkpoint ${checkpointId}`));
    const metaSubtasks: SubtaskStateMetadata[] = results.map((r, subtaskIndex) => {
      const hs = r.jobManagerOwnedSnapshot === null ? [] : [r.jobManagerOwnedSnapshot];
      return role === 'keyed'
        ? { subtaskIndex, keyed: hs as unknown as KeyedStateHandle[], operator: [] }
        : { subtaskIndex, keyed: [], operator: hs as unknown as OperatorStateHandle[] };
    });
    const metadata = serializeCheckpointMetadata({
      checkpointId,
      kind: options.checkpointType,
      timestamp,
      operators: [{ uid: OPERATOR_ID, parallelism: subtasks.length, maxParallelism: settings.maxParallelism ?? MAX_PARALLELISM, subtasks: metaSubtasks }],
    });
    const finalized = await location.finalizeCheckpoint(metadata);
    for (const s of subtasks) s.notifyCheckpointComplete(checkpointId);

    const resolved = await storage.resolveCheckpoint(finalized.pointer);
    const decoded = deserializeCheckpointMetadata(resolved.metadata, `${finalized.pointer}/_metadata`);
    const op = decoded.operators[0];
    assert.ok(op !== undefined, 'the checkpoint metadata lists the operator');
    const handles = op.subtasks.map((st) => (role === 'keyed' ? st.keyed : st.operator) as unknown as H[]);
    return { checkpointId, pointer: finalized.pointer, storage, results, handles, reader: resolved.reader };
  };
  return { checkpointId, location, futures, complete };
}

function checkSizes<H>(r: SnapshotResult<H>, what: string): void {
  assert.ok(Number.isFinite(r.checkpointedSize) && r.checkpointedSize >= 0, `${what}: checkpointedSize ${r.checkpointedSize} >= 0`);
  assert.ok(Number.isFinite(r.fullSize) && r.fullSize >= r.checkpointedSize, `${what}: fullSize ${r.fullSize} >= checkpointedSize ${r.checkpointedSize}`);
  if (r.jobManagerOwnedSnapshot === null) assert.equal(r.fullSize, 0, `${what}: a null snapshot references no bytes`);
}

export function beginKeyedCheckpoint(fx: Fixture, subtasks: ReadonlyArray<Snapshotable<KeyedStateHandle>>, settings: CheckpointSettings = {}): Promise<PendingCheckpoint<KeyedStateHandle>> {
  return begin(fx, 'keyed', subtasks, settings);
}

export async function checkpointKeyed(fx: Fixture, subtasks: ReadonlyArray<Snapshotable<KeyedStateHandle>>, settings: CheckpointSettings = {}): Promise<CompletedCheckpoint<KeyedStateHandle>> {
  return (await begin(fx, 'keyed', subtasks, settings)).complete();
}

export async function checkpointOperator(fx: Fixture, subtasks: ReadonlyArray<Snapshotable<OperatorStateHandle>>, settings: CheckpointSettings = {}): Promise<CompletedCheckpoint<OperatorStateHandle>> {
  return (await begin(fx, 'operator', subtasks, settings)).complete();
}

/**
 * Discards a completed checkpoint through its storage and checks it is gone: not listed, not
 * resolvable, and (for file system storage) no file left in its exclusive directory.
 */
export async function discardAndVerify<H>(cp: CompletedCheckpoint<H>): Promise<void> {
  await cp.storage.discardCheckpoint(cp.checkpointId);
  assert.ok(!(await cp.storage.listCompletedCheckpoints()).includes(cp.pointer), `checkpoint ${cp.checkpointId} is no longer listed after discard`);
  await expectRejects(`resolveCheckpoint('${cp.pointer}') after discard`, StorageNotFoundError, cp.storage.resolveCheckpoint(cp.pointer));
  if (cp.storage instanceof FsCheckpointStorage && cp.storage.layout === 'checkpoints') {
    const left = await cp.storage.fs.list(cp.storage.exclusiveDir(cp.checkpointId));
    assert.deepStrictEqual(left.map((f) => f.path), [], `no files remain in the exclusive directory of checkpoint ${cp.checkpointId}`);
  }
}
