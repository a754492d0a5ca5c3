/**
 * The runtime takes the configuration the CLI takes: a job configured by a Flink-style config.yaml
 * (RocksDB, incremental checkpoints on memory:// storage), stopped after a checkpoint, and restarted
 * from that checkpoint through `execution.state-recovery.path`, ends with exactly-once counts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Serializers, ValueStateDescriptor } from '@flowstate/core';
import { createFromConfiguration, loadConfiguration, openLocation, type CheckpointingOptions } from '@flowstate/config';
import { InMemoryUpsertTable, JobClient, sequenceLog, StreamExecutionEnvironment, UpsertSink, type CheckpointConfig, type JobGraph } from '@flowstate/runtime';
import { SourceGate } from '@flowstate/runtime/testing';

// The config package mirrors the runtime's CheckpointConfig without importing it (no dependency
// either way): a field renamed on one side must fail this build, not be dropped silently.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameFields: Same<keyof CheckpointConfig, keyof CheckpointingOptions> = true;
const sameTypes: Same<Required<CheckpointConfig>, { [K in keyof CheckpointingOptions]-?: Exclude<CheckpointingOptions[K], undefined> }> = true;
void [sameFields, sameTypes];

const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const PARTITIONS = 2;
const RECORDS = 300;
/** Records each source subtask emits in the first run before its gate holds it (which stays closed). */
const HOLD = 50;
const dir = mkdtempSync(join(tmpdir(), 'flowstate-config-runtime-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Records the count operator processed in one run. */
interface Progress {
  processed: number;
}

/** With `gate`, the sources emit HOLD records each and then idle: a checkpoint lands mid-input on any machine. */
function countJob(table: InMemoryUpsertTable<number>, progress: Progress, gate?: SourceGate): JobGraph {
  const env = new StreamExecutionEnvironment('config-runtime', { parallelism: 2, maxParallelism: 32, bufferCapacity: 8 });
  const log = sequenceLog(PARTITIONS, RECORDS, (p, o) => `k${(p * 7 + o) % 11}`);
  (gate ? env.addSource('src', gate.logSource(log)) : env.fromLog('src', log))
    .keyBy((k) => k, Serializers.string)
    .process<[string, number]>('count', () => ({
      processElement(k, ctx, out) {
        progress.processed++;
        const s = ctx.getState(COUNT);
        s.update((s.value() ?? 0) + 1);
        out.collect([k, s.value() ?? 0]);
      },
    }))
    .sinkTo('upsert', () => new UpsertSink<[string, number], number>(table, (r) => r[0], (r) => r[1]));
  return env.getJobGraph();
}

/** Every record the gated sources emit before they idle is counted (polled: the runtime runs on). */
async function heldInputProcessed(progress: Progress): Promise<void> {
  while (progress.processed < PARTITIONS * HOLD) await new Promise((r) => setImmediate(r));
  assert.equal(progress.processed, PARTITIONS * HOLD, 'the gate held the sources');
}

const CONFIG = `
state:
  backend:
    type: rocksdb
    incremental: true
    rocksdb.localdir: ${join(dir, 'rocksdb')}
  checkpoints:
    dir: memory://config-runtime/checkpoints
    num-retained: 2
execution.checkpointing.timeout: 1 min
`;

test('a job runs, checkpoints and restores as its config.yaml says', async () => {
  const file = join(dir, 'config.yaml');
  writeFileSync(file, CONFIG);
  const conf = loadConfiguration({ file, env: false });
  const first = createFromConfiguration(conf);
  assert.equal(first.stateBackend.name, 'rocksdb');
  const table = new InMemoryUpsertTable<number>();
  const progress1 = { processed: 0 };
  const run1 = await JobClient.execute(countJob(table, progress1, new SourceGate(HOLD)), { ...first });
  await heldInputProcessed(progress1);
  const checkpoint = await run1.triggerCheckpoint();
  run1.cancel();
  assert.equal((await run1.result).status, 'CANCELLED');
  // Written where the configuration said, incrementally (RocksDB SSTs under shared/).
  const files = (await openLocation(conf, 'memory://config-runtime/checkpoints').list('')).map((f) => f.path);
  assert.ok(files.includes(`${checkpoint.pointer}/_metadata`), files.join('\n'));
  assert.ok(files.some((f) => f.startsWith('shared/') && f !== 'shared/'), `no shared (incremental) files: ${files.join(', ')}`);

  // The restart: the same file, the restore path from the environment, as an operator would set it.
  const env = { FLOWSTATE_EXECUTION__STATE_RECOVERY__PATH: `memory://config-runtime/checkpoints/${checkpoint.pointer}` };
  const second = createFromConfiguration(loadConfiguration({ file, env }));
  assert.equal(second.restoreFrom?.pointer, checkpoint.pointer);
  const progress2 = { processed: 0 };
  const run2 = await JobClient.execute(countJob(table, progress2), { ...second });
  assert.equal((await run2.result).status, 'FINISHED');
  // Restored, not started over: the sources resumed at the checkpointed offsets.
  assert.equal(progress2.processed, PARTITIONS * (RECORDS - HOLD));

  const expected = new Map<string, number>();
  for (let p = 0; p < PARTITIONS; p++) for (let o = 0; o < RECORDS; o++) expected.set(`k${(p * 7 + o) % 11}`, (expected.get(`k${(p * 7 + o) % 11}`) ?? 0) + 1);
  assert.deepEqual(new Map([...table.rows].sort()), new Map([...expected].sort()));
});

// execution.savepoint-restore-mode reaches the runtime: NO_CLAIM (Flink's default) never deletes
// the restored checkpoint; CLAIM lets the restored job's checkpoints subsume it (num-retained 1).
for (const mode of ['NO_CLAIM', 'CLAIM'] as const) {
  test(`execution.savepoint-restore-mode ${mode} decides whether the restored checkpoint survives`, async () => {
    const root = `memory://config-runtime-${mode.toLowerCase()}/checkpoints`;
    const file = join(dir, `${mode}.yaml`);
    const text = `state.backend.type: hashmap\nstate.checkpoints.dir: ${root}\nstate.checkpoints.num-retained: 1\nexecution.checkpointing.interval: 1 h\nexecution.savepoint-restore-mode: ${mode}\n`;
    writeFileSync(file, text);
    const conf = loadConfiguration({ file, env: false });
    const table = new InMemoryUpsertTable<number>();
    const progress1 = { processed: 0 };
    const run1 = await JobClient.execute(countJob(table, progress1, new SourceGate(HOLD)), { ...createFromConfiguration(conf) });
    await heldInputProcessed(progress1);
    const restored = await run1.triggerCheckpoint();
    run1.cancel();
    await run1.result;
    const second = createFromConfiguration(loadConfiguration({ file, env: { FLOWSTATE_EXECUTION__STATE_RECOVERY__PATH: `${root}/${restored.pointer}` } }));
    assert.equal(second.restoreMode, mode);
    const run2 = await JobClient.execute(countJob(table, { processed: 0 }), { ...second });
    assert.equal((await run2.result).status, 'FINISHED');
    const files = (await openLocation(conf, root).list('')).map((f) => f.path);
    const survived = files.includes(`${restored.pointer}/_metadata`);
    assert.ok(files.some((f) => /^chk-\d+\/_metadata$/.test(f) && f !== `${restored.pointer}/_metadata`), `run 2 completed a checkpoint: ${files.join(', ')}`);
    assert.equal(survived, mode === 'NO_CLAIM', files.join(', '));
  });
}
