import assert from 'node:assert/strict';
import { CHECKPOINT, CorruptLocalStateError, FsCheckpointStorage, MemoryFileSystem, Serializers, type KeyedStateBackend } from '@flowstate/core';
import { checkpointKeyed } from '../harness/checkpoint.js';
import { expectRejects } from '../harness/expect.js';
import { GatedStreamFactory } from '../harness/gated-stream-factory.js';
import type { Fixture } from '../harness/fixture.js';
import { assertMixed } from '../harness/mixed-workload.js';
import { caseSeed, formatSeed } from '../harness/prng.js';
import { filledBackend } from '../harness/filled-backend.js';
import { restoreKeyed } from '../harness/restore.js';
import { conformanceGroup } from '../registry.js';

const SEED = caseSeed(0x5eed0b01);

export const localFilesGroup = conformanceGroup('local files uploaded by the asynchronous part', [
  {
    name: `a local file damaged after the synchronous part fails the checkpoint with CorruptLocalStateError naming file and checkpoint (${formatSeed(SEED)})`,
    requiresHooks: ['corruptLocalSnapshotFile'],
    run: damagedBeforeUpload,
  },
]);

/**
 * An incremental checkpoint whose local copy of a new file is damaged between the synchronous and
 * the asynchronous part must fail, not upload the damage under a fresh checksum for every later
 * checkpoint to reuse. The next checkpoint then completes and restores everything.
 */
async function damagedBeforeUpload(fx: Fixture): Promise<void> {
  const corrupt = fx.hooks.corruptLocalSnapshotFile;
  assert.ok(corrupt !== undefined, 'the case runs only with the corruptLocalSnapshotFile hook');
  const { kb, work, prng } = await filledBackend(fx, SEED, 300);
  // Always a file system in memory, whatever storage the suite configured: we list its files.
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  // A completed, confirmed checkpoint first: the failing one is incremental on top of it.
  await checkpointKeyed(fx, [kb], { storage });
  work.fill(prng.uniqueStrings(300, 'more-'));
  const filesBefore = (await fs.list('')).map((f) => f.path);

  const checkpointId = fx.nextCheckpointId();
  const location = await storage.initializeLocationForCheckpoint(checkpointId);
  const streams = new GatedStreamFactory(location.streamFactory, { gated: false });
  const future = kb.snapshot(checkpointId, Date.now(), streams, CHECKPOINT);
  // Synchronously: nothing of the asynchronous part has run yet.
  const file = corrupt(kb as KeyedStateBackend<unknown>, checkpointId);
  const err = await expectRejects(`checkpoint ${checkpointId} with '${file}' damaged`, CorruptLocalStateError, future.result);
  assert.equal(err.checkpointId, checkpointId, 'the error names the checkpoint');
  assert.ok(err.message.includes(file), `the error names the file '${file}': ${err.message}`);
  assert.ok(err.message.includes(`checkpoint ${checkpointId}`), `the message names checkpoint ${checkpointId}: ${err.message}`);
  assert.deepStrictEqual((await fs.list('')).map((f) => f.path), filesBefore, 'the failed checkpoint deleted every file it wrote');
  assert.deepStrictEqual(streams.unsettled.map((st) => st.scope), [], 'every stream the failed checkpoint opened was aborted or closed');
  kb.notifyCheckpointAborted(checkpointId);

  const cp = await checkpointKeyed(fx, [kb], { storage });
  assertMixed(await restoreKeyed(fx, cp, { keySerializer: Serializers.string }), work.model, work.keys, 'restored from the checkpoint after the failed one');
}
