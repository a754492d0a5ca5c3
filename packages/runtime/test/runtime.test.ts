import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  deserializeCheckpointMetadata,
  FsCheckpointStorage,
  ListStateDescriptor,
  MapStateDescriptor,
  MsgpackSerializer,
  MemoryFileSystem,
  Serializers,
} from '@flowstate/core';
import { FsStateBackend, MemoryStateBackend } from '@flowstate/heap';
import {
  InMemoryUpsertTable,
  JobClient,
  JobFailedError,
  RestoreMismatchError,
  sequenceLog,
  StreamExecutionEnvironment,
  TwoPhaseCommitFileSink,
  UpsertSink,
  formatCheckpointStatsTable,
  InvalidJobGraphError,
  IllegalJobStateError,
} from '../src/index.js';
import { COUNT, expectedUpsertCounts, upsertCountJob } from './count-jobs.js';
import { runUntilSavepoint } from './scenarios.js';
import { SourceGate } from '../src/testing.js';


const COUNT_JOB = { maxParallelism: 64, bufferCapacity: 16, partitions: 4, keysPerPartition: 17 };

function countJob(name: string, parallelism: number, table: InMemoryUpsertTable<number>, records: number, slow = false) {
  return upsertCountJob({ ...COUNT_JOB, name, parallelism, records, table, yieldBefore: () => slow });
}

const expectedCounts = (records: number) => expectedUpsertCounts(4, 17, records);

test('stop-with-savepoint, then resume at another parallelism: keyed state, source offsets and counts are exact', async () => {
  const table = new InMemoryUpsertTable<number>();
  const checkpoints = new FsCheckpointStorage(new MemoryFileSystem());
  const { result: res, savepoint: sp, savepoints } = await runUntilSavepoint(
    countJob('resc', 3, table, 3000, true),
    { stateBackend: new FsStateBackend(), checkpointStorage: checkpoints, checkpointing: { intervalMs: 10 } },
    { source: 'src', subtask: 0, records: 300 },
  );
  assert.equal(res.status, 'STOPPED');
  assert.equal(sp.kind, 'SAVEPOINT');
  const md = deserializeCheckpointMetadata((await savepoints.resolveCheckpoint('')).metadata, 'savepoint');
  assert.equal(md.kind, 'SAVEPOINT');
  assert.equal(md.operators.find((o) => o.uid === 'count')!.parallelism, 3);
  const partial = [...table.rows.values()].reduce((a, b) => a + b, 0);
  assert.ok(partial > 0 && partial < 12_000, `stopped mid-way (${partial} counted)`);

  const second = await JobClient.execute(countJob('resc', 2, table, 3000), {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: checkpoints,
    checkpointing: { intervalMs: 10 },
    restoreFrom: { storage: savepoints, pointer: '' },
  });
  assert.equal((await second.result).status, 'FINISHED');
  assert.deepEqual(new Map([...table.rows].sort()), new Map([...expectedCounts(3000)].sort()));
});

test('failover restarts from the latest checkpoint; the restart strategy gives up after maxAttempts', async () => {
  const table = new InMemoryUpsertTable<number>();
  let failures = 0;
  const failoverStorage = new FsCheckpointStorage(new MemoryFileSystem());
  const job = await JobClient.execute(countJob('failover', 2, table, 2000), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: failoverStorage,
    checkpointing: { intervalMs: 5, retainedCheckpoints: 2 },
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 3, delayMs: 1 },
    hooks: {
      onRecord(t, n) {
        if (t.uid === 'count' && t.subtaskIndex === 1 && n === 1500 && t.attempt < 2) {
          failures++;
          throw new Error('boom');
        }
      },
    },
  });
  const res = await job.result;
  assert.equal(res.status, 'FINISHED');
  assert.equal(res.attempts, 3);
  assert.equal(failures, 2);
  assert.deepEqual(new Map([...table.rows].sort()), new Map([...expectedCounts(2000)].sort()));
  // At least the final checkpoint completes; at most 2 are retained, in the job and on storage.
  const retained = job.completedCheckpoints.map((c) => c.pointer);
  assert.ok(retained.length >= 1 && retained.length <= 2, `retained: ${retained.join(', ')}`);
  assert.deepEqual(await failoverStorage.listCompletedCheckpoints(), retained);
  console.log(formatCheckpointStatsTable(job.checkpointStats.slice(-3)));

  const always = await JobClient.execute(countJob('always-failing', 2, new InMemoryUpsertTable(), 100), {
    stateBackend: new MemoryStateBackend(),
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 2, delayMs: 0 },
    hooks: {
      onRecord() {
        throw new Error('always');
      },
    },
  });
  await assert.rejects(always.result, (e: unknown) => e instanceof JobFailedError && e.attempts === 3);
});

