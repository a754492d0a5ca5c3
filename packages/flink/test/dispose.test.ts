import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PathEscapeError } from '@flowstate/core';
import { disposeFlinkSavepoint, FlinkSavepoint, operatorIdFromUid, referencedStreams, writeFlinkMetadata, type IncrementalKeyedHandle, type StreamStateHandle } from '../src/index.js';
import { fixture, needsFixtures } from './fixtures.js';
import { writeOwnSavepoint } from './own-savepoint.js';

/**
 * A job's checkpoint directory as Flink lays it out: `chk-3/` with `_metadata`, a meta stream and a
 * private file (relative), plus a `shared/` SST referenced by absolute path outside chk-3.
 */
function incrementalCheckpoint(metaRel = 'meta', sharedPath?: string): { root: string; chk: string; sharedSst: string } {
  const root = mkdtempSync(join(tmpdir(), 'flowstate-flink-dispose-'));
  const chk = join(root, 'chk-3');
  mkdirSync(chk);
  mkdirSync(join(root, 'shared'));
  const sharedSst = join(root, 'shared', 'sst-1');
  writeFileSync(sharedSst, Buffer.alloc(10));
  writeFileSync(join(chk, 'meta'), Buffer.alloc(5));
  writeFileSync(join(chk, 'priv'), Buffer.alloc(7));
  const file = (relativePath: string, size: number): StreamStateHandle => ({ type: 'relative-file', relativePath, size });
  const handle: IncrementalKeyedHandle = {
    type: 'incremental', tag: 11, checkpointId: 3n, backendId: '00000000-0000-0000-0000-000000000000', startKeyGroup: 0, numKeyGroups: 4, checkpointedSize: 22n,
    meta: file(metaRel, 5),
    shared: [{ localPath: '000001.sst', handle: { type: 'file', path: sharedPath ?? sharedSst, size: 10 } }],
    private: [{ localPath: 'MANIFEST-000002', handle: file('priv', 7) }],
    stateHandleId: 'h',
  };
  const metadata = writeFlinkMetadata({
    version: 3, checkpointId: 3n, masterStates: [],
    operators: [{
      operatorId: operatorIdFromUid('op'), parallelism: 1, maxParallelism: 4, coordinatorState: null, fullyFinished: false,
      subtasks: [{ index: 0, finished: false, managedOperatorState: null, rawOperatorState: null, managedKeyedState: handle, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [] }],
    }],
  });
  writeFileSync(join(chk, '_metadata'), metadata);
  return { root, chk, sharedSst };
}

describe('disposeFlinkSavepoint (Flink savepoint -d)', () => {
  it('deletes _metadata, every referenced file and the then empty directory of our own savepoint', async () => {
    const dir = writeOwnSavepoint(10, false);
    try {
      const r = await disposeFlinkSavepoint(dir);
      assert.deepEqual(r.deleted, [join(dir, '_metadata'), join(dir, 'keyed-0')]);
      assert.equal(r.directoryRemoved, true);
      assert.equal(existsSync(dir), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves unreferenced files and the directory alone', async () => {
    const dir = writeOwnSavepoint(10, false);
    try {
      writeFileSync(join(dir, 'notes.txt'), 'mine');
      const r = await disposeFlinkSavepoint(join(dir, '_metadata'));
      assert.deepEqual(readdirSync(dir), ['notes.txt']);
      assert.deepEqual(r.leftAlone, [join(dir, 'notes.txt')]);
      assert.equal(r.directoryRemoved, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a retained incremental checkpoint: its own files go, shared/ files outside it stay (Flink would delete them)", async () => {
    const { root, chk, sharedSst } = incrementalCheckpoint();
    try {
      const r = await disposeFlinkSavepoint(chk);
      assert.deepEqual(r.deleted, [join(chk, '_metadata'), join(chk, 'meta'), join(chk, 'priv')]);
      assert.equal(r.bytes, 12);
      assert.deepEqual(r.outside, [sharedSst]);
      assert.equal(existsSync(chk), false);
      assert.equal(existsSync(sharedSst), true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a relative path leaving the directory refuses the dispose before anything is deleted', async () => {
    const { root, chk } = incrementalCheckpoint('../shared/sst-1');
    try {
      await assert.rejects(disposeFlinkSavepoint(chk), PathEscapeError);
      assert.deepEqual(readdirSync(chk).sort(), ['_metadata', 'meta', 'priv']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  const refusals: { name: string; metaRel?: string; sharedPath?: string; link?: boolean; error: (e: Error & { code?: string }) => boolean }[] = [
    { name: 'a file reached through a symlinked subdirectory', metaRel: 'link/victim', link: true, error: (e) => e instanceof PathEscapeError },
    { name: "a missing absolute path whose name is '..'", sharedPath: '/nonexistent/..', error: (e) => e instanceof PathEscapeError },
    { name: 'a file handle (tag 2) whose relative path leaves the directory', sharedPath: '../elsewhere/victim', error: (e) => e instanceof PathEscapeError && e.message.includes('../elsewhere/victim') },
    { name: 'a file URI that is no local path (corrupt metadata)', sharedPath: 'file:///shared%2Fsst-1', error: (e) => e.code === 'CORRUPT_CHECKPOINT' },
  ];
  for (const r of refusals) {
    it(`${r.name} refuses the dispose with a typed error before anything is deleted`, async () => {
      const { root, chk } = incrementalCheckpoint(r.metaRel, r.sharedPath);
      try {
        mkdirSync(join(root, 'elsewhere'));
        writeFileSync(join(root, 'elsewhere', 'victim'), Buffer.alloc(5));
        if (r.link === true) symlinkSync(join(root, 'elsewhere'), join(chk, 'link'));
        await assert.rejects(disposeFlinkSavepoint(chk), r.error);
        assert.deepEqual(readdirSync(chk).sort(), ['_metadata', ...(r.link === true ? ['link'] : []), 'meta', 'priv']);
        assert.equal(existsSync(join(root, 'elsewhere', 'victim')), true);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }

  it('corrupt _metadata is a typed error and nothing is deleted', async () => {
    const dir = writeOwnSavepoint(4, false);
    try {
      writeFileSync(join(dir, '_metadata'), Buffer.from([0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 3, 1]));
      await assert.rejects(disposeFlinkSavepoint(dir), (e: Error & { code?: string }) => e.code === 'CORRUPT_CHECKPOINT' && e.message.includes('_metadata'));
      assert.deepEqual(readdirSync(dir).sort(), ['_metadata', 'keyed-0']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const name of ['new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint', 'new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint', 'new-stateful-udf-migration-itcase-flink1.13-savepoint']) {
    it(`a copy of ${name}: every file deleted, nothing else`, needsFixtures, async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'flowstate-flink-dispose-fx-'));
      try {
        const dir = join(tmp, 'sp');
        cpSync(fixture(name), dir, { recursive: true });
        chmodSync(dir, 0o755);
        for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
        const referenced = new Set<string>();
        for (const h of referencedStreams((await FlinkSavepoint.load(dir)).metadata)) if (h.type === 'relative-file') referenced.add(h.relativePath);
        writeFileSync(join(tmp, 'beside'), 'x');
        const r = await disposeFlinkSavepoint(dir);
        assert.equal(r.deleted.length, 1 + referenced.size);
        assert.deepEqual(r.missing, []);
        assert.deepEqual(r.outside, []);
        assert.equal(r.directoryRemoved, true);
        assert.deepEqual(readdirSync(tmp), ['beside']);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});
