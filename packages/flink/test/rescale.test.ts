import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  FlinkSavepoint,
  inspectFlinkSavepoint,
  keyGroupForHash,
  keyGroupRangeForOperator,
  newParallelism,
  readOperatorStates,
  rescaleFlinkSavepoint,
  writeFlinkSavepoint,
  type DecodedKeyedEntry,
} from '../src/index.js';
import { fixture, needsFixtures } from './fixtures.js';
import { withOwnSavepoint, withTempDir } from './own-savepoint.js';

const j = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Map ? [...x.entries()] : x));

/** Every decoded record per operator, as comparable strings (key group left out), plus layout checks. */
async function contents(dir: string): Promise<{ records: Map<string, string[]>; operatorState: Map<string, string[]> }> {
  const sp = await FlinkSavepoint.load(dir);
  const records = new Map<string, string[]>();
  const operatorState = new Map<string, string[]>();
  for (const op of sp.operators) {
    const label = op.uid ?? op.operatorId;
    const list: string[] = [];
    for (const info of await sp.keyedStreams(op)) {
      if (info.format === 'none') continue;
      const range = keyGroupRangeForOperator(op.maxParallelism, op.parallelism, info.subtask);
      for (const e of sp.decodedRecords(info, op.maxParallelism)) {
        const hash = info.header!.keySerializer.serializer.hashCode!(e.key);
        assert.equal(e.keyGroup, keyGroupForHash(hash, op.maxParallelism), `${label}: key ${j(e.key)} in the key group Flink assigns`);
        assert.ok(e.keyGroup >= range.start && e.keyGroup <= range.end, `${label}: key group ${e.keyGroup} in subtask ${info.subtask}'s range`);
        list.push(...flatten(e));
      }
    }
    records.set(label, list.sort());
    const ops: string[] = [];
    for (const s of op.subtasks) {
      const h = s.managedOperatorState;
      if (h === null || h.stream === null) continue;
      for (const st of readOperatorStates(h, await sp.resolve(h.stream), sp.registry).states) ops.push(`${s.index}:${st.name}:${st.mode}:${j(st.values ?? st.raw.map((r) => Buffer.from(r).toString('hex')))}`);
    }
    operatorState.set(label, ops);
  }
  return { records, operatorState };
}

/** Heap-native MAP/LIST entries hold whole collections; canonical ones one user key: compare per user key. */
function flatten(e: DecodedKeyedEntry): string[] {
  if (e.kind === 'MAP' && e.userKey === undefined) return [...(e.value as Map<unknown, unknown>)].map(([uk, v]) => j([e.state, e.key, e.namespace, uk, v]));
  if (e.kind === 'MAP') return [j([e.state, e.key, e.namespace, e.userKey, e.value])];
  return [j([e.state, e.key, e.namespace, e.value])];
}

async function check(input: string, p: number, maxParallelism: number): Promise<void> {
  await withTempDir('rescale', async (out) => {
    const before = await contents(input);
    await rescaleFlinkSavepoint(await FlinkSavepoint.load(input), join(out, 'sp'), { parallelism: p, maxParallelism });
    const after = await contents(join(out, 'sp'));
    const sp = await FlinkSavepoint.load(join(out, 'sp'));
    const report = await inspectFlinkSavepoint(sp);
    for (const op of report.operators.filter((o) => !o.fullyFinished)) {
      assert.equal(op.maxParallelism, maxParallelism);
      assert.equal(op.parallelism, Math.min(p, maxParallelism));
      assert.deepEqual(op.problems, []);
    }
    for (const [label, recs] of before.records) assert.deepEqual(after.records.get(label), recs, `${label}: values unchanged`);
    for (const [label, ops] of before.operatorState) {
      const strip = (l: string[] | undefined): string[] => (l ?? []).map((x) => x.replace(/^\d+:/, ''));
      const flat = (l: string[]) => l.filter((x) => x.includes(':UNION:') || x.includes(':BROADCAST:')).map((x) => x.replace(/^\d+:/, ''));
      // Split lists: same elements in total; union and broadcast: every new subtask has a full copy.
      const elems = (l: string[]) => l.filter((x) => x.includes(':SPLIT_DISTRIBUTE:')).flatMap((x) => JSON.parse(x.slice(x.indexOf(':SPLIT_DISTRIBUTE:') + 18)) as unknown[]).map((x) => JSON.stringify(x)).sort();
      assert.deepEqual(elems(after.operatorState.get(label)!), elems(ops), `${label}: split elements kept`);
      if (flat(ops).length > 0) assert.ok(new Set(flat(strip(after.operatorState.get(label)))).size <= new Set(flat(strip(ops))).size);
    }
  });
}

