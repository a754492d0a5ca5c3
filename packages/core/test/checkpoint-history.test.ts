import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  CHECKPOINT_HISTORY_DIR,
  checkpointHistoryEntry,
  checkpointHistoryFileName,
  CheckpointHistoryWriter,
  collectGarbage,
  CorruptCheckpointError,
  decodeCheckpointHistoryEntry,
  encodeCheckpointHistoryEntry,
  ForwardingFileSystem,
  FsCheckpointStorage,
  IllegalStateUsageError,
  MAX_HISTORY_FILE_BYTES,
  MemoryFileSystem,
  readCheckpointHistory,
  UnknownFormatVersionError,
  type CheckpointHistoryEntry,
  StorageNotFoundError,
  type FileStatus,
  type ReadRange,
} from '@flowstate/core';

function entry(id: number, over: Partial<Parameters<typeof checkpointHistoryEntry>[0]> = {}): CheckpointHistoryEntry {
  return checkpointHistoryEntry({ checkpointId: id, kind: 'CHECKPOINT', status: 'COMPLETED', triggerTimestamp: 1_700_000_000_000 + id, durationMs: 12, pointer: `chk-${id}`, ...over }, [
    { operatorUid: 'b', subtaskIndex: 0, syncDurationMs: 1, asyncDurationMs: 7, alignmentDurationMs: 0, checkpointedSize: 10, fullSize: 100 },
    { operatorUid: 'a', subtaskIndex: 1, syncDurationMs: 3, asyncDurationMs: 2, alignmentDurationMs: 4, checkpointedSize: 50, fullSize: 50 },
  ]);
}

