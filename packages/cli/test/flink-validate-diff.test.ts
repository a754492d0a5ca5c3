import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FlinkDiffReport, FlinkValidationReport } from '@flowstate/flink';
import { cli, fixtures, skip, tests } from './flink-fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'flowstate-cli-flink-vd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function metadataDirs(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) metadataDirs(p, out);
    else if (name === '_metadata') out.push(dir);
  }
  return out;
}

/** A writable copy of a fixture (the fixtures are read-only). */
function copy(src: string, name: string): string {
  const dst = join(tmp, name);
  cpSync(src, dst, { recursive: true });
  chmodSync(dst, 0o755);
  for (const f of readdirSync(dst)) chmodSync(join(dst, f), 0o644);
  return dst;
}

describe('flowstate savepoint validate on Apache Flink savepoints and checkpoints', { skip }, () => {
  it('every Apache Flink fixture validates; keyed streams are decoded record by record', async () => {
    const dirs = metadataDirs(fixtures);
    assert.equal(dirs.length, 32);
    let ok = 0;
    let records = 0;
    for (const d of dirs) {
      const r = await cli(['savepoint', 'validate', d, '--json']);
      const report = JSON.parse(r.out) as FlinkValidationReport;
      assert.equal(report.format, 'apache-flink');
      assert.equal(r.code, report.ok ? 0 : 1);
      if (report.ok) ok++;
      records += report.decodedRecords;
      // The only unverifiable parts: values of the user-defined serializer of the 1.16 migration test (carried opaquely).
      for (const p of report.problems) assert.ok(p.severity === 'warning' && p.code === 'FLINK_OPAQUE_SERIALIZER' && d.includes('type-serializer-snapshot'), `${d}: ${p.message}`);
    }
    console.log(`# flink validate: ${ok}/32 fixtures valid, ${records} keyed records decoded`);
    assert.equal(ok, 32);
    const udf = JSON.parse((await cli(['savepoint', 'validate', tests('new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint'), '--json'])).out) as FlinkValidationReport;
    // 4 FlatMap keys x 2 operators, 4 values + 4 + 4 timers x 2 timely operators.
    assert.deepEqual([udf.keyedRecords, udf.decodedRecords, udf.operatorStateElements], [32, 32, 8]);
  });

  it('a damaged key-group block: INVALID, the error names file and offset', async () => {
    const dir = copy(tests('new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint'), 'damaged');
    const file = join(dir, 'a4c13094-c6e2-4d05-9958-6caca82b26f9');
    const b = readFileSync(file);
    b[507] = 0x7f; // the high byte of the first record's key length (block at 505: u16 state id, i32 key length)
    writeFileSync(file, b);
    const r = await cli(['savepoint', 'validate', dir, '--json']);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.out) as FlinkValidationReport;
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems.map((p) => [p.severity, p.code, p.file, p.offset, p.operator]), [['error', 'CORRUPT_CHECKPOINT', file, 507, 'CheckpointingKeyedStateFlatMap1']]);
    const text = await cli(['savepoint', 'validate', dir]);
    assert.match(text.out, /^INVALID: .*1 error\(s\)/);
    assert.match(text.out, /CORRUPT_CHECKPOINT @507: .*key length/);
  });

  it('a missing state file and a truncated one are reported once each; the walk goes on', async () => {
    const dir = copy(tests('new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint'), 'missing');
    rmSync(join(dir, '0e072358-d5a9-4485-99df-815c3bf7c82b'));
    const truncated = join(dir, '07c6ae20-da34-494f-b0df-5af6b753d676');
    writeFileSync(truncated, readFileSync(truncated).subarray(0, 1000));
    const report = JSON.parse((await cli(['savepoint', 'validate', dir, '--json'])).out) as FlinkValidationReport;
    assert.deepEqual(report.problems.map((p) => p.code).sort(), ['CORRUPT_CHECKPOINT', 'STORAGE_NOT_FOUND']);
    assert.ok(report.problems.some((p) => p.file === truncated && /1000 bytes, its handle says 1521/.test(p.message)));
    assert.ok(report.decodedRecords > 0, 'the other streams are still walked');
  });
});