describe('offline rescale and maxParallelism change (own fixtures)', () => {
  it('1 -> 3 subtasks, maxParallelism 4 -> 200 (2-byte key-group prefixes); values kept', async () => {
    await withOwnSavepoint(40, (dir) => check(dir, 3, 200));
  });

  it('unchanged layout written by rescale equals the writer output', async () => {
    await withOwnSavepoint(10, (dir) =>
      withTempDir('rescale', async (out) => {
        await rescaleFlinkSavepoint(await FlinkSavepoint.load(dir), join(out, 'a'), {});
        await writeFlinkSavepoint(await FlinkSavepoint.load(dir), join(out, 'b'));
        assert.deepEqual((await contents(join(out, 'a'))).records, (await contents(join(out, 'b'))).records);
      }),
    );
  });
});

describe('offline rescale of Apache Flink savepoints', needsFixtures, () => {
  for (const f of ['new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint', 'new-stateful-udf-migration-itcase-flink2.3-hashmap-savepoint', 'new-stateful-udf-migration-itcase-flink2.3-hashmap-checkpoint', 'new-stateful-udf-migration-itcase-flink1.8-savepoint', 'new-stateful-broadcast-udf-migration-itcase-flink2.3-rocksdb-savepoint']) {
    it(`${f}: parallelism 4 -> 3, maxParallelism 4 -> 128; every key in Flink's key group and subtask, values unchanged`, async () => {
      await check(fixture(f), 3, 128);
    });
  }
});

describe('operator state redistribution follows core (Flink round-robin) semantics', needsFixtures, () => {
  it('unchanged parallelism keeps split list elements on their subtask; 4 -> 3 deals them out contiguously', async () => {
    const input = fixture('operatorstate/nonKeyed-flink2.3');
    const perSubtask = async (dir: string): Promise<Map<string, string[][]>> => {
      const sp = await FlinkSavepoint.load(dir);
      const out = new Map<string, string[][]>();
      for (const op of sp.operators) {
        const lists: string[][] = [];
        for (const s of [...op.subtasks].sort((a, b) => a.index - b.index)) {
          const h = s.managedOperatorState;
          if (h === null || h.stream === null) continue;
          lists[s.index] = readOperatorStates(h, await sp.resolve(h.stream), sp.registry).states.flatMap((st) => st.raw.map((r) => Buffer.from(r).toString('hex')));
        }
        out.set(op.uid ?? op.operatorId, lists);
      }
      return out;
    };
    await withTempDir('rescale', async (out) => {
      const before = await perSubtask(input);
      await rescaleFlinkSavepoint(await FlinkSavepoint.load(input), join(out, 'same'), { maxParallelism: 64 });
      assert.deepEqual(await perSubtask(join(out, 'same')), before);
      await rescaleFlinkSavepoint(await FlinkSavepoint.load(input), join(out, 'three'), { parallelism: 3 });
      for (const [op, lists] of await perSubtask(join(out, 'three'))) {
        const all = (before.get(op) ?? []).flat();
        assert.deepEqual(lists.flat().sort(), [...all].sort(), op);
        if (all.length === 4) assert.deepEqual(lists.map((l) => l.length).sort(), [1, 1, 2]);
      }
    });
  });
});

describe('newParallelism', () => {
  it('does not take a parallelism from Object.prototype for a uid such as constructor', () => {
    const op = { uid: 'constructor', operatorId: 'ab'.repeat(8), parallelism: 3, maxParallelism: 128, coordinatorState: null, fullyFinished: false, subtasks: [] };
    assert.equal(newParallelism(op, { maxParallelism: 128, operatorParallelism: { other: 5 } }), 3);
    assert.equal(newParallelism(op, { maxParallelism: 128, parallelism: 2, operatorParallelism: { toString: 1 } }), 2);
    assert.equal(newParallelism(op, { maxParallelism: 128, operatorParallelism: { constructor: 4 } }), 4);
  });
});