test('subsumed checkpoints are discarded from storage (retainedCheckpoints)', async () => {
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  // The input is held mid-way until three periodic checkpoints completed, on any machine.
  const gate = new SourceGate(100);
  const job = await JobClient.execute(upsertCountJob({ ...COUNT_JOB, name: 'retain', parallelism: 2, records: 400, table: new InMemoryUpsertTable(), yieldBefore: () => false, gate }), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: storage,
    checkpointing: { intervalMs: 5, retainedCheckpoints: 2 },
    hooks: { beforeNotifyComplete: (_t, id) => void (id >= 3 && gate.open()) },
  });
  await job.result;
  const completed = job.checkpointStats.filter((s) => s.status === 'COMPLETED' && s.kind === 'CHECKPOINT');
  assert.ok(completed.length > 2, `${completed.length} checkpoints completed`);
  const onStorage = await storage.listCompletedCheckpoints();
  assert.deepEqual(onStorage, completed.slice(-2).map((s) => `chk-${s.checkpointId}`));
});

test('broadcast state: rules broadcast to every subtask, connected with a keyed stream', async () => {
  const RULES = new MapStateDescriptor<string, number>('rules', Serializers.string, Serializers.int32);
  const env = new StreamExecutionEnvironment('broadcast', { parallelism: 3, maxParallelism: 32 });
  const rules = env.fromLog('rules', sequenceLog(1, 1, () => ({ name: 'multiplier', value: 10 })), { parallelism: 1 });
  const out = new InMemoryUpsertTable<number>();
  // Records that arrive before the rule wait in operator list state (checkpointed with it).
  const WAITING = new ListStateDescriptor<{ id: string; v: number }>('waiting-for-rules', new MsgpackSerializer<{ id: string; v: number }>());
  env
    .fromLog('data', sequenceLog(3, 20, (p, o) => ({ id: `${p}:${o}`, v: o })))
    .connect(rules.broadcast())
    .process<[string, number]>('apply', () => ({
      processElement(r, ctx, col) {
        const m = ctx.getReadOnlyBroadcastState(RULES).get('multiplier');
        if (m === undefined || m === null) ctx.getListState(WAITING).add(r);
        else col.collect([r.id, r.v * m]);
      },
      processBroadcastElement(rule, ctx, col) {
        ctx.getBroadcastState(RULES).put(rule.name, rule.value);
        const waiting = ctx.getListState(WAITING);
        for (const r of waiting.get()) col.collect([r.id, r.v * rule.value]);
        waiting.update([]);
      },
    }))
    .sinkTo('out', () => new UpsertSink<[string, number], number>(out, (r) => r[0], (r) => r[1]));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: {},
  });
  await job.result;
  assert.equal(out.rows.size, 60);
  assert.equal(out.rows.get('2:19'), 190);
  // The final checkpoint holds the broadcast state of every subtask.
  const last = job.completedCheckpoints.at(-1)!;
  const apply = last.metadata.operators.find((o) => o.uid === 'apply')!;
  assert.equal(apply.subtasks.length, 3);
  for (const s of apply.subtasks) assert.equal(Object.values(s.operator[0]!.states).find((x) => x.mode === 'BROADCAST')?.offsets.length, 1);
});

