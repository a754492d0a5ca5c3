/**
 * Checkpoint lifecycle across aborts and runs: an abort whose `_metadata` survives never leaves a
 * checkpoint that references deleted files; later runs recover and subsume earlier runs'
 * checkpoints; a restore whose newest checkpoint is unreadable falls back to an older one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FaultInjectingFileSystem } from '@flowstate/conformance';
import {
  collectGarbage,
  collectStreamHandles,
  CorruptCheckpointError,
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  MemoryFileSystem,
  type FileSystem,
  type StateBackend,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { InMemoryUpsertTable, JobClient, JobFailedError, type JobOptions } from '../src/index.js';
import { expectedUpsertCounts, upsertCountJob } from './count-jobs.js';
import { SourceGate } from '../src/testing.js';

const PARTITIONS = 4;
const KEYS_PER_PARTITION = 13;
/** Records per partition: a run held at its gate is mid-way, two held runs leave input for a third. */
const RECORDS = 400;
/** Records each source subtask (two partitions) emits before a closed gate holds it. */
const HOLD_AFTER = 100;

/**
 * Periodic checkpoints complete while a gate holds the input (see SourceGate), not because the
 * job runs long enough: the tests see the checkpoints they wait for on any machine.
 */
function countJob(table: InMemoryUpsertTable<number>, records: number, gate?: SourceGate) {
  const job = { name: 'lifecycle', parallelism: 2, maxParallelism: 32, bufferCapacity: 8, partitions: PARTITIONS, keysPerPartition: KEYS_PER_PARTITION };
  return upsertCountJob({ ...job, records, table, yieldBefore: () => false, ...(gate ? { gate } : {}) });
}

const expectedCounts = (records: number) => expectedUpsertCounts(PARTITIONS, KEYS_PER_PARTITION, records);

const sorted = (t: InMemoryUpsertTable<number>) => new Map([...t.rows].sort());

/** Every `chk-N/_metadata` on the file system, read directly (no completeness filter in between). */
async function metadataOnStorage(fs: FileSystem) {
  const out = [];
  for (const f of await fs.list('')) {
    const m = /^chk-(\d+)\/_metadata$/.exec(f.path);
    if (m) out.push({ id: Number(m[1]), metadata: deserializeCheckpointMetadata(await fs.read(f.path), f.path) });
  }
  return out.sort((a, b) => a.id - b.id);
}

/** Files that checkpoints with `_metadata` reference but that are missing or have another size. */
async function missingReferencedFiles(fs: FileSystem): Promise<string[]> {
  const missing: string[] = [];
  for (const { id, metadata } of await metadataOnStorage(fs)) {
    for (const h of collectStreamHandles(metadata)) {
      if (h.type !== 'file') continue;
      const st = await fs.stat(h.path);
      if (st === null || st.size !== h.size) missing.push(`chk-${id} -> ${h.path}`);
    }
  }
  return missing;
}

/** Runs the job, its input held mid-way, until `stopAfter` checkpoints completed in this run, then kills it (cancel). */
async function runUntilCheckpoints(options: JobOptions, table: InMemoryUpsertTable<number>, records: number, stopAfter: number) {
  let client: JobClient | undefined;
  client = await JobClient.execute(countJob(table, records, new SourceGate(HOLD_AFTER)), {
    ...options,
    hooks: {
      beforeNotifyComplete() {
        if (client && client.checkpointStats.filter((s) => s.status === 'COMPLETED').length >= stopAfter) client.cancel();
      },
    },
  });
  const result = await client.result;
  assert.equal(result.status, 'CANCELLED', 'the run was killed before its input ended');
  return client;
}

