import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  computeKeyGroupRangeForOperatorIndex,
  serializeCheckpointMetadata,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  type CheckpointStreamFactory,
  type StreamStateHandle,
  type SubtaskStateMetadata,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { localCheckpointStorage } from '@flowstate/storage-local';
import {
  convertSavepoint,
  migrateSavepoint,
  rescaleSavepoint,
  SavepointReader,
  SavepointWriter,
  UnsupportedSavepointOperationError,
  validateSavepoint,
  type SavepointWriteResult,
} from '../src/index.js';
import { freshDirs, NATIVE } from './helpers.js';

const fresh = freshDirs();
const MAX_P = 8;
const VALUE = new ValueStateDescriptor('v', Serializers.string);
/** In-flight records: opaque bytes to the savepoint tools (the runtime decodes them on restore). */
const INFLIGHT = new Uint8Array(100).fill(7);

/** Per subtask of a two-subtask keyed operator: finished, or holding in-flight records, or neither, or not in the metadata at all. */
type SubtaskKind = 'finished' | 'inflight' | 'running' | 'unlisted';

/** A retained checkpoint `chk-1` of operator 'k' (two heap subtasks with a value state), as an unaligned or final checkpoint leaves it. */
async function checkpoint(kinds: readonly [SubtaskKind, SubtaskKind]): Promise<string> {
  const root = fresh();
  const loc = await localCheckpointStorage(root).initializeLocationForCheckpoint(1);
  const subtasks: SubtaskStateMetadata[] = [];
  for (const [i, kind] of kinds.entries()) {
    if (kind === 'unlisted') continue;
    const range = computeKeyGroupRangeForOperatorIndex(MAX_P, 2, i);
    const b = await new FsStateBackend().createKeyedStateBackend({ operatorIdentifier: 'k', keySerializer: Serializers.string, maxParallelism: MAX_P, keyGroupRange: range });
    for (let j = 0; j < 20; j++) {
      try {
        b.setCurrentKey(`key${j}`);
      } catch {
        continue; // another subtask's key group
      }
      b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, VALUE).update(`v${j}`);
    }
    const keyed = (await b.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot!;
    b.dispose();
    const extra = kind === 'finished' ? { finished: true } : kind === 'inflight' ? { channelState: [await inflight(loc.streamFactory)] } : {};
    subtasks.push({ subtaskIndex: i, keyed: [keyed], operator: [], ...extra });
  }
  await loc.finalizeCheckpoint(serializeCheckpointMetadata({ checkpointId: 1, kind: 'CHECKPOINT', timestamp: 1, operators: [{ uid: 'k', parallelism: 2, maxParallelism: MAX_P, subtasks }] }));
  return join(root, 'chk-1');
}

async function inflight(factory: CheckpointStreamFactory): Promise<StreamStateHandle> {
  const out = factory.createCheckpointStateOutputStream('EXCLUSIVE');
  await out.write(INFLIGHT);
  return (await out.closeAndGetHandle())!;
}

/** What each subtask carries besides its state: finished, and the bytes of its channel state (read from `dir`). */
async function carried(dir: string): Promise<Array<{ finished: boolean; inflight: number[] }>> {
  const reader = await SavepointReader.load(dir);
  const op = reader.metadata.operators[0]!;
  const out = [];
  for (const s of [...op.subtasks].sort((a, b) => a.subtaskIndex - b.subtaskIndex)) {
    const bytes = [];
    for (const h of s.channelState ?? []) bytes.push((await reader.dir.reader.readFully(h)).length);
    out.push({ finished: s.finished === true, inflight: bytes });
  }
  return out;
}

/** The output is complete and valid: every file it references is there, nothing unreferenced. */
async function assertComplete(dir: string, native = false): Promise<void> {
  await (await SavepointReader.load(dir)).verifyComplete();
  const report = await validateSavepoint(dir, native ? NATIVE : {});
  assert.deepEqual(report.problems, [], dir);
}

describe('unaligned and final checkpoints (channel state, finished subtasks) through the savepoint tools', () => {
  const input = [
    { finished: true, inflight: [] },
    { finished: false, inflight: [INFLIGHT.length] },
  ];

  it('convert, migrate and native conversion copy the channel state and keep the finished flags', async () => {
    const chk = await checkpoint(['finished', 'inflight']);
    await assertComplete(chk);
    const outs: Array<[string, () => Promise<SavepointWriteResult>, boolean]> = [
      ['canonical', () => convertSavepoint(chk, join(fresh(), 'canonical'), 'canonical'), false],
      ['migrate', () => migrateSavepoint(chk, join(fresh(), 'migrate'), 1), false],
      ['native', () => convertSavepoint(chk, join(fresh(), 'native'), 'native-rocksdb', NATIVE), true],
    ];
    for (const [name, write, native] of outs) {
      const out = (await write()).directory;
      await assertComplete(out, native);
      assert.deepEqual(await carried(out), input, name);
    }
  });

  it('a rewrite that keeps every key group with its subtask keeps their channel state and finished flags', async () => {
    const chk = await checkpoint(['finished', 'inflight']);
    const out = join(fresh(), 'out');
    await SavepointWriter.fromExisting(await SavepointReader.load(chk))
      .transformKeyedState('k', 'v', { map: (e) => `${String(e.value)}!` })
      .write(out);
    await assertComplete(out);
    assert.deepEqual(await carried(out), input);
    const file = (await SavepointReader.load(out)).metadata.operators[0]!.subtasks[1]!.channelState![0]!;
    assert.deepEqual(new Uint8Array(readFileSync(join(out, (file as { path: string }).path))), INFLIGHT);
  });

  it('refuses to move in-flight records to other subtasks (rescale, maxParallelism, key serializer), leaving no output', async () => {
    const chk = await checkpoint(['finished', 'inflight']);
    const refused = (e: unknown) => e instanceof UnsupportedSavepointOperationError && e.code === 'UNSUPPORTED_OPERATION' && /in-flight records/.test(e.message);
    const rewrites: Array<(out: string) => Promise<unknown>> = [
      (out) => rescaleSavepoint(chk, out, { maxParallelism: MAX_P, parallelism: 3 }),
      (out) => rescaleSavepoint(chk, out, { maxParallelism: 16 }),
      async (out) => SavepointWriter.fromExisting(await SavepointReader.load(chk)).changeKeySerializer('k', Serializers.string, (k) => `new-${String(k)}`).write(out),
    ];
    for (const rewrite of rewrites) {
      const out = join(fresh(), 'out');
      await assert.rejects(rewrite(out), refused);
      assert.equal(existsSync(out), false);
    }
  });

  it('rescaled, an operator all of whose subtasks finished stays finished; a partly finished one does not', async () => {
    for (const [kinds, finished] of [
      [['finished', 'finished'], true],
      [['finished', 'running'], false],
      // A subtask the metadata does not list never said it finished (core's finishedOnRestore, the runtime's rule too).
      [['finished', 'unlisted'], false],
    ] as const) {
      const out = join(fresh(), 'out');
      await rescaleSavepoint(await checkpoint(kinds), out, { maxParallelism: MAX_P, parallelism: 3 });
      await assertComplete(out);
      assert.deepEqual(await carried(out), Array.from({ length: 3 }, () => ({ finished, inflight: [] })), kinds.join());
    }
  });
});
