import assert from 'node:assert/strict';
import type { FileStatus, FileSystem } from '@flowstate/core';
import { patternBytes, writeBytes } from '../test-data.js';
import { MiB, sortByPath, storageCase, type StorageCaseGroup } from '../storage-case.js';

/**
 * Bytes an abandoned writer writes: more than one S3 part or WebHDFS write chunk (8 MiB by
 * default), so that a storage which buffers before it sends has sent something.
 */
const ABANDONED_BYTES = 9 * MiB + 7;

function listIncomplete(fs: FileSystem, dir: string): Promise<FileStatus[]> {
  assert.ok(fs.listIncomplete !== undefined, `${fs.scheme}: listIncomplete is not implemented; declare it not applicable with a reason`);
  return fs.listIncomplete(dir);
}

/**
 * listIncomplete: the files of writers that never committed nor aborted (a crashed process), which
 * list() hides and garbage collection deletes with deleteMany. Run only by storages that implement it.
 */
export function incompleteCases(): StorageCaseGroup {
  const requires = ['listIncomplete'] as const;
  return {
    name: 'incomplete files (listIncomplete)',
    cases: [
      storageCase(
        'committed and aborted files are never incomplete; a missing directory has none',
        async (fs, base) => {
          await writeBytes(fs, `${base}/inc/done`, Buffer.from('committed'));
          const w = await fs.create(`${base}/inc/aborted`);
          await w.write(patternBytes(3, 0, ABANDONED_BYTES));
          await w.abort();
          assert.deepEqual(await listIncomplete(fs, `${base}/inc`), []);
          assert.deepEqual(await listIncomplete(fs, `${base}/nothing-here`), []);
          assert.deepEqual(await fs.list(`${base}/inc`), [{ path: `${base}/inc/done`, size: 9 }]);
        },
        requires,
      ),
      storageCase(
        'an abandoned writer leaves an incomplete file below the directory, hidden from list(); deleting it leaves the committed files intact',
        async (fs, base) => {
          await writeBytes(fs, `${base}/gc/keep`, Buffer.from('keep me'));
          const abandoned = await fs.create(`${base}/gc/sub/crashed`);
          await abandoned.write(patternBytes(4, 0, ABANDONED_BYTES));
          // No commit, no abort: the writer's process "crashed" here.
          const incomplete = await listIncomplete(fs, `${base}/gc`);
          assert.equal(incomplete.length, 1, `one incomplete file: ${JSON.stringify(incomplete)}`);
          const [left] = incomplete as [FileStatus];
          assert.ok(left.path.startsWith(`${base}/gc/sub/`), `${left.path} lies below the listed directory, where it was written`);
          assert.notEqual(left.path, `${base}/gc/sub/crashed`, 'an incomplete file never has the final name');
          assert.ok(left.size >= 0 && left.size <= ABANDONED_BYTES, `size ${left.size} is at most what was written`);
          assert.deepEqual(await fs.list(`${base}/gc`), [{ path: `${base}/gc/keep`, size: 7 }], 'list() hides it');
          assert.equal(await fs.stat(`${base}/gc/sub/crashed`), null, 'nothing is visible under the final name');
          assert.deepEqual(sortByPath(await listIncomplete(fs, base)), incomplete, 'listing is recursive');

          await fs.deleteMany(incomplete.map((f) => f.path));
          assert.deepEqual(await listIncomplete(fs, `${base}/gc`), []);
          assert.equal(Buffer.from(await fs.read(`${base}/gc/keep`)).toString(), 'keep me');
          await abandoned.abort().catch(() => {});
        },
        requires,
      ),
    ],
  };
}
