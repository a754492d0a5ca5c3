import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryFileSystem } from '@flowstate/core';
import { FaultInjectingFileSystem, listStorageConformanceCases, runStorageConformance, type StorageConformanceTestApi } from '../src/storage/index.js';

interface Registered {
  readonly path: string;
  readonly skip: string | boolean | undefined;
  readonly fn: () => Promise<void>;
}

/** A test API that records what the suite registers instead of running it (as vitest or any other runner would see it). */
function recordingApi() {
  const stack: string[] = [];
  const recorded = { tests: [] as Registered[], afters: 0 };
  const api: StorageConformanceTestApi = {
    describe: (name, fn) => {
      stack.push(name);
      fn();
      stack.pop();
    },
    it: (name, options, fn) => recorded.tests.push({ path: [...stack, name].join(' > '), skip: options.skip, fn }),
    after: () => recorded.afters++,
  };
  return { api, recorded };
}

describe('storage conformance suite with an injected describe/it', () => {
  it('registers every case through the injected API, and the cleanup as `after`', () => {
    const { api, recorded } = recordingApi();
    runStorageConformance({ name: 'X', createFileSystem: async () => new MemoryFileSystem(), cleanup: async () => {}, test: api });
    assert.equal(recorded.tests.length, listStorageConformanceCases().length);
    assert.ok(recorded.tests.every((t) => t.path.startsWith('storage conformance: X > ')));
    assert.equal(recorded.afters, 1);
    assert.ok(recorded.tests.some((t) => t.path.includes('incomplete files (listIncomplete)')));
  });

  it('cases of a capability declared not applicable are skipped with the reason; the others run', () => {
    const { api, recorded } = recordingApi();
    runStorageConformance({ name: 'X', createFileSystem: async () => new MemoryFileSystem(), notApplicable: { listIncomplete: 'no temp files here' }, test: api });
    const skipped = recorded.tests.filter((t) => t.skip !== undefined);
    assert.deepEqual(
      skipped.map((t) => t.path.split(' > ')[1]),
      listStorageConformanceCases().filter((c) => c.requires.includes('listIncomplete')).map((c) => c.group),
    );
    assert.ok(skipped.length >= 2);
    for (const t of skipped) assert.equal(t.skip, 'listIncomplete not applicable: no temp files here');
  });

  it('refuses an unknown capability and a declaration without a reason', () => {
    const create = async () => new MemoryFileSystem();
    const api = recordingApi().api;
    assert.throws(() => runStorageConformance({ name: 'X', createFileSystem: create, notApplicable: { listIncomplet: 'typo' } as never, test: api }), /unknown capability 'listIncomplet'/);
    assert.throws(() => runStorageConformance({ name: 'X', createFileSystem: create, notApplicable: { listIncomplete: ' ' }, test: api }), /without a reason/);
  });

  it('the listIncomplete cases fail for a storage that lacks the method without declaring it, or that hides abandoned writers', async () => {
    const casesOf = (create: () => Promise<MemoryFileSystem | FaultInjectingFileSystem>) => {
      const { api, recorded } = recordingApi();
      runStorageConformance({ name: 'X', createFileSystem: create, test: api });
      return recorded.tests.filter((t) => t.path.includes('(listIncomplete)'));
    };
    for (const t of casesOf(async () => new MemoryFileSystem())) {
      await assert.rejects(t.fn(), /listIncomplete is not implemented; declare it not applicable/, t.path);
    }
    // FaultInjectingFileSystem answers listIncomplete with [] when the wrapped storage has none: wrong for a crash.
    const [, abandoned] = casesOf(async () => new FaultInjectingFileSystem(new MemoryFileSystem()));
    await assert.rejects(abandoned!.fn(), /one incomplete file/);
  });

  it('the deleteEmptyDirectory cases fail for a storage that lacks the method without declaring it, or whose removal is recursive', async () => {
    const casesOf = (create: () => Promise<MemoryFileSystem>) => {
      const { api, recorded } = recordingApi();
      runStorageConformance({ name: 'X', createFileSystem: create, test: api });
      return recorded.tests.filter((t) => t.path.includes('(deleteEmptyDirectory)'));
    };
    const undeclared = casesOf(async () => new MemoryFileSystem());
    assert.equal(undeclared.length, 2);
    for (const t of undeclared) await assert.rejects(t.fn(), /deleteEmptyDirectory is not implemented; declare it not applicable/, t.path);
    // A removal that takes what is in the directory along: the case that keeps a directory holding a file fails.
    const recursive = async () => Object.assign(new MemoryFileSystem(), { deleteEmptyDirectory: async function (this: MemoryFileSystem, dir: string) { await this.deleteDirectory(dir); return true; } });
    const [, keeps] = casesOf(recursive);
    await assert.rejects(keeps!.fn(), assert.AssertionError);
  });
});

describe('FaultInjectingFileSystem', () => {
  it('applies its delete faults to deleteEmptyDirectory, and has the method only when the wrapped storage has it', async () => {
    assert.equal('deleteEmptyDirectory' in new FaultInjectingFileSystem(new MemoryFileSystem()), false);
    const removed: string[] = [];
    const inner = Object.assign(new MemoryFileSystem(), {
      deleteEmptyDirectory: async (dir: string) => {
        removed.push(dir);
        return true;
      },
    });
    const fs = new FaultInjectingFileSystem(inner);
    assert.equal(await fs.deleteEmptyDirectory!('a'), true);
    fs.mode = 'permanent';
    fs.failDeletes = true;
    await assert.rejects(fs.deleteEmptyDirectory!('b'), /injected permanent fault on delete/);
    fs.mode = 'none';
    fs.failDeleteOf = (p) => p === 'c';
    await assert.rejects(fs.deleteEmptyDirectory!('c'), /injected none fault on delete/);
    assert.deepEqual(removed, ['a']);
    assert.equal(fs.injected.deletes, 2);
  });
});
