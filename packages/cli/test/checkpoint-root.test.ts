import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { FileSystemRegistry, FsCheckpointStorage, type FileSystem } from '@flowstate/core';
import { localFileSystemProvider } from '@flowstate/storage-local';
import { scanRoot } from '../src/checkpoint/root.js';
import { writeCheckpointRoot } from './checkpoint-fixture.js';

const local = mkdtempSync(join(tmpdir(), 'flowstate-cli-root-'));
after(() => rmSync(local, { recursive: true, force: true }));

/** The file system with its root listings counted (a listing is one or more requests on S3 or HDFS). */
function countingRootLists(fs: FileSystem): { fs: FileSystem; rootLists: () => number } {
  let n = 0;
  const counted = new Proxy(fs, {
    get(target, prop, receiver) {
      if (prop === 'list') return (dir: string) => (dir === '' && n++, target.list(dir));
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { fs: counted, rootLists: () => n };
}

it('scanning a checkpoint directory lists its root once (the completeness check reuses that listing)', async () => {
  const fs = new FileSystemRegistry().register(localFileSystemProvider).resolve(join(local, 'root'));
  const fixture = await writeCheckpointRoot(fs, mkdtempSync(join(local, 'rocksdb-')));
  const counted = countingRootLists(fs);
  const scan = await scanRoot({ display: 'root', uri: new URL('file:///root'), fs: counted.fs, storage: new FsCheckpointStorage(counted.fs) });
  assert.equal(counted.rootLists(), 1);
  // And the one listing still finds what the scan found before: completed, in progress, incomplete.
  assert.deepEqual(scan.checkpoints.filter((c) => c.status === 'COMPLETED').map((c) => c.checkpointId), [...fixture.completed]);
  assert.deepEqual(scan.checkpoints.filter((c) => c.status !== 'COMPLETED').map((c) => [c.checkpointId, c.status]), [[fixture.inProgress, 'IN_PROGRESS'], [fixture.incomplete, 'INCOMPLETE']].sort((a, b) => Number(a[0]) - Number(b[0])));
});
