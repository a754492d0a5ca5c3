import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { collectGarbage, FileSystemRegistry, FsCheckpointStorage, type FileSystem } from '@flowstate/core';
import { localFileSystemProvider } from '@flowstate/storage-local';
import { garbageCollect } from '../src/checkpoint/gc.js';
import { scanRoot } from '../src/checkpoint/root.js';
import { writeCheckpointRoot } from './checkpoint-fixture.js';
import { runCli } from './in-process.js';
import { ExitCode } from '../src/index.js';

const local = mkdtempSync(join(tmpdir(), 'flowstate-cli-root-'));
after(() => rmSync(local, { recursive: true, force: true }));

/** The file system with its root listings counted (each is one or more requests on S3 or HDFS, a walk of the tree on local disk). */
function countingRootLists(fs: FileSystem): { fs: FileSystem; rootLists: () => number } {
  let n = 0;
  const counted = new Proxy(fs, {
    get(target, prop, receiver) {
      if (prop === 'list') return (dir: string) => (dir === '' && n++, target.list(dir));
      if (prop === 'listIncomplete' && target.listIncomplete !== undefined) return (dir: string) => (dir === '' && n++, target.listIncomplete!(dir));
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { fs: counted, rootLists: () => n };
}

// One listing of the root is list('') plus listIncomplete(''): 2 counted calls.
it('scanning a checkpoint directory lists its root once (the completeness check reuses that listing)', async () => {
  const fs = new FileSystemRegistry().register(localFileSystemProvider).resolve(join(local, 'root'));
  const fixture = await writeCheckpointRoot(fs, mkdtempSync(join(local, 'rocksdb-')));
  const counted = countingRootLists(fs);
  const scan = await scanRoot({ display: 'root', uri: new URL('file:///root'), fs: counted.fs, storage: new FsCheckpointStorage(counted.fs) });
  assert.equal(counted.rootLists(), 2);
  // And the one listing still finds what the scan found before: completed, in progress, incomplete.
  assert.deepEqual(scan.checkpoints.filter((c) => c.status === 'COMPLETED').map((c) => c.checkpointId), [...fixture.completed]);
  assert.deepEqual(scan.checkpoints.filter((c) => c.status !== 'COMPLETED').map((c) => [c.checkpointId, c.status]), [[fixture.inProgress, 'IN_PROGRESS'], [fixture.incomplete, 'INCOMPLETE']].sort((a, b) => Number(a[0]) - Number(b[0])));
});

it('garbage collection lists the root once (the collector reuses the listing the report sizes come from)', async () => {
  const fs = new FileSystemRegistry().register(localFileSystemProvider).resolve(join(local, 'gc-root'));
  const fixture = await writeCheckpointRoot(fs, mkdtempSync(join(local, 'rocksdb-')));
  const counted = countingRootLists(fs);
  const r = await garbageCollect({ display: 'root', uri: new URL('file:///root'), fs: counted.fs, storage: new FsCheckpointStorage(counted.fs) }, false, []);
  assert.equal(counted.rootLists(), 2);
  // The same orphans as a collection that lists for itself: the in-progress and the incomplete checkpoint's files.
  assert.deepEqual(r.files.map((f) => f.path), (await collectGarbage(new FsCheckpointStorage(fs), { dryRun: true })).orphans);
  assert.ok(r.files.some((f) => f.path.startsWith(`chk-${fixture.inProgress}/`)) && r.files.some((f) => f.path.startsWith(`chk-${fixture.incomplete}/`)));
});

it("gc refuses a directory holding files that are no checkpoint's (a home directory, a parent of job directories): nothing is deleted", async () => {
  const home = mkdtempSync(join(local, 'home-'));
  mkdirSync(join(home, 'docs'));
  writeFileSync(join(home, 'docs', 'thesis.txt'), 'years of work');
  // A parent of job directories (Flink's state.checkpoints.dir holds <job-id>/chk-<id>/).
  const parent = mkdtempSync(join(local, 'jobs-'));
  await writeCheckpointRoot(new FileSystemRegistry().register(localFileSystemProvider).resolve(join(parent, 'job-1')), mkdtempSync(join(local, 'rocksdb-')));
  for (const dir of [home, parent]) {
    const before = readdirSync(dir, { recursive: true }).sort();
    for (const args of [['checkpoint', 'gc', dir], ['checkpoint', 'gc', dir, '--apply']]) {
      const r = await runCli(args);
      assert.equal(r.code, ExitCode.USAGE, r.stdout + r.stderr);
      assert.match(r.stderr, /not a job's checkpoint directory.*nothing was deleted/);
    }
    assert.deepEqual(readdirSync(dir, { recursive: true }).sort(), before);
  }
});
