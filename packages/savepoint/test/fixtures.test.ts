import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  computeKeyGroupRangeForOperatorIndex,
  DataInputDeserializer,
  deserializeCheckpointMetadata,
  Int64Serializer,
  isKeyGroupsStateHandle,
  repartitionOperatorState,
  SAVEPOINT,
  serializeCheckpointMetadata,
  Serializers,
  VoidNamespace,
  type KeyGroupsStateHandle,
  type OperatorStateHandle,
} from '@flowstate/core';
import { FsStateBackend, MemoryStateBackend } from '@flowstate/heap';
import { localSavepointStorage } from '@flowstate/storage-local';
import { SavepointReader, SavepointWriter, validateSavepoint } from '../src/index.js';
import { D, keyElements, KEYED_UID, MAX_PARALLELISM, OFFSETS, PARTITIONS, RULES, SOURCE_UID, writeFixture, type KeyElement } from './fixture-data.js';
import { FIXTURE_V1, freshDirs, keyedHandles, readMeta, stateFiles } from './helpers.js';

/** The records of a block (state index, key, namespace, rest) as sorted hex strings. */
function blockRecords(block: Uint8Array): string[] {
  const input = new DataInputDeserializer(block);
  input.readUint32();
  const out: string[] = [];
  for (;;) {
    const ref = input.readVarUint();
    if (ref === 0) break;
    const parts = [String(ref), Buffer.from(input.readLengthPrefixed()).toString('hex'), Buffer.from(input.readLengthPrefixed()).toString('hex')];
    // State 4 (index 3) is the MAP state 'attributes' in the fixture: user key, presence, value.
    if (ref === 4) {
      parts.push(Buffer.from(input.readLengthPrefixed()).toString('hex'));
      if (input.readBoolean()) parts.push(Buffer.from(input.readLengthPrefixed()).toString('hex'));
    } else {
      parts.push(Buffer.from(input.readLengthPrefixed()).toString('hex'));
    }
    out.push(parts.join(':'));
  }
  assert.equal(input.remaining, 0);
  return out.sort();
}

const tmp = freshDirs();

const expected = new Map(keyElements().map((e) => [e.key, e]));
const sumOf = (vs: readonly bigint[]) => vs.reduce((a, b) => a + b, 0n);
const avgAcc = (e: KeyElement) => ({ sum: e.samples.reduce((a, b) => a + b, 0), count: e.samples.length });