describe('checkpoint history format', () => {
  it('summarizes subtasks: maxima, sums, incremental when fewer bytes were uploaded than referenced', () => {
    const e = entry(3);
    assert.deepEqual([e.syncDurationMaxMs, e.asyncDurationMaxMs, e.alignmentDurationMaxMs, e.checkpointedSize, e.fullSize], [3, 7, 4, 60, 150]);
    assert.equal(e.snapshotType, 'INCREMENTAL');
    assert.deepEqual(e.subtasks.map((s) => s.operatorUid), ['a', 'b']);
    assert.equal(checkpointHistoryEntry({ ...e, status: 'FAILED' }, [e.subtasks[0]!]).snapshotType, 'FULL');
  });

  it('round-trips and rejects a flipped byte, a truncation, an unknown version and garbage, naming the file', () => {
    const bytes = encodeCheckpointHistoryEntry(entry(7, { failureCause: 'x' }));
    assert.deepEqual(decodeCheckpointHistoryEntry(bytes, 'f'), entry(7, { failureCause: 'x' }));
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 5]! ^= 1;
    assert.throws(() => decodeCheckpointHistoryEntry(flipped, 'hist-file'), (e: unknown) => e instanceof CorruptCheckpointError && /hist-file.*CRC32C/.test(e.message));
    assert.throws(() => decodeCheckpointHistoryEntry(bytes.subarray(0, bytes.length - 3), 'f'), CorruptCheckpointError);
    const v2 = Buffer.from(Buffer.from(bytes).toString('utf8').replace('history 1 ', 'history 2 '));
    assert.throws(() => decodeCheckpointHistoryEntry(v2, 'f'), UnknownFormatVersionError);
    assert.throws(() => decodeCheckpointHistoryEntry(Buffer.from('hello\n'), 'f'), CorruptCheckpointError);
    const body = Buffer.from(JSON.stringify({ checkpointId: 1 }));
    assert.throws(() => decodeCheckpointHistoryEntry(Buffer.from(`flowstate-checkpoint-history 1 00000000 ${body.length}\n${body}\n`), 'f'), CorruptCheckpointError);
    assert.throws(() => decodeCheckpointHistoryEntry(new Uint8Array(MAX_HISTORY_FILE_BYTES + 1), 'f'), /exceeds the limit/);
  });

  it('a writer keeps the newest N files; the reader returns them oldest first and reports unreadable ones without hiding the rest', async () => {
    const fs = new MemoryFileSystem();
    const w = new CheckpointHistoryWriter(fs, 3);
    for (const id of [1, 2, 3, 4, 5]) await w.write(entry(id));
    const files = (await fs.list(CHECKPOINT_HISTORY_DIR)).map((f) => f.path).sort();
    assert.deepEqual(files, [3, 4, 5].map((id) => checkpointHistoryFileName(entry(id))));
    const bad = await fs.create(checkpointHistoryFileName(entry(6)));
    await bad.write(Buffer.from('flowstate-checkpoint-history 1 00000000 2\n{}\n'));
    await bad.commit();
    // A later writer (a restarted job) continues the same history and its retention.
    await new CheckpointHistoryWriter(fs, 10).write(entry(8));
    const h = await readCheckpointHistory(fs);
    assert.deepEqual(h.entries.map((e) => e.checkpointId), [3, 4, 5, 8]);
    assert.equal(h.unreadable.length, 1);
    assert.match(h.unreadable[0]!.file, /000000000006-/);
    assert.deepEqual((await readCheckpointHistory(fs, { maxEntries: 2 })).entries.map((e) => e.checkpointId), [8]);
  });

  it("concurrent writes share the writer's one listing: no write replaces the names another tracked, so retention holds", async () => {
    let firstListed!: () => void;
    const firstListing = new Promise<void>((r) => (firstListed = r));
    let secondListed!: () => void;
    const secondListing = new Promise<void>((r) => (secondListed = r));
    let lists = 0;
    // The first listing of the history is taken before the second write commits and returns after
    // a second listing did (or, when there is none, a moment later).
    const fs = new (class extends ForwardingFileSystem {
      override async list(dir: string): Promise<FileStatus[]> {
        if (dir !== CHECKPOINT_HISTORY_DIR) return this.inner.list(dir);
        const n = ++lists;
        const listing = await this.inner.list(dir);
        if (n === 1) {
          firstListed();
          await Promise.race([secondListing, new Promise((r) => setTimeout(r, 50))]);
        } else if (n === 2) setImmediate(secondListed);
        return listing;
      }
    })(new MemoryFileSystem());
    const w = new CheckpointHistoryWriter(fs, 2);
    const first = w.write(entry(1));
    await firstListing;
    await Promise.all([first, w.write(entry(2))]);
    for (const id of [3, 4]) await w.write(entry(id));
    const files = (await fs.list(CHECKPOINT_HISTORY_DIR)).map((f) => f.path).sort();
    assert.deepEqual(files, [3, 4].map((id) => checkpointHistoryFileName(entry(id))), 'the newest 2 files are kept, none escapes retention');
  });

  it('the reader reads at most maxBytes of the newest files (by their listed sizes) and counts the older ones it left unread; a bad limit is refused', async () => {
    const memory = new MemoryFileSystem();
    const w = new CheckpointHistoryWriter(memory);
    for (const id of [1, 2, 3, 4, 5]) await w.write(entry(id));
    let bytesRead = 0;
    const fs = new (class extends ForwardingFileSystem {
      override async read(path: string, range?: ReadRange): Promise<Uint8Array> {
        const bytes = await this.inner.read(path, range);
        bytesRead += bytes.length;
        return bytes;
      }
    })(memory);
    const size = encodeCheckpointHistoryEntry(entry(5)).length;
    const h = await readCheckpointHistory(fs, { maxBytes: 2 * size + 1 });
    assert.deepEqual(h.entries.map((e) => e.checkpointId), [4, 5]);
    assert.equal(h.omitted, 3);
    assert.ok(bytesRead <= 2 * size + 1, `${bytesRead} bytes read`);
    assert.equal((await readCheckpointHistory(fs, { maxEntries: 3 })).omitted, 2);
    assert.equal((await readCheckpointHistory(fs)).omitted, 0);
    for (const options of [{ maxEntries: NaN }, { maxEntries: Infinity }, { maxEntries: -1 }, { maxBytes: NaN }, { maxBytes: 1.5 }]) {
      bytesRead = 0;
      await assert.rejects(readCheckpointHistory(fs, options), IllegalStateUsageError);
      assert.equal(bytesRead, 0);
    }
  });

  it('only files named as history files directly in _history/ are history: others and nested ones are neither read nor pruned', async () => {
    const fs = new MemoryFileSystem();
    const put = async (path: string, bytes: Uint8Array) => {
      const f = await fs.create(path);
      await f.write(bytes);
      await f.commit();
    };
    const nested = `${CHECKPOINT_HISTORY_DIR}/old/${checkpointHistoryFileName(entry(1)).split('/').pop()}`;
    await put(nested, encodeCheckpointHistoryEntry(entry(1)));
    await put(`${CHECKPOINT_HISTORY_DIR}/notes.txt`, Buffer.from('kept by the user\n'));
    const w = new CheckpointHistoryWriter(fs, 1);
    for (const id of [2, 3]) await w.write(entry(id));
    const files = (await fs.list(CHECKPOINT_HISTORY_DIR)).map((f) => f.path).sort();
    assert.deepEqual(files, [checkpointHistoryFileName(entry(3)), `${CHECKPOINT_HISTORY_DIR}/notes.txt`, nested].sort(), 'pruning kept the newest history file and never touched the others');
    const h = await readCheckpointHistory(fs);
    assert.deepEqual(h.entries.map((e) => e.checkpointId), [3]);
    assert.deepEqual([h.unreadable.length, h.omitted], [0, 0]);
  });

  it('a file is read up to its listed size (one that grew since is not read past it), and one pruned since its listing is counted as omitted', async () => {
    const memory = new MemoryFileSystem();
    const w = new CheckpointHistoryWriter(memory);
    for (const id of [1, 2, 3]) await w.write(entry(id));
    const grown = checkpointHistoryFileName(entry(2));
    const pruned = checkpointHistoryFileName(entry(1));
    const ranges: Array<ReadRange | undefined> = [];
    const fs = new (class extends ForwardingFileSystem {
      override async read(path: string, range?: ReadRange): Promise<Uint8Array> {
        ranges.push(range);
        if (path === pruned) throw new StorageNotFoundError(path);
        if (path !== grown) return this.inner.read(path, range);
        // The file as it is now: a megabyte longer than when it was listed.
        const now = Buffer.concat([await this.inner.read(path), Buffer.alloc(1 << 20)]);
        return range === undefined ? now : now.subarray(range.offset, range.offset + range.length);
      }
    })(memory);
    const h = await readCheckpointHistory(fs);
    assert.deepEqual(h.entries.map((e) => e.checkpointId), [2, 3]);
    assert.deepEqual([h.unreadable.length, h.omitted], [0, 1]);
    const size = encodeCheckpointHistoryEntry(entry(2)).length;
    assert.deepEqual(ranges, [1, 2, 3].map(() => ({ offset: 0, length: size })), 'each read asks for the listed bytes only');
  });

  it('garbage collection leaves the history alone', async () => {
    const fs = new MemoryFileSystem();
    await new CheckpointHistoryWriter(fs).write(entry(1));
    const gc = await collectGarbage(new FsCheckpointStorage(fs));
    assert.deepEqual(gc.orphans, []);
    assert.equal((await readCheckpointHistory(fs)).entries.length, 1);
  });
});
