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
  FsCheckpointStorage,
  MAX_HISTORY_FILE_BYTES,
  MemoryFileSystem,
  readCheckpointHistory,
  UnknownFormatVersionError,
  type CheckpointHistoryEntry,
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

  it('garbage collection leaves the history alone', async () => {
    const fs = new MemoryFileSystem();
    await new CheckpointHistoryWriter(fs).write(entry(1));
    const gc = await collectGarbage(new FsCheckpointStorage(fs));
    assert.deepEqual(gc.orphans, []);
    assert.equal((await readCheckpointHistory(fs)).entries.length, 1);
  });
});
