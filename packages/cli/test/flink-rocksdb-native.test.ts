import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  canonicalSavepointProperties,
  encodeCanonicalStream,
  FlinkSavepoint,
  FlinkSnapshots,
  JavaDataOutput,
  keyGroupForHash,
  operatorIdFromUid,
  writeFlinkMetadata,
  writeKeyedHeader,
  type FlinkDiffReport,
  type FlinkInspectReport,
  type FlinkSerializerSnapshot,
  type FlinkValidationReport,
  type KeyedStateHandle,
  type StateMetaInfo,
} from '@flowstate/flink';
import { RocksDB } from '@flowstate/rocksdb/native';
import { flinkReadOptions } from '../src/flink-rocksdb.js';
import { cli, skip, tests } from './flink-fixtures.js';

const MAX_PARALLELISM = 4;
const N = 12;
const long = FlinkSnapshots.long();
const str = FlinkSnapshots.string();
const STATES: StateMetaInfo[] = [
  { name: 'count', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'VALUE']], serializers: [['NAMESPACE_SERIALIZER', FlinkSnapshots.voidNamespace()], ['VALUE_SERIALIZER', long]] },
  { name: 'attrs', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'MAP']], serializers: [['NAMESPACE_SERIALIZER', FlinkSnapshots.voidNamespace()], ['VALUE_SERIALIZER', FlinkSnapshots.map(str, long)]] },
  { name: '_timer_state/event_t', backendStateType: 'PRIORITY_QUEUE', options: [], serializers: [['VALUE_SERIALIZER', FlinkSnapshots.timer(long, FlinkSnapshots.voidNamespace())]] },
];

/** Scratch space of these tests: savepoints, RocksDB working directories and copies. */
const tmp = mkdtempSync(join(tmpdir(), 'flowstate-cli-flink-rocks-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function bytesOf(s: FlinkSerializerSnapshot, v: unknown): Uint8Array {
  const o = new JavaDataOutput();
  s.serializer.serialize(v as never, o);
  return o.toBytes();
}

/** Flink's RocksDB rows of key k (key-group prefix, key, VoidNamespace [, user key]); `bump` changes one value. */
function rows(k: bigint, bump: bigint): { stateId: number; key: Uint8Array; value: Uint8Array }[] {
  const kg = keyGroupForHash(long.serializer.hashCode!(k), MAX_PARALLELISM);
  const prefix = Buffer.concat([Buffer.from([kg]), bytesOf(long, k), Buffer.from([0])]);
  return [
    { stateId: 0, key: prefix, value: bytesOf(long, k * 10n + (k === 3n ? bump : 0n)) },
    { stateId: 1, key: Buffer.concat([prefix, bytesOf(str, `k${k}`)]), value: Buffer.concat([Buffer.from([0]), bytesOf(long, k)]) },
    { stateId: 2, key: Buffer.concat([Buffer.from([kg]), bytesOf(STATES[2]!.serializers[0]![1], { timestamp: k * 100n, key: k, namespace: null })]), value: new Uint8Array(0) },
  ];
}

const allRows = (bump: bigint) => Array.from({ length: N }, (_, i) => rows(BigInt(i), bump)).flat();
const header = (states: StateMetaInfo[]): Uint8Array => {
  const o = new JavaDataOutput();
  writeKeyedHeader(o, { version: 6, compression: false, keySerializer: long, states });
  return o.toBytes();
};

function metadata(dir: string, managedKeyedState: KeyedStateHandle): void {
  writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({
    version: 6, checkpointId: 9n, masterStates: [], propertiesBytes: canonicalSavepointProperties(),
    operators: [{
      name: 'own', uid: 'own', operatorId: operatorIdFromUid('own'), parallelism: 1, maxParallelism: MAX_PARALLELISM, coordinatorState: null, fullyFinished: false,
      subtasks: [{ index: 0, finished: false, managedOperatorState: null, rawOperatorState: null, managedKeyedState, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [] }],
    }],
  }));
}

/**
 * A RocksDB-native Flink savepoint written with our RocksDB binding: one column family per state
 * (named as the state), Flink's row layout, a RocksDB checkpoint whose files become the private
 * files of an IncrementalRemoteKeyedStateHandle (tag 11) under random names, plus the meta stream.
 */