test('file-lines source with the two-phase-commit file sink, on local disk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-runtime-'));
  const a = join(dir, 'a.txt');
  const b = join(dir, 'b.txt');
  writeFileSync(a, Array.from({ length: 500 }, (_, i) => `a line ${i}`).join('\n') + '\n');
  writeFileSync(b, Array.from({ length: 300 }, (_, i) => `b line ${i}`).join('\n'));
  const { LocalFileSystem } = await import('@flowstate/storage-local');
  const outFs = new LocalFileSystem(join(dir, 'out'));
  const env = new StreamExecutionEnvironment('lines', { parallelism: 2 });
  env
    .fromFileLines('lines', [a, b])
    .filter('non-empty', (l) => l.length > 0)
    .map('upper', (l) => l.toUpperCase())
    .sinkTo('files', () => new TwoPhaseCommitFileSink<string>({ fs: outFs, directory: 'sink', format: (s) => s }));
  let crashed = false;
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new LocalFileSystem(join(dir, 'checkpoints'))),
    checkpointing: { intervalMs: 2 },
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 1, delayMs: 0 },
    hooks: {
      onRecord(t, n) {
        if (!crashed && t.uid === 'files' && n === 200) {
          crashed = true;
          throw new Error('crash');
        }
      },
    },
  });
  const res = await job.result;
  assert.equal(res.attempts, 2);
  const lines = (await TwoPhaseCommitFileSink.readCommitted(outFs, 'sink')).sort();
  assert.equal(lines.length, 800);
  assert.equal(new Set(lines).size, 800);
  assert.ok(lines.includes('A LINE 499') && lines.includes('B LINE 299'));
  rmSync(dir, { recursive: true, force: true });
});

test('aligned checkpoints with a timeout switch to unaligned under backpressure', async () => {
  const env = new StreamExecutionEnvironment('timeout', { parallelism: 2, maxParallelism: 16, bufferCapacity: 32 });
  env
    .fromLog('src', sequenceLog(2, 1_000_000, (p, o) => ({ key: `k${(p + o) % 20}` })))
    .keyBy((r) => r.key, Serializers.string)
    .process<number>('slow', () => ({
      async processElement(_r, _c, out) {
        await new Promise((r) => setTimeout(r, 1));
        out.collect(1);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  const job = await JobClient.execute(env.getJobGraph(), {
    stateBackend: new FsStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: { mode: 'EXACTLY_ONCE', alignedCheckpointTimeoutMs: 5 },
  });
  await new Promise((r) => setTimeout(r, 100));
  const cp = await job.triggerCheckpoint();
  job.cancel();
  await job.result;
  assert.ok(cp.stats.tasks.some((t) => t.unaligned), 'at least one task switched to unaligned');
  assert.ok(cp.stats.tasks.some((t) => t.persistedInflightBytes > 0), 'in-flight records were persisted');
});

test('job graph and restore validation', async () => {
  const env = new StreamExecutionEnvironment('bad', { parallelism: 2 });
  const s = env.fromLog('src', sequenceLog(1, 1, () => 1));
  assert.throws(() => s.map('src', (x) => x), InvalidJobGraphError);
  assert.throws(() => s.forward().map('m', (x) => x, { parallelism: 3 }), InvalidJobGraphError);

  // A savepoint with state of an operator the new job does not have.
  const table = new InMemoryUpsertTable<number>();
  const savepoints = new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' });
  const job = await JobClient.execute(countJob('v1', 2, table, 100000, true), {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: {},
  });
  await job.stopWithSavepoint(savepoints);
  await job.result;
  const env2 = new StreamExecutionEnvironment('v2', { parallelism: 2, maxParallelism: 64 });
  env2.fromLog('src', sequenceLog(4, 10, () => 1)).sinkTo('other', () => ({ invoke() {} }));
  const v2 = await JobClient.execute(env2.getJobGraph(), { stateBackend: new MemoryStateBackend(), restoreFrom: { storage: savepoints, pointer: '' } });
  await assert.rejects(v2.result, (e: unknown) => e instanceof JobFailedError && e.cause instanceof RestoreMismatchError);
});

test('broadcast state survives a savepoint and a rescale (every new subtask gets a copy)', async () => {
  const RULES = new MapStateDescriptor<string, number>('rules', Serializers.string, Serializers.int32);
  const tables = [new InMemoryUpsertTable<number>(), new InMemoryUpsertTable<number>()];
  let run = 0;
  const build = (parallelism: number) => {
    const env = new StreamExecutionEnvironment('broadcast-rescale', { parallelism, maxParallelism: 32 });
    const rules = env.fromLog('rules', sequenceLog(1, 1, () => ({ name: 'multiplier', value: 10 })), { parallelism: 1 });
    env
      .fromLog('data', sequenceLog(3, 400, (p, o) => ({ id: `${p}:${o}`, v: o })), { parallelism: 3 })
      .connect(rules.broadcast())
      .process<[string, number]>('apply', () => ({
        async processElement(r, ctx, col) {
          await new Promise((res) => setTimeout(res, 1));
          col.collect([r.id, r.v * (ctx.getReadOnlyBroadcastState(RULES).get('multiplier') ?? 1)]);
        },
        processBroadcastElement(rule, ctx) {
          ctx.getBroadcastState(RULES).put(rule.name, rule.value);
        },
      }))
      .sinkTo('out', () => new UpsertSink<[string, number], number>(tables[run]!, (r) => r[0], (r) => r[1]));
    return env.getJobGraph();
  };
  const { result: stopped, savepoints } = await runUntilSavepoint(
    build(2),
    { stateBackend: new MemoryStateBackend(), checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()), checkpointing: {} },
    { source: 'data', subtask: 0, records: 100 },
  );
  assert.equal(stopped.status, 'STOPPED');
  const before = tables[0]!.rows.size;
  assert.ok(before > 0 && before < 1200, `stopped mid-way (${before} of 1200)`);
  // The rules source is past its only record: after the restore the rule exists only as broadcast
  // state, so every record of the second run shows whether each new subtask got a copy.
  run = 1;
  const second = await JobClient.execute(build(5), {
    stateBackend: new MemoryStateBackend(),
    checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()),
    checkpointing: {},
    restoreFrom: { storage: savepoints, pointer: '' },
  });
  await second.result;
  const after = tables[1]!;
  assert.ok(after.rows.size > 0);
  for (const [id, v] of after.rows) assert.equal(v, Number(id.split(':')[1]) * 10, `record ${id} of the resumed run`);
  assert.equal(new Set([...tables[0]!.rows.keys(), ...after.rows.keys()]).size, 1200, 'every record was processed');
});

test('requests to a job that ended reject instead of waiting forever', async () => {
  const env = new StreamExecutionEnvironment('short', { parallelism: 1 });
  env.fromLog('src', sequenceLog(1, 5, (_p, o) => o)).sinkTo('out', () => ({ invoke() {} }));
  const job = await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend(), checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()), checkpointing: {} });
  await job.result;
  await assert.rejects(job.stopWithSavepoint(new FsCheckpointStorage(new MemoryFileSystem(), { layout: 'savepoint' })), IllegalJobStateError);
  await assert.rejects(job.triggerCheckpoint(), IllegalJobStateError);
});

