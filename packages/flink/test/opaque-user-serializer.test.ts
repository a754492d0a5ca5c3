import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlinkOpaqueSerializerError, FlinkSavepoint, rescaleFlinkSavepoint, rewriteFlinkSavepoint, serializerOf, writeFlinkSavepoint } from '../src/index.js';
import { fixture, needsFixtures } from './fixtures.js';

// A user-defined serializer snapshot without plug-in (the 1.16 type-serializer fixtures) is carried
// as opaque bytes: the savepoint is still written back, rescaled and stripped of other operators.

const TEST_SNAPSHOT = 'org.apache.flink.test.migration.TypeSerializerSnapshotMigrationITCase$TestSerializerSnapshot';
const KEYED_OP = '20ba6b65f97481d5570070de90e4e791';
const SOURCE_OP = 'bc764cd8ddf7a0cff126f51c16239658';

/** testState's records as (key without key-group prefix, value) hex pairs, and its keyed header bytes. */
async function testState(dir: string): Promise<{ records: string[]; header: string }> {
  const sp = await FlinkSavepoint.load(dir);
  const records: string[] = [];
  let header = '';
  for (const info of await sp.keyedStreams(sp.operator(KEYED_OP)!)) {
    header = Buffer.from(info.stream!.bytes.subarray(0, info.header!.length)).toString('hex');
    for (const r of sp.canonicalRecords(info)) records.push(`${Buffer.from(r.key.subarray(1)).toString('hex')}=${Buffer.from(r.value).toString('hex')}`);
  }
  return { records: records.sort(), header };
}

describe('user serializer snapshots without plug-in are carried opaquely', needsFixtures, () => {
  for (const backend of ['hashmap', 'rocksdb']) {
    const input = fixture(`type-serializer-snapshot-migration-itcase-flink1.16-${backend}-savepoint`);
    it(`${backend}: header read, values opaque with a typed error naming state and class`, async () => {
      const sp = await FlinkSavepoint.load(input);
      const [info] = await sp.keyedStreams(sp.operator(KEYED_OP)!);
      const meta = info!.header!.states.find((s) => s.name === 'testState')!;
      const value = serializerOf(meta, 'VALUE_SERIALIZER')!;
      assert.equal(value.className, TEST_SNAPSHOT);
      assert.equal(value.serializer.opaque, true);
      // The snapshot payload is TestSerializerSnapshot's one UTF string "configPayload".
      assert.equal(Buffer.from(value.payload).toString('latin1'), '\u0000\u000dconfigPayload');
      assert.equal([...sp.canonicalRecords(info!)].length, 4);
      assert.throws(
        () => [...sp.decodedRecords(info!, 1)],
        (e: unknown) => e instanceof FlinkOpaqueSerializerError && e.stateName === 'testState' && e.serializerClass.includes('TestSerializerSnapshot'),
      );
    });

    it(`${backend}: written back, other operators removed and rescaled: testState byte-for-byte`, async () => {
      const out = mkdtempSync(join(tmpdir(), 'flowstate-flink-opaque-'));
      try {
        const before = await testState(input);
        assert.equal(before.records.length, 4);
        await writeFlinkSavepoint(await FlinkSavepoint.load(input), join(out, 'same'));
        assert.deepEqual(await testState(join(out, 'same')), before);
        const keyedFile = (await FlinkSavepoint.load(input)).operator(KEYED_OP)!.subtasks[0]!.managedKeyedState!;
        assert.equal(keyedFile.type, 'key-groups');
        await rewriteFlinkSavepoint(await FlinkSavepoint.load(input), join(out, 'removed'), { removeOperators: [SOURCE_OP] });
        const removed = await FlinkSavepoint.load(join(out, 'removed'));
        assert.equal(removed.operator(SOURCE_OP), undefined);
        assert.deepEqual(await testState(join(out, 'removed')), before);
        await rescaleFlinkSavepoint(await FlinkSavepoint.load(input), join(out, 'rescaled'), { maxParallelism: 8, parallelism: 2 });
        const rescaled = await FlinkSavepoint.load(join(out, 'rescaled'));
        assert.deepEqual([rescaled.operator(KEYED_OP)!.parallelism, rescaled.operator(KEYED_OP)!.maxParallelism], [2, 8]);
        const after = await testState(join(out, 'rescaled'));
        assert.deepEqual(after.records, before.records);
        // The header (key serializer, meta info, opaque snapshot) is the same bytes.
        assert.equal(after.header, before.header);
        assert.ok(readFileSync(join(out, 'rescaled', '_metadata')).length > 0);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
});