type ColumnFamilies = ReturnType<RocksDB['createColumnFamily']>[];
const putRows = (bump: bigint) => (db: RocksDB, cfs: ColumnFamilies): void => {
  for (const r of allRows(bump)) db.put(cfs[r.stateId]!, r.key, r.value);
};

function nativeSavepoint(name: string, bump = 0n, states = STATES, fill = putRows(bump)): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const work = join(tmp, `${name}-db`);
  const db = RocksDB.open(work, { createIfMissing: true });
  fill(db, states.map((s) => db.createColumnFamily(s.name)));
  const chk = join(tmp, `${name}-chk`);
  db.createCheckpoint(chk);
  db.close();
  const privateFiles = readdirSync(chk).sort().map((localPath) => {
    const rel = randomUUID();
    const bytes = readFileSync(join(chk, localPath));
    writeFileSync(join(dir, rel), bytes);
    return { localPath, handle: { type: 'relative-file' as const, relativePath: rel, size: bytes.length } };
  });
  const meta = header(states);
  writeFileSync(join(dir, 'meta'), meta);
  metadata(dir, {
    type: 'incremental', tag: 11, checkpointId: 9n, backendId: randomUUID(), startKeyGroup: 0, numKeyGroups: MAX_PARALLELISM, checkpointedSize: 0n,
    meta: { type: 'relative-file', relativePath: 'meta', size: meta.length }, shared: [], private: privateFiles, stateHandleId: randomUUID(),
  });
  return dir;
}

/** The same rows as a canonical savepoint (records in RocksDB order: state, then key bytes). */
function canonicalSavepoint(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  const byKeyGroup = (kg: number) => allRows(0n).filter((r) => r.key[0] === kg).sort((x, y) => x.stateId - y.stateId || Buffer.compare(x.key, y.key));
  const { bytes, offsets } = encodeCanonicalStream({ version: 6, compression: false, keySerializer: long, states: STATES }, 0, MAX_PARALLELISM, byKeyGroup);
  writeFileSync(join(dir, 'keyed'), bytes);
  metadata(dir, { type: 'key-groups', tag: 7, startKeyGroup: 0, offsets, stream: { type: 'relative-file', relativePath: 'keyed', size: bytes.length } });
  return dir;
}