for (const [what, failAlways] of [
  ['fails for good: the checkpoint stays complete, none of its files is deleted', true],
  ['fails once: it is retried after the next completed checkpoint and nothing is left', false],
] as const) {
  test(`a lost _metadata response whose metadata delete ${what}`, async () => {
    const records = RECORDS;
    const fs = new FaultInjectingFileSystem(new MemoryFileSystem());
    const storage = new FsCheckpointStorage(fs);
    const victim = 'chk-3/_metadata';
    let deleteFailures = 0;
    fs.loseCommitResponse = (p) => p === victim;
    fs.failDeleteOf = (p) => (p === victim || p === 'chk-3') && (failAlways || deleteFailures++ === 0);
    const table = new InMemoryUpsertTable<number>();
    // The input is held until checkpoint 5 completed: checkpoint 3 loses its response and the
    // disposal is retried after checkpoint 4, whatever the speed of the job.
    const gate = new SourceGate(HOLD_AFTER);
    const job = await JobClient.execute(countJob(table, records, gate), {
      stateBackend: new RocksDBStateBackend({ incrementalCheckpoints: true }),
      checkpointStorage: storage,
      checkpointing: { intervalMs: 2, retainedCheckpoints: 2, tolerableFailedCheckpoints: 100 },
      hooks: { beforeNotifyComplete: (_t, id) => void (id >= 5 && gate.open()) },
    });
    const result = await job.result;
    assert.equal(result.status, 'FINISHED');
    assert.deepEqual(sorted(table), expectedCounts(records));
    assert.equal(fs.injected.lostResponses, 1, 'the metadata of checkpoint 3 was written and its response lost');
    const stats3 = job.checkpointStats.find((s) => s.checkpointId === 3);
    assert.equal(stats3?.status, 'FAILED');
    assert.match(stats3?.failureReason ?? '', /FINALIZE_FAILED/);
    // The defect: the shared SSTs of checkpoint 3 were deleted while its `_metadata` survived.
    assert.deepEqual(await missingReferencedFiles(fs.inner), [], 'no checkpoint with _metadata references a missing file');
    const left = (await metadataOnStorage(fs.inner)).map((c) => c.id);
    if (failAlways) {
      assert.ok(left.includes(3), 'the metadata that could not be deleted is still there');
      const m3 = (await metadataOnStorage(fs.inner)).find((c) => c.id === 3)!.metadata;
      assert.ok(collectStreamHandles(m3).some((h) => h.type === 'file' && h.path.startsWith('shared/')), 'checkpoint 3 references shared files');
      assert.ok((await storage.listCompletedCheckpoints()).includes('chk-3'), 'complete (all files there), so listed');
    } else {
      assert.ok(!left.includes(3), 'the retried disposal deleted checkpoint 3');
      fs.failDeleteOf = undefined;
      assert.deepEqual((await collectGarbage(storage, { dryRun: true })).orphans, [], 'nothing of checkpoint 3 is left');
    }
  });
}

test('runs that resume in the same directory recover and subsume the checkpoints of earlier runs', async () => {
  const records = RECORDS;
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const table = new InMemoryUpsertTable<number>();
  const options = (pointer: string | undefined): JobOptions => ({
    stateBackend: new FsStateBackend(),
    checkpointStorage: storage,
    checkpointing: { intervalMs: 2, retainedCheckpoints: 2 },
    ...(pointer ? { restoreFrom: { storage, pointer } } : {}),
  });
  await runUntilCheckpoints(options(undefined), table, records, 3);
  for (let run = 2; run <= 3; run++) {
    const latest = (await storage.listCompletedCheckpoints()).at(-1)!;
    if (run === 2) {
      await runUntilCheckpoints(options(latest), table, records, 3);
    } else {
      const job = await JobClient.execute(countJob(table, records), options(latest));
      assert.equal((await job.result).status, 'FINISHED');
    }
  }
  assert.deepEqual(sorted(table), expectedCounts(records));
  const onStorage = await metadataOnStorage(fs);
  assert.equal(onStorage.length, 2, `retained: 2, on storage: ${onStorage.map((c) => c.id).join(', ')}`);
  assert.deepEqual((await collectGarbage(storage, { dryRun: true })).orphans, [], 'subsumed checkpoints left no file behind');
});

async function killedRun(backend: () => StateBackend, records: number) {
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const table = new InMemoryUpsertTable<number>();
  const options: JobOptions = { stateBackend: backend(), checkpointStorage: storage, checkpointing: { intervalMs: 2, retainedCheckpoints: 2 } };
  await runUntilCheckpoints(options, table, records, 3);
  const retained = await metadataOnStorage(fs);
  assert.equal(retained.length, 2);
  const [older, newest] = retained as [(typeof retained)[0], (typeof retained)[0]];
  // A file only the newest checkpoint references (exclusive to it).
  const olderFiles = new Set(collectStreamHandles(older.metadata).flatMap((h) => (h.type === 'file' ? [h.path] : [])));
  const victim = collectStreamHandles(newest.metadata).find((h) => h.type === 'file' && !olderFiles.has(h.path) && h.size > 8);
  assert.ok(victim !== undefined && victim.type === 'file');
  return { fs, storage, table, older: older.id, newest: newest.id, victim: victim.path, options };
}

