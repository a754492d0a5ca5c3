import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { deserializeCheckpointMetadata, FsCheckpointStorage, MemoryFileSystem, serializeCheckpointMetadata } from '@flowstate/core';
import { convertFlinkToFlowstate, convertFlowstateToFlink, FlinkSavepoint, JavaDataOutput, validateFlinkSavepoint, writeStateMetaInfo, type StateMetaInfo } from '../src/index.js';
import { ClampedTimerLog, FLINK_TIMER_TIMESTAMPS_PROPERTY, MAX_RECORDED_CLAMPED_TIMERS, MAX_RECORDED_TIMESTAMPS_PER_TIMER, recordedTimerTimestamps } from '../src/timer-timestamps.js';
import { fixture, needsFixtures } from './fixtures.js';
import { writeOwnSavepoint } from './own-savepoint.js';

const tmp = mkdtempSync(join(tmpdir(), 'flowstate-flink-rt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let outputs = 0;

function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

/** Every decoded entry as a string (map entries one by one), by operator ID and state; timers with their exact timestamp. */
async function entries(sp: FlinkSavepoint): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const op of sp.operators) {
    for (const info of await sp.keyedStreams(op)) {
      for (const e of sp.decodedRecords(info, op.maxParallelism)) {
        const k = `${op.operatorId}/${e.state}`;
        const list = out.get(k) ?? out.set(k, []).get(k)!;
        const m = e.kind === 'MAP' && e.userKey === undefined ? [...(e.value as Map<unknown, unknown>)] : [[e.userKey, e.value]];
        for (const [uk, v] of m) list.push(JSON.stringify([e.keyGroup, e.key, e.namespace, uk, v], big));
      }
    }
  }
  for (const l of out.values()) l.sort();
  return out;
}

/** Raw canonical records of the PRIORITY_QUEUE states, in stream order, by operator ID / state / key group. */
async function timerRecords(sp: FlinkSavepoint): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const op of sp.operators) {
    for (const info of await sp.keyedStreams(op)) {
      if (info.format !== 'canonical') continue;
      for (const r of sp.canonicalRecords(info)) {
        const meta = info.header!.states[r.stateId]!;
        if (meta.backendStateType !== 'PRIORITY_QUEUE') continue;
        const k = `${op.operatorId}/${meta.name}/${r.keyGroup}`;
        (out.get(k) ?? out.set(k, []).get(k)!).push(Buffer.from(r.key).toString('hex') + ':' + Buffer.from(r.value).toString('hex'));
      }
    }
  }
  return out;
}

/** Keys without the operator ID: without recorded Flink types, V2-V4 operators come back under murmur3_128 of their hex ID. */
function byState<V>(m: Map<string, V>): Map<string, V> {
  return new Map([...m].map(([k, v]) => [k.slice(k.indexOf('/') + 1), v]));
}

/**
 * Keyed state streams compared subtask by subtask: byte-identical, or with another list of states
 * in the header (Flink lists per subtask only the states registered there; a flowstate savepoint
 * lists every state of the operator in every subtask).
 */
async function compareStreams(original: FlinkSavepoint, back: FlinkSavepoint): Promise<{ identical: number; otherStates: number; different: number }> {
  const r = { identical: 0, otherStates: 0, different: 0 };
  for (const op of original.operators) {
    const theirs = back.operators.find((o) => o.operatorId === op.operatorId);
    const ours = theirs === undefined ? [] : await back.keyedStreams(theirs);
    for (const a of await original.keyedStreams(op)) {
      if (a.format === 'none') continue;
      const b = ours.find((x) => x.subtask === a.subtask);
      const names = (i: typeof a | undefined): string => JSON.stringify(i?.header?.states.map((m) => m.name));
      if (b !== undefined && Buffer.from(a.stream!.bytes).equals(Buffer.from(b.stream!.bytes))) r.identical++;
      else if (names(a) !== names(b)) r.otherStates++;
      else r.different++;
    }
  }
  return r;
}

function metaBytes(m: StateMetaInfo): string {
  const o = new JavaDataOutput();
  writeStateMetaInfo(o, m);
  return Buffer.from(o.toBytes()).toString('hex');
}

async function timerMetas(sp: FlinkSavepoint): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const op of sp.operators) {
    for (const info of await sp.keyedStreams(op)) {
      for (const m of info.header?.states ?? []) if (m.backendStateType === 'PRIORITY_QUEUE') out.set(`${op.operatorId}/${m.name}`, metaBytes(m));
    }
  }
  return out;
}