test('keyed broadcast: keyed state per key, broadcast state per subtask, no current key on the broadcast side', async () => {
  const RULES = new MapStateDescriptor<string, number>('rules', Serializers.string, Serializers.int32);
  const out = new InMemoryUpsertTable<number>();
  let getStateRejected = 0;
  let visitedKeys = 0;
  const env = new StreamExecutionEnvironment('keyed-broadcast', { parallelism: 2, maxParallelism: 32 });
  const rules = env.fromLog('rules', sequenceLog(1, 3, (_p, o) => ({ name: `rule-${o}`, value: o })), { parallelism: 1 });
  env
    .fromLog('data', sequenceLog(3, 50, (p, o) => ({ user: `u${(p + o) % 5}` })))
    .keyBy((r) => r.user, Serializers.string)
    .connect(rules.broadcast())
    .process<[string, number]>('per-user', () => ({
      processElement(r, ctx, col) {
        const s = ctx.getState(COUNT);
        s.update((s.value() ?? 0) + 1);
        col.collect([String(ctx.currentKey), s.value() ?? 0]);
      },
      processBroadcastElement(rule, ctx) {
        ctx.getBroadcastState(RULES).put(rule.name, rule.value);
        assert.throws(() => ctx.getState(COUNT));
        getStateRejected++;
        // Only keys with state are visited, each with its own state.
        ctx.applyToKeyedState(COUNT, (key, state) => {
          assert.match(String(key), /^u[0-4]$/);
          assert.ok((state.value() ?? 0) > 0);
          visitedKeys++;
        });
      },
    }))
    .sinkTo('out', () => new UpsertSink<[string, number], number>(out, (r) => r[0], (r) => r[1]));
  const job = await JobClient.execute(env.getJobGraph(), { stateBackend: new FsStateBackend(), checkpointStorage: new FsCheckpointStorage(new MemoryFileSystem()), checkpointing: {} });
  await job.result;
  assert.deepEqual([...out.rows].sort(), [['u0', 30], ['u1', 30], ['u2', 30], ['u3', 30], ['u4', 30]]);
  assert.equal(getStateRejected, 6, 'each of 2 subtasks saw the 3 broadcast elements');
  assert.ok(visitedKeys <= 6 * 5, `${visitedKeys} key visits`);
});