describe('flowstate savepoint diff on Apache Flink savepoints', { skip }, () => {
  const diff = async (a: string, b: string) => {
    const r = await cli(['savepoint', 'diff', a, b, '--json']);
    return { code: r.code, report: JSON.parse(r.out) as FlinkDiffReport, err: r.err };
  };
  const state = (r: FlinkDiffReport, uid: string, name: string) => r.operators.find((o) => o.uid === uid || o.operatorId === uid)!.states.find((s) => s.name === name)!;

  it('a savepoint equals itself', async () => {
    const d = tests('new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint');
    const { code, report } = await diff(d, d);
    assert.equal(code, 0);
    assert.equal(report.equal, true);
    assert.equal(report.operators.length, 8);
  });

  it('Flink 1.8 heap-native vs Flink 2.3 canonical: values compared decoded; only processing-time timers (wall clock) differ', async () => {
    const { code, report } = await diff(tests('new-stateful-udf-migration-itcase-flink1.8-savepoint'), tests('new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint'));
    assert.equal(code, 1);
    const timely = '4b818c7923a927796d24b727201ba34d'; // CheckpointingTimelyStatefulOperator1 (1.8 stores no uid)
    assert.deepEqual(state(report, timely, '_timer_state/processing_timer').changes, ['values differ']);
    for (const name of ['_timer_state/event_timer', 'state-name']) assert.equal(state(report, timely, name).status, 'equal', name);
    assert.equal(state(report, 'd5c8b168c6cbfe8c507a10f88b325243', 'state-name').entriesA, 4);
    const changed = report.operators.flatMap((o) => o.states.filter((s) => s.status !== 'equal').map((s) => `${o.uid}/${s.name}`));
    assert.deepEqual(changed.sort(), ['41e91aae0bee218c44306cf7d21940ad/_timer_state/processing_timer', `${timely}/_timer_state/processing_timer`]);
  });

  it('a changed value in a copy is found; states of another operator stay equal', async () => {
    const dir = copy(tests('new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint'), 'changed');
    const file = join(dir, 'a4c13094-c6e2-4d05-9958-6caca82b26f9');
    const b = readFileSync(file);
    b[b.length - 3] = b[b.length - 3]! ^ 1; // the low byte of the last Long value, before the 0xFFFF end mark
    writeFileSync(file, b);
    const { code, report } = await diff(tests('new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint'), dir);
    assert.equal(code, 1);
    assert.deepEqual(state(report, 'CheckpointingKeyedStateFlatMap1', 'state-name').changes, ['values differ']);
    assert.equal(state(report, 'CheckpointingKeyedStateFlatMap2', 'state-name').status, 'equal');
  });

  it('Flink vs flowstate: the Flink side is converted, timers included (compared, not listed as skipped); a rescale shows', async () => {
    const flink = tests('new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint');
    const ours = join(tmp, 'ours');
    assert.equal((await cli(['savepoint', 'convert', flink, ours, '--to', 'canonical'])).code, 0);
    const same = await cli(['savepoint', 'diff', flink, ours]);
    assert.equal(same.code, 0, same.out);
    // Timers convert into priority-queue state, so they are compared like any state.
    assert.doesNotMatch(same.err, /_timer_state/);
    assert.match(same.out, /_timer_state\/event_timer/);
    assert.equal((await cli(['savepoint', 'rescale', ours, join(tmp, 'ours8'), '--max-parallelism', '8'])).code, 0);
    const r = await cli(['savepoint', 'diff', join(tmp, 'ours8'), flink]);
    assert.equal(r.code, 1);
    assert.match(r.out, /maxParallelism 8 -> 4/);
  });
});

describe('flowstate savepoint|checkpoint dispose on Apache Flink savepoints and checkpoints', { skip }, () => {
  for (const [group, name] of [['savepoint', 'new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native'], ['checkpoint', 'new-stateful-udf-migration-itcase-flink2.3-hashmap-checkpoint']] as const) {
    it(`${group} dispose deletes a copy of ${name} as Flink's savepoint -d does (exit 0)`, async () => {
      const dir = copy(tests(name), `dispose-${group}`);
      const files = readdirSync(dir).length;
      const r = await cli([group, 'dispose', dir, '--json']);
      assert.equal(r.code, 0, r.err);
      const report = JSON.parse(r.out) as { format: string; deleted: string[]; directoryRemoved: boolean };
      assert.equal(report.format, 'apache-flink');
      assert.equal(report.deleted.length, files);
      assert.equal(report.directoryRemoved, true);
      assert.equal(existsSync(dir), false);
    });
  }
});