/** Flink -> flowstate (in memory) -> Flink (a directory); `strip` drops the Flink type info the first step records. */
async function roundTrip(dir: string, strip = false): Promise<{ back: FlinkSavepoint; skipped: string[]; toFlowstate: readonly string[] }> {
  const fs = new MemoryFileSystem();
  const there = await convertFlinkToFlowstate(await FlinkSavepoint.load(dir), fs);
  if (strip) {
    const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
    const md = deserializeCheckpointMetadata((await storage.resolveCheckpoint('')).metadata, '_metadata');
    fs.overwriteForTest('_metadata', serializeCheckpointMetadata({ ...md, properties: {} }));
  }
  const out = join(tmp, `out-${outputs++}`);
  const back = await convertFlowstateToFlink(fs, out);
  const report = await validateFlinkSavepoint(out);
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  return { back: await FlinkSavepoint.load(out), skipped: back.skipped, toFlowstate: there.skipped };
}

describe('Flink -> flowstate -> Flink keeps every timer (Apache Flink fixtures)', needsFixtures, () => {
  const udf = (v: string): string => `new-stateful-udf-migration-itcase-flink${v}`;
  // RocksDB canonical savepoints: the RocksDB full snapshot writes each state's records in key order, as we do.
  const rocksdbCanonical = ['2.3-rocksdb-savepoint', '2.0-rocksdb-savepoint', '1.20-rocksdb-savepoint', '1.13-rocksdb-savepoint'].map(udf);
  const others = [
    ...['2.3-hashmap-savepoint', '2.3-hashmap-savepoint-native', '2.3-hashmap-checkpoint', '2.0-hashmap-savepoint', '1.20-hashmap-savepoint', '1.16-hashmap-savepoint', '1.15-hashmap-savepoint', '1.13-savepoint', '1.8-savepoint'].map(udf),
    'legacy-raw-state-heap-timers-rocks-db-1.12',
    'new-stateful-broadcast-udf-migration-itcase-flink2.3-hashmap-savepoint',
    'new-stateful-broadcast-udf-migration-itcase-flink2.3-rocksdb-savepoint',
    'snuyanzin-flink/flink-libraries/flink-state-processing-api/src/test/resources/table-state',
  ];
  for (const name of [...rocksdbCanonical, ...others]) {
    it(`${name}: every timer and every decodable entry comes back in its Flink key group; the result validates`, async () => {
      const dir = fixture(name);
      const original = await FlinkSavepoint.load(dir);
      const { back, skipped, toFlowstate } = await roundTrip(dir);
      assert.deepEqual([...toFlowstate, ...skipped], [], 'nothing skipped either way');
      const before = await entries(original);
      assert.deepEqual(await entries(back), before);
      const timers = [...before].filter(([k]) => k.includes('/_timer_state/')).reduce((n, [, l]) => n + l.length, 0);
      assert.deepEqual(await timerMetas(back), await timerMetas(original), 'timer meta infos byte-identical');
      if (rocksdbCanonical.includes(name)) {
        assert.equal(timers, 16, 'two timely operators with 4 event and 4 processing timers each');
        // Same records, same order, same bytes: [key-group prefix][timestamp ^ sign][key][namespace], empty value.
        assert.deepEqual(await timerRecords(back), await timerRecords(original));
        // Whole state files: identical but for subtask 0 of both timely operators, where Flink's header lacks 'state-name'.
        assert.deepEqual(await compareStreams(original, back), { identical: 12, otherStates: 2, different: 0 });
      }
    });
  }

  it('legacy-raw-state-heap-timers-rocks-db-1.12 (RocksDB with heap timers): all 4 keyed state streams written back are byte-identical', async () => {
    const dir = fixture('legacy-raw-state-heap-timers-rocks-db-1.12');
    const { back } = await roundTrip(dir);
    const r = await compareStreams(await FlinkSavepoint.load(dir), back);
    assert.deepEqual(r, { identical: 4, otherStates: 0, different: 0 });
  });

  it('timers of a flowstate savepoint without recorded Flink types: the meta info is the one Flink writes (legacy 1.12, Timer<Int, VoidNamespace>)', async () => {
    const dir = fixture('legacy-raw-state-heap-timers-rocks-db-1.12');
    const { back, skipped } = await roundTrip(dir, true);
    const original = byState(await timerMetas(await FlinkSavepoint.load(dir)));
    const written = byState(await timerMetas(back));
    assert.deepEqual([...written.keys()].sort(), ['_timer_state/event_user-timers', '_timer_state/processing_user-timers'], skipped.join('\n'));
    for (const [k, bytes] of written) assert.equal(bytes, original.get(k), k);
    const timers = (e: Map<string, string[]>): string[] | undefined => byState(e).get('_timer_state/event_user-timers');
    assert.deepEqual(timers(await entries(back)), ['[94,0,null,null,{"timestamp":"2n","key":0,"namespace":null}]']);
    assert.deepEqual(timers(await entries(back)), timers(await entries(await FlinkSavepoint.load(dir))));
  });
});

