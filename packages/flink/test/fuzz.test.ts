import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlowstateError } from '@flowstate/core';
import { FlinkSavepoint, inspectFlinkSavepoint, readOperatorStates } from '../src/index.js';
import { fixture, needsFixtures, prng } from './fixtures.js';

/** Reads everything a savepoint holds: metadata, every keyed record decoded, every operator state. */
async function readAll(dir: string): Promise<void> {
  const sp = await FlinkSavepoint.load(dir);
  await inspectFlinkSavepoint(sp, { scan: true });
  for (const op of sp.operators) {
    for (const info of await sp.keyedStreams(op)) {
      if (info.format === 'canonical' || info.format === 'heap-native') for (const _ of sp.decodedRecords(info, op.maxParallelism)) void _;
    }
    for (const s of op.subtasks) {
      const h = s.managedOperatorState;
      if (h !== null && h.stream !== null) readOperatorStates(h, await sp.resolve(h.stream), sp.registry);
    }
  }
}

describe('hostile Flink state files (Apache Flink fixtures, mutated copies)', needsFixtures, () => {
  const inputs = [
    'new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint',
    'new-stateful-udf-migration-itcase-flink2.3-hashmap-checkpoint',
    'new-stateful-broadcast-udf-migration-itcase-flink2.3-hashmap-savepoint',
    'operatorstate/complexKeyed-flink1.8',
    'snuyanzin-flink/flink-libraries/flink-state-processing-api/src/test/resources/table-state',
    'snuyanzin-flink/flink-table/flink-table-planner/src/test/resources/restore-tests/stream-exec-group-aggregate_1/group-aggregate-simple/savepoint',
  ];
  it('random byte mutations and truncations of _metadata and state files: typed errors only, bounded memory', async () => {
    const iterations = Number(process.env['FLOWSTATE_FUZZ_ITERATIONS'] ?? 100);
    const rnd = prng(Number(process.env['FLOWSTATE_FUZZ_SEED'] ?? 11));
    const work = mkdtempSync(join(tmpdir(), 'flowstate-flink-fuzz-'));
    let typed = 0;
    let survived = 0;
    const rssBefore = process.memoryUsage().rss;
    try {
      for (let i = 0; i < iterations; i++) {
        const src = fixture(inputs[i % inputs.length]!);
        const dir = join(work, `c${i}`);
        cpSync(src, dir, { recursive: true });
        const files = readdirSync(dir);
        const victim = join(dir, files[Math.floor(rnd() * files.length)]!);
        const b = Buffer.from(readFileSync(victim));
        for (let k = 0; k < 1 + Math.floor(rnd() * 4); k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        writeFileSync(victim, rnd() < 0.2 ? b.subarray(0, Math.floor(rnd() * b.length)) : b);
        try {
          await readAll(dir);
          survived++;
        } catch (e) {
          assert.ok(e instanceof FlowstateError, `iteration ${i} (${victim}): untyped ${(e as Error).stack}`);
          typed++;
        }
        rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const growth = process.memoryUsage().rss - rssBefore;
    console.log(`# Flink fuzz: ${iterations} mutated savepoints, ${typed} typed errors, ${survived} read (mutation in a value or unused bytes), 0 untyped; RSS growth ${(growth / 1048576).toFixed(1)} MiB`);
    assert.ok(growth < 512 * 1048576);
  });
});