test('restore falls back to the next older checkpoint when a file of the newest is corrupt, and reports why', async () => {
  const records = RECORDS;
  const r = await killedRun(() => new FsStateBackend(), records);
  const bytes = Buffer.from(await r.fs.read(r.victim));
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x40;
  const w = await r.fs.create(r.victim);
  await w.write(bytes);
  await w.commit();
  const logged: string[] = [];
  // The same checkpoint storage object: its retained checkpoints are fallback candidates.
  const job = await JobClient.execute(countJob(r.table, records), { ...r.options, stateBackend: new FsStateBackend(), restoreFrom: { storage: r.storage, pointer: `chk-${r.newest}` }, log: (l) => logged.push(l) });
  const result = await job.result;
  assert.equal(result.status, 'FINISHED');
  assert.deepEqual(sorted(r.table), expectedCounts(records));
  assert.equal(result.skippedCheckpoints.length, 1);
  const skipped = result.skippedCheckpoints[0]!;
  assert.equal(skipped.checkpointId, r.newest);
  assert.equal(skipped.reason, 'RESTORE_FAILED');
  assert.ok(skipped.error instanceof CorruptCheckpointError && skipped.error.file.endsWith(r.victim), skipped.error.message);
  assert.ok(logged.some((l) => l.includes(`falling back to checkpoint ${r.older}`)), logged.join('\n'));
  // The corrupt checkpoint was discarded once a new one completed; retention holds.
  const left = (await metadataOnStorage(r.fs)).map((c) => c.id);
  assert.ok(!left.includes(r.newest) && left.length === 2, `on storage: ${left.join(', ')}`);
  assert.deepEqual((await collectGarbage(r.storage, { dryRun: true })).orphans, []);
});

test('resuming from the latest checkpoint skips one whose file is missing (incomplete) and restores the older one', async () => {
  const records = RECORDS;
  const r = await killedRun(() => new RocksDBStateBackend({ incrementalCheckpoints: true }), records);
  await r.fs.delete(r.victim);
  const job = await JobClient.execute(countJob(r.table, records), { ...r.options, stateBackend: new RocksDBStateBackend({ incrementalCheckpoints: true }), resumeFromLatestCheckpoint: true });
  const result = await job.result;
  assert.equal(result.status, 'FINISHED');
  assert.deepEqual(sorted(r.table), expectedCounts(records));
  assert.deepEqual(
    result.skippedCheckpoints.map((s) => [s.checkpointId, s.reason]),
    [[r.newest, 'INCOMPLETE']],
  );
  assert.ok(result.skippedCheckpoints[0]!.error.message.includes(r.victim));
  const left = (await metadataOnStorage(r.fs)).map((c) => c.id);
  assert.ok(!left.includes(r.newest) && left.length === 2, `on storage: ${left.join(', ')}`);
  assert.deepEqual(await missingReferencedFiles(r.fs), []);
  assert.deepEqual((await collectGarbage(r.storage, { dryRun: true })).orphans, []);
});

/** Memory storage whose reads of files under `corruptPrefix` return inverted bytes (a corrupt disk). */
class CorruptingFileSystem extends MemoryFileSystem {
  corruptPrefix: string | undefined;
  override async read(path: string, range?: { offset: number; length: number }): Promise<Uint8Array> {
    const bytes = await super.read(path, range);
    return this.corruptPrefix !== undefined && path.startsWith(this.corruptPrefix) && !path.endsWith('_metadata') ? bytes.map((b) => b ^ 0xff) : bytes;
  }
}

test("a run that started empty never falls back into an earlier run's checkpoints", async () => {
  const records = RECORDS;
  const fs = new CorruptingFileSystem();
  const storage = new FsCheckpointStorage(fs);
  // Both runs: the same backend, checkpoint directory and checkpointing.
  const options: JobOptions = { stateBackend: new FsStateBackend(), checkpointStorage: storage, checkpointing: { intervalMs: 2, retainedCheckpoints: 2 } };
  await runUntilCheckpoints(options, new InMemoryUpsertTable(), records, 2);
  const earlier = (await storage.listCompletedCheckpoints()).length;
  assert.equal(earlier, 2);
  // Second run, from scratch in the same directory: its first checkpoint becomes unreadable and a
  // task fails. The earlier run's checkpoints are retained, but they are not this run's state.
  let failed = false;
  let first: number | undefined;
  // The input is held until the first checkpoint of this run completed: the failure comes after it.
  const gate = new SourceGate(HOLD_AFTER);
  const job = await JobClient.execute(countJob(new InMemoryUpsertTable(), records, gate), {
    ...options,
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 2, delayMs: 0 },
    hooks: {
      beforeNotifyComplete(_t, id) {
        if (first === undefined) {
          first = id;
          fs.corruptPrefix = `chk-${id}/`;
          gate.open();
        }
      },
      onRecord(t, n) {
        if (!failed && first !== undefined && t.uid === 'count' && n > 10) {
          failed = true;
          throw new Error('task failure after the first checkpoint');
        }
      },
    },
  });
  await assert.rejects(job.result, (e: unknown) => e instanceof JobFailedError && e.cause instanceof CorruptCheckpointError);
  assert.ok(first !== undefined && first > 2);
});