describe('format v1 fixture', () => {
  it('is reproducible: regenerating it yields byte-identical files, _metadata included', async () => {
    const out = join(tmp(), 'fx');
    await writeFixture(out);
    assert.deepEqual(stateFiles(out), stateFiles(FIXTURE_V1));
    for (const f of [...stateFiles(FIXTURE_V1), '_metadata']) {
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(FIXTURE_V1, f))), `${f} differs from the committed fixture`);
    }
  });

  it('validates', async () => {
    const r = await validateSavepoint(FIXTURE_V1);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.deepEqual(r.problems, []);
    assert.equal(r.formatVersion, 1);
  });

  it('restores into the heap backends (at parallelism 2 and 3) with exactly the expected values', async () => {
    const meta = readMeta(FIXTURE_V1);
    const op = meta.operators.find((o) => o.uid === KEYED_UID)!;
    const handles = op.subtasks.flatMap((s) => s.keyed);
    for (const parallelism of [2, 3]) {
      const seen = new Set<string>();
      for (let i = 0; i < parallelism; i++) {
        const b = await new MemoryStateBackend().createKeyedStateBackend({
          operatorIdentifier: `fixture[${i}]`,
          keySerializer: Serializers.string,
          maxParallelism: MAX_PARALLELISM,
          keyGroupRange: computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, parallelism, i),
          restoreState: handles,
          stateHandleReader: localSavepointStorage(FIXTURE_V1),
        });
        const count = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, D.count);
        const profile = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, D.profile);
        const attributes = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, D.attributes);
        const avg = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, D.avg);
        for (const key of b.getKeys<typeof VoidNamespace>('count', VoidNamespace)) {
          const e = expected.get(key);
          assert.ok(e !== undefined, `unexpected key ${key}`);
          seen.add(key);
          b.setCurrentKey(key);
          assert.equal(count.value(), e.count);
          assert.deepEqual(profile.value(), e.profile);
          assert.deepEqual([...attributes.entries()], e.attributes.map(([k, v]) => [k, v]));
          const acc = avgAcc(e);
          assert.equal(avg.get(), acc.sum / acc.count);
          for (const w of [1000n, 2000n]) {
            const got = b.getPartitionedState(w, Int64Serializer.INSTANCE, D.events).get();
            assert.deepEqual(got, e.events.find(([x]) => x === w)?.[1] ?? []);
          }
          for (const w of [3000n, 4000n]) {
            const got = b.getPartitionedState(w, Int64Serializer.INSTANCE, D.sum).get();
            const vs: readonly bigint[] | undefined = e.sums.find(([x]) => x === w)?.[1];
            assert.equal(got, vs === undefined ? null : sumOf(vs));
          }
        }
        b.dispose();
      }
      assert.equal(seen.size, expected.size, `every key restored exactly once at parallelism ${parallelism}`);
    }
  });

  it('restores operator state: split list, union list and broadcast state', async () => {
    const meta = readMeta(FIXTURE_V1);
    const op = meta.operators.find((o) => o.uid === SOURCE_UID)!;
    const old = op.subtasks.map((s) => [...s.operator]);
    const [mine] = repartitionOperatorState(old, 1);
    const b = await new FsStateBackend().createOperatorStateBackend({ operatorIdentifier: 'source', restoreState: mine!, stateHandleReader: localSavepointStorage(FIXTURE_V1) });
    assert.deepEqual([...b.getListState(D.offsets).get()].sort((x, y) => (x < y ? -1 : 1)), [...OFFSETS].sort((x, y) => (x < y ? -1 : 1)));
    assert.deepEqual([...b.getUnionListState(D.partitions).get()].sort(), [...PARTITIONS].sort());
    assert.deepEqual([...b.getBroadcastState(D.rules).immutableEntries()], RULES.map(([k, v]) => [k, v]));
    b.dispose();
  });

  it('reads back every state through the State Processor API', async () => {
    const r = await SavepointReader.load(FIXTURE_V1);
    assert.deepEqual(
      r.operators().map((o) => [o.uid, o.parallelism, o.maxParallelism]),
      [
        [KEYED_UID, 2, MAX_PARALLELISM],
        [SOURCE_UID, 2, MAX_PARALLELISM],
      ],
    );
    const counts = new Map<string, number>();
    for await (const e of r.readKeyedState<string, unknown, number>(KEYED_UID, 'count')) counts.set(e.key, e.value);
    assert.deepEqual(counts, new Map([...expected].map(([k, e]) => [k, e.count])));
    const avgs = new Map<string, unknown>();
    for await (const e of r.readKeyedState<string>(KEYED_UID, 'avg')) avgs.set(e.key, e.value);
    assert.deepEqual(avgs, new Map([...expected].map(([k, e]) => [k, avgAcc(e)])));
    const events: string[] = [];
    for await (const e of r.readKeyedState<string, bigint, string[]>(KEYED_UID, 'events')) events.push(`${e.key}@${e.namespace}=${e.value.join(',')}`);
    assert.deepEqual(events.sort(), [...expected.values()].flatMap((e) => e.events.map(([w, v]) => `${e.key}@${w}=${v.join(',')}`)).sort());
    const sums: string[] = [];
    for await (const e of r.readKeyedState<string, bigint, bigint>(KEYED_UID, 'sum')) sums.push(`${e.key}@${e.namespace}=${e.value}`);
    assert.deepEqual(sums.sort(), [...expected.values()].flatMap((e) => e.sums.map(([w, v]) => `${e.key}@${w}=${sumOf(v)}`)).sort());
    const flat: string[] = [];
    for await (const e of r.readMapState<string, unknown, string, number>(KEYED_UID, 'attributes')) flat.push(`${e.key}.${e.userKey}=${e.value}`);
    assert.deepEqual(flat.sort(), [...expected.values()].flatMap((e) => e.attributes.map(([k, v]) => `${e.key}.${k}=${v}`)).sort());
    for await (const g of r.readMapStateGrouped<string, unknown, string, number>(KEYED_UID, 'attributes')) {
      assert.deepEqual([...g.value], expected.get(g.key)!.attributes.map(([k, v]) => [k, v]));
    }
    const offsets: bigint[] = [];
    for await (const o of r.readListState<bigint>(SOURCE_UID, 'offsets')) offsets.push(o);
    assert.deepEqual(new Set(offsets), new Set(OFFSETS));
    const parts: string[] = [];
    for await (const p of r.readUnionState<string>(SOURCE_UID, 'partitions')) parts.push(p);
    assert.deepEqual(parts.sort(), [...PARTITIONS].sort());
    const rules: Array<[string, unknown]> = [];
    for await (const e of r.readBroadcastState<string, unknown>(SOURCE_UID, 'rules')) rules.push(e);
    assert.deepEqual(rules, RULES.map(([k, v]) => [k, v]));
  });

  it('re-snapshotting restored state reproduces the operator streams exactly and the keyed streams block by block', async () => {
    const meta = readMeta(FIXTURE_V1);
    const out = tmp();
    const storage = localSavepointStorage(out);
    const location = await storage.initializeLocationForCheckpoint(1);
    const keyedOp = meta.operators.find((o) => o.uid === KEYED_UID)!;
    for (const s of keyedOp.subtasks) {
      const h = s.keyed[0] as KeyGroupsStateHandle;
      const b = await new FsStateBackend().createKeyedStateBackend({
        operatorIdentifier: 'x',
        keySerializer: Serializers.string,
        maxParallelism: MAX_PARALLELISM,
        keyGroupRange: computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, keyedOp.parallelism, s.subtaskIndex),
        restoreState: [h],
        stateHandleReader: localSavepointStorage(FIXTURE_V1),
      });
      const again = (await b.snapshot(1, 0, location.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot as KeyGroupsStateHandle;
      assert.ok(h.stream.type === 'file' && again.stream.type === 'file');
      const want = readFileSync(join(FIXTURE_V1, h.stream.path));
      const got = readFileSync(join(out, again.stream.path));
      // The header and every block's length and records are reproduced exactly. The order of
      // records inside a block is the heap table's iteration order, which the format leaves open.
      assert.equal(again.headerLength, h.headerLength);
      assert.ok(got.subarray(0, h.headerLength).equals(want.subarray(0, h.headerLength)), 'header bytes');
      assert.deepEqual(again.keyGroupOffsets, h.keyGroupOffsets);
      assert.equal(got.length, want.length);
      for (let i = 0; i + 1 < h.keyGroupOffsets.length; i++) {
        const [a, z] = [h.keyGroupOffsets[i]!, h.keyGroupOffsets[i + 1]!];
        assert.deepEqual(blockRecords(got.subarray(a, z)), blockRecords(want.subarray(a, z)), `records of block ${i}`);
      }
      b.dispose();
    }
    const sourceOp = meta.operators.find((o) => o.uid === SOURCE_UID)!;
    for (const s of sourceOp.subtasks) {
      const h = s.operator[0] as OperatorStateHandle;
      const b = await new FsStateBackend().createOperatorStateBackend({ operatorIdentifier: 'y', restoreState: [h], stateHandleReader: localSavepointStorage(FIXTURE_V1) });
      const again = (await b.snapshot(1, 0, location.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot!;
      assert.ok(h.stream.type === 'file' && again.stream.type === 'file');
      assert.ok(readFileSync(join(out, again.stream.path)).equals(readFileSync(join(FIXTURE_V1, h.stream.path))), `operator stream of subtask ${s.subtaskIndex}`);
      assert.deepEqual(again.states, h.states);
      b.dispose();
    }
  });

  it('copies byte for byte, and rescaling 2 -> 1 -> 2 subtasks reproduces the keyed streams exactly', async () => {
    const copy = join(tmp(), 'copy');
    await SavepointWriter.fromExisting(await SavepointReader.load(FIXTURE_V1)).write(copy);
    for (const f of [...stateFiles(FIXTURE_V1), '_metadata']) assert.ok(readFileSync(join(copy, f)).equals(readFileSync(join(FIXTURE_V1, f))), f);

    const one = join(tmp(), 'one');
    await SavepointWriter.fromExisting(await SavepointReader.load(FIXTURE_V1)).rescale(undefined, { parallelism: 1 }).write(one);
    const two = join(tmp(), 'two');
    await SavepointWriter.fromExisting(await SavepointReader.load(one)).rescale(undefined, { parallelism: 2 }).write(two);
    const before = keyedHandles(readMeta(FIXTURE_V1));
    const afterRescale = keyedHandles(readMeta(two));
    assert.equal(afterRescale.length, before.length);
    for (let i = 0; i < before.length; i++) {
      const a = before[i]!.stream;
      const b = afterRescale[i]!.stream;
      assert.ok(a.type === 'file' && b.type === 'file');
      assert.ok(readFileSync(join(two, b.path)).equals(readFileSync(join(FIXTURE_V1, a.path))), `keyed stream ${i}`);
    }
    assert.ok((await validateSavepoint(two)).ok);
  });

  it('keeps metadata bytes stable through decode and encode', () => {
    const bytes = readFileSync(join(FIXTURE_V1, '_metadata'));
    const m = deserializeCheckpointMetadata(bytes, '_metadata');
    assert.ok(Buffer.from(serializeCheckpointMetadata(m)).equals(bytes));
    assert.ok(keyedHandles(m).every(isKeyGroupsStateHandle));
  });
});
