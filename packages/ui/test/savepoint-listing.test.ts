import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { FlowstateError, ForwardingFileSystem, FsCheckpointStorage, MemoryFileSystem, type FileStatus } from '@flowstate/core';
import { get } from './fixture.js';
import { listSavepoints, startCheckpointUi, type SavepointList } from '../src/index.js';
import { MAX_LISTED_FILES, MAX_LISTED_SAVEPOINTS } from '../src/savepoints.js';

/** A file system whose listing is `entries` as they are: a listing of any length without writing its files. */
class ListingFileSystem extends ForwardingFileSystem {
  constructor(private readonly entries: FileStatus[]) {
    super(new MemoryFileSystem());
  }
  override async list(): Promise<FileStatus[]> {
    return this.entries;
  }
}

/** A listing entry that records whether its path was read (examined). */
function watchedEntry(path: string, examined: Set<number>, index: number): FileStatus {
  return {
    get path() {
      examined.add(index);
      return path;
    },
    size: 1,
  };
}

async function writeFile(fs: MemoryFileSystem, path: string): Promise<void> {
  const w = await fs.create(path);
  await w.write(new Uint8Array(1));
  await w.commit();
}

describe('savepoint listing: bounded', () => {
  it(`a directory of more than ${MAX_LISTED_FILES} files is listed from the first ${MAX_LISTED_FILES} only, and the answer says it was cut`, async () => {
    // 'sp-a' holds the first MAX_LISTED_FILES entries; the savepoint 'sp-late' lies past the bound.
    const examined = new Set<number>();
    const entries = Array.from({ length: MAX_LISTED_FILES + 10 }, (_, i) => watchedEntry(i === 0 ? 'sp-a/_metadata' : i < MAX_LISTED_FILES ? `sp-a/f${i}` : 'sp-late/_metadata', examined, i));
    const ui = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => [], savepoints: { fileSystem: new ListingFileSystem(entries), location: 'memory://ui-many-files/savepoints' } });
    try {
      const r = await get(ui.url, '/api/savepoints');
      assert.equal(r.status, 200, r.body);
      const list = JSON.parse(r.body) as SavepointList;
      assert.equal(list.truncated, true, 'the answer does not say that the listing was cut');
      assert.deepEqual(list.limits, { files: MAX_LISTED_FILES, savepoints: MAX_LISTED_SAVEPOINTS });
      assert.deepEqual(list.savepoints, [{ name: 'sp-a', bytes: MAX_LISTED_FILES }]);
      // The page tells an empty savepoint directory from none given by it.
      assert.equal((list as SavepointList & { location: unknown }).location, 'memory://ui-many-files/savepoints');
      assert.equal(examined.size, MAX_LISTED_FILES, 'not the first MAX_LISTED_FILES entries were examined');
      assert.equal([...examined].filter((i) => i >= MAX_LISTED_FILES).length, 0, 'entries past the bound were examined');
    } finally {
      await ui.close();
    }
  });

  it('without a savepoint directory the answer is empty and its location null (the page says none was given)', async () => {
    const ui = await startCheckpointUi({ checkpoints: new FsCheckpointStorage(new MemoryFileSystem()), history: async () => [] });
    try {
      const r = await get(ui.url, '/api/savepoints');
      assert.equal(r.status, 200, r.body);
      const list = JSON.parse(r.body) as SavepointList & { location: unknown };
      assert.deepEqual([list.savepoints, list.truncated, list.location], [[], false, null]);
    } finally {
      await ui.close();
    }
  });

  it('returns at most the bound of savepoints (the first by name) and says so; under both bounds it is whole', async () => {
    const fs = new MemoryFileSystem();
    for (const name of ['sp-e', 'sp-b', 'sp-d', 'sp-a', 'sp-c']) await writeFile(fs, `${name}/_metadata`);
    await writeFile(fs, 'sp-a/data');

    const cut = await listSavepoints(fs, { savepoints: 3 });
    assert.deepEqual(cut.savepoints.map((s) => s.name), ['sp-a', 'sp-b', 'sp-c']);
    assert.equal(cut.savepoints.length, 3, 'more savepoints kept than the bound');
    assert.equal(cut.truncated, true);

    const fewFiles = await listSavepoints(fs, { files: 4 });
    assert.ok(fewFiles.savepoints.length <= 4);
    assert.equal(fewFiles.truncated, true);

    const whole = await listSavepoints(fs, { files: 6, savepoints: 5 });
    assert.deepEqual(whole, { savepoints: ['sp-a', 'sp-b', 'sp-c', 'sp-d', 'sp-e'].map((name) => ({ name, bytes: name === 'sp-a' ? 2 : 1 })), truncated: false, limits: { files: 6, savepoints: 5 } });

    for (const bad of [0, -1, 1.5, Number.NaN]) await assert.rejects(listSavepoints(fs, { files: bad }), (e) => e instanceof FlowstateError && e.code === 'ILLEGAL_STATE_USAGE');
  });
});