describe('RocksDB-native Flink savepoints: SST contents read through the injected RocksDB binding', () => {
  it('our own native savepoint: validate reads and decodes every entry; inspect counts them per state', async () => {
    const dir = nativeSavepoint('own-native');
    const v = await cli(['savepoint', 'validate', dir, '--json']);
    assert.equal(v.code, 0, v.out);
    const report = JSON.parse(v.out) as FlinkValidationReport;
    assert.equal(report.rocksNativeStreamsRead, 1);
    assert.equal(report.rocksNativeStreamsNotRead, 0);
    assert.equal(report.keyedRecords, 3 * N);
    assert.equal(report.decodedRecords, 3 * N);
    const i = JSON.parse((await cli(['savepoint', 'inspect', dir, '--json'])).out) as FlinkInspectReport;
    assert.deepEqual(i.operators[0]!.keyedStates.map((s) => [s.name, s.entries]), [['count', N], ['attrs', N], ['_timer_state/event_t', N]]);
    // The decoded values, not only their number.
    const sp = await FlinkSavepoint.load(dir, flinkReadOptions());
    const info = (await sp.keyedStreams(sp.operators[0]!))[0]!;
    const counts = [];
    for await (const e of sp.anyDecodedRecords(info, MAX_PARALLELISM)) if (e.state === 'count') counts.push([e.key, e.value]);
    assert.deepEqual(counts.sort((a, b) => Number((a[0] as bigint) - (b[0] as bigint))), Array.from({ length: N }, (_, k) => [BigInt(k), BigInt(k) * 10n]));
  });

  it("list state: merge operands still unmerged in Flink's SST files are joined with Flink's ',' delimiter", async () => {
    // Flink's RocksDBListState appends with db.merge (operator 'stringappendtest', delimiter ','); a
    // native savepoint copies the SST files as they are, so one key's elements may sit in several
    // files as separate operands. Each operand here is flushed into an SST file of its own.
    const list: StateMetaInfo = { name: 'events', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'LIST']], serializers: [['NAMESPACE_SERIALIZER', FlinkSnapshots.voidNamespace()], ['VALUE_SERIALIZER', FlinkSnapshots.list(long)]] };
    const keyOf = (k: bigint) => Buffer.concat([Buffer.from([keyGroupForHash(long.serializer.hashCode!(k), MAX_PARALLELISM)]), bytesOf(long, k), Buffer.from([0])]);
    const dir = nativeSavepoint('own-native-list', 0n, [list], (db, [cf]) => {
      for (const element of [1n, 2n, 3n]) {
        for (const k of [5n, 6n]) db.merge(cf!, keyOf(k), bytesOf(long, k * 100n + element));
        db.flush(cf);
      }
    });
    const sp = await FlinkSavepoint.load(dir, flinkReadOptions());
    const info = (await sp.keyedStreams(sp.operators[0]!))[0]!;
    const lists: unknown[][] = [];
    for await (const e of sp.anyDecodedRecords(info, MAX_PARALLELISM)) lists.push([e.key, e.value]);
    assert.deepEqual(lists.sort((a, b) => Number((a[0] as bigint) - (b[0] as bigint))), [[5n, [501n, 502n, 503n]], [6n, [601n, 602n, 603n]]]);
  });

  it('without a RocksDB binding the library reads the header only and says so', async () => {
    const { validateFlinkSavepoint } = await import('@flowstate/flink');
    const r = await validateFlinkSavepoint(join(tmp, 'own-native'));
    assert.equal(r.rocksNativeStreamsNotRead, 1);
    assert.equal(r.keyedRecords, 0);
  });

  it('diff compares RocksDB-native values with canonical ones; one changed value is found', async () => {
    const canonical = canonicalSavepoint('own-canonical');
    const same = await cli(['savepoint', 'diff', join(tmp, 'own-native'), canonical, '--json']);
    const r = JSON.parse(same.out) as FlinkDiffReport;
    assert.equal(same.code, 0, same.out);
    assert.ok(r.operators[0]!.states.every((s) => s.valuesCompared && s.status === 'equal'));
    const changed = nativeSavepoint('own-native-changed', 1n);
    const d = JSON.parse((await cli(['savepoint', 'diff', changed, canonical, '--json'])).out) as FlinkDiffReport;
    assert.deepEqual(d.operators[0]!.states.filter((s) => s.status !== 'equal').map((s) => [s.name, s.changes]), [['count', ['values differ']]]);
  });

  it('a damaged SST or a file name that is a path is a typed problem naming the subtask, not a crash', async () => {
    const dir = join(tmp, 'own-native-damaged');
    cpSync(join(tmp, 'own-native'), dir, { recursive: true });
    const sp = await FlinkSavepoint.load(dir);
    const h = sp.operators[0]!.subtasks[0]!.managedKeyedState!;
    assert.equal(h.type, 'incremental');
    const sst = h.private.find((f) => f.localPath.endsWith('.sst'))!;
    const file = join(dir, (sst.handle as { relativePath: string }).relativePath);
    const bytes = readFileSync(file);
    bytes.fill(0x5a, 0, Math.min(bytes.length, 4096));
    writeFileSync(file, bytes);
    const v = JSON.parse((await cli(['savepoint', 'validate', dir, '--json'])).out) as FlinkValidationReport;
    assert.equal(v.ok, false);
    assert.ok(v.problems.some((p) => p.severity === 'error' && /subtask 0, RocksDB-native state/.test(p.message)), JSON.stringify(v.problems));
    const escape = join(tmp, 'own-native-escape');
    mkdirSync(escape);
    cpSync(join(tmp, 'own-native'), escape, { recursive: true });
    metadata(escape, { ...h, private: h.private.map((f, i) => (i === 0 ? { ...f, localPath: '../evil' } : f)) });
    const e = JSON.parse((await cli(['savepoint', 'validate', escape, '--json'])).out) as FlinkValidationReport;
    assert.ok(e.problems.some((p) => p.code === 'CORRUPT_CHECKPOINT' && p.message.includes("'../evil' is not a plain file name")), JSON.stringify(e.problems));
    assert.equal(existsSync(join(tmp, 'evil')), false);
  });
});