describe('Flink -> flowstate -> Flink keeps every timer (own savepoint)', () => {
  for (const strip of [false, true]) {
    it(`own savepoint (Long keys, event timers at key * 100)${strip ? ', Flink types not recorded' : ''}: timers and entries come back byte-identical`, async () => {
      const dir = writeOwnSavepoint(12, false);
      try {
        const original = await FlinkSavepoint.load(dir);
        const { back, skipped } = await roundTrip(dir, strip);
        assert.deepEqual(skipped, []);
        assert.deepEqual(byState(await entries(back)), byState(await entries(original)));
        assert.equal(byState(await entries(back)).get('_timer_state/event_t')!.length, 12);
        assert.deepEqual(byState(await timerRecords(back)), byState(await timerRecords(original)));
        assert.deepEqual(byState(await timerMetas(back)), byState(await timerMetas(original)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('recorded timestamps of clamped timers', () => {
  it('are read bounded: bad JSON, non-hex keys, numbers in the safe range or outside a long are ignored', () => {
    const key = `${FLINK_TIMER_TIMESTAMPS_PROPERTY}op.q`;
    assert.equal(recordedTimerTimestamps({ [key]: '{not json' }, 'op', 'q').size, 0);
    const good = (-(2n ** 63n) + 3n).toString();
    const m = recordedTimerTimestamps({ [key]: JSON.stringify({ ab: [good, '12', (2n ** 63n).toString(), 5], 'x!': [good], cd: 'nope' }) }, 'op', 'q');
    assert.deepEqual([...m], [['ab', [-(2n ** 63n) + 3n]]]);
  });

  it(`at most ${MAX_RECORDED_CLAMPED_TIMERS} clamped timers per state are recorded; the rest are listed`, () => {
    const log = new ClampedTimerLog();
    for (let i = 0; i <= MAX_RECORDED_CLAMPED_TIMERS; i++) log.record('q', Uint8Array.of(i & 0xff, i >> 8), -(2n ** 63n) + BigInt(i));
    log.record('q', Uint8Array.of(0, 0), -(2n ** 63n) + 7n);
    const { properties, notes } = log.drain('op');
    const recorded = recordedTimerTimestamps(properties, 'op', 'q');
    assert.equal(recorded.size, MAX_RECORDED_CLAMPED_TIMERS);
    assert.deepEqual(recorded.get('0000'), [-(2n ** 63n), -(2n ** 63n) + 7n], 'timers of one key and namespace clamped onto one keep all their timestamps');
    assert.deepEqual(notes, [`op/q: 1 timers outside ±(2^53 - 1) beyond the first ${MAX_RECORDED_CLAMPED_TIMERS} go back to Flink with their clamped timestamp`]);
  });

  it('bounds the original timestamps recorded for one clamped timer', () => {
    const log = new ClampedTimerLog();
    for (let i = 0; i < MAX_RECORDED_TIMESTAMPS_PER_TIMER + 3; i++) log.record('q', Uint8Array.of(1), -(2n ** 63n) + BigInt(i));
    log.record('q', Uint8Array.of(1), -(2n ** 63n));
    const { properties, notes } = log.drain('op');
    assert.equal(recordedTimerTimestamps(properties, 'op', 'q').get('01')?.length, MAX_RECORDED_TIMESTAMPS_PER_TIMER);
    assert.deepEqual(notes, [`op/q: 3 original timestamps beyond the first ${MAX_RECORDED_TIMESTAMPS_PER_TIMER} of one clamped timer go back to Flink as that timer`]);
  });
});