describe('RocksDB-native Apache Flink fixtures', { skip }, () => {
  const natives = ['new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint-native', 'new-stateful-udf-migration-itcase-flink2.3-rocksdb-checkpoint', 'new-stateful-udf-migration-itcase-flink1.16-rocksdb-savepoint-native'];
  it('every RocksDB-native stream is read (the fixture through a read-only copy, left unchanged); entries as the fixture README says', async () => {
    // A read-only copy of the first: reading must only ever write to scratch copies.
    const copy = join(tmp, 'fixture-copy');
    cpSync(tests(natives[0]!), copy, { recursive: true });
    const before = readdirSync(copy).sort();
    chmodSync(copy, 0o555);
    let streams = 0;
    try {
      for (const d of [copy, ...natives.slice(1).map(tests)]) {
        const v = JSON.parse((await cli(['savepoint', 'validate', d, '--json'])).out) as FlinkValidationReport;
        assert.equal(v.ok, true, d);
        assert.equal(v.rocksNativeStreamsNotRead, 0);
        assert.equal(v.keyedRecords, 32, d);
        assert.equal(v.decodedRecords, 32, d);
        streams += v.rocksNativeStreamsRead;
      }
    } finally {
      chmodSync(copy, 0o755);
    }
    assert.deepEqual(readdirSync(copy).sort(), before);
    console.log(`# RocksDB-native keyed streams read entry by entry: ${streams}`);
    assert.equal(streams, 42);
    const i = JSON.parse((await cli(['savepoint', 'inspect', tests(natives[0]!), '--json'])).out) as FlinkInspectReport;
    const native = i.operators.filter((o) => o.keyedFormat === 'rocksdb-native');
    assert.equal(native.length, 4);
    // 4 keys per keyed state and 4 timers per queue (StatefulJobSnapshotMigrationITCase).
    for (const op of native) for (const s of op.keyedStates) assert.equal(s.entries, 4, `${op.uid}/${s.name}`);
  });

  it('2.3 RocksDB native vs canonical savepoint: every value equal except processing-time timers (wall clock)', async () => {
    const r = JSON.parse((await cli(['savepoint', 'diff', tests(natives[0]!), tests('new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint'), '--json'])).out) as FlinkDiffReport;
    const keyed = r.operators.flatMap((o) => o.states.filter((s) => s.category === 'keyed').map((s) => ({ ...s, op: o.uid })));
    assert.equal(keyed.length, 8);
    for (const s of keyed) {
      assert.equal(s.valuesCompared, true, `${s.op}/${s.name}`);
      assert.equal(s.status, s.name === '_timer_state/processing_timer' ? 'changed' : 'equal', `${s.op}/${s.name}`);
    }
  });

  it('2.3 RocksDB native: rescaled 4 -> 3 with maxParallelism 128 and converted to flowstate, values unchanged', async () => {
    const canonical = tests('new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint');
    const rescaled = join(tmp, 'native-rescaled');
    assert.equal((await cli(['savepoint', 'rescale', tests(natives[0]!), rescaled, '--parallelism', '3', '--max-parallelism', '128'])).code, 0);
    const r = JSON.parse((await cli(['savepoint', 'diff', rescaled, canonical, '--json'])).out) as FlinkDiffReport;
    const keyed = r.operators.flatMap((o) => o.states.filter((s) => s.category === 'keyed'));
    assert.equal(keyed.length, 8);
    for (const s of keyed) assert.equal(s.status, s.name === '_timer_state/processing_timer' ? 'changed' : 'equal', s.name);
    const converted = join(tmp, 'native-converted');
    const c = await cli(['savepoint', 'convert', tests(natives[0]!), converted, '--to', 'canonical', '--json']);
    assert.equal(c.code, 0, c.err);
    assert.deepEqual((JSON.parse(c.out) as { skipped: string[] }).skipped, []);
    const d = JSON.parse((await cli(['savepoint', 'diff', converted, canonical, '--json'])).out) as { operators: { states: { name: string; status: string; category: string }[] }[] };
    for (const s of d.operators.flatMap((o) => o.states).filter((x) => x.category === 'keyed')) assert.equal(s.status, s.name === '_timer_state/processing_timer' ? 'changed' : 'equal', s.name);
  });
});
