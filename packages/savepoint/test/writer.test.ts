import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CorruptCheckpointError,
  computeKeyGroupRangeForOperatorIndex,
  IllegalStateUsageError,
  Int32Serializer,
  Int64Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  RecordSerializer,
  ReducingStateDescriptor,
  SAVEPOINT,
  serializeCheckpointMetadata,
  Serializers,
  StateMigrationError,
  StringSerializer,
  UnknownFormatVersionError,
  ValueStateDescriptor,
  VoidNamespace,
  type KeyedStateBackend,
  type KeyedStateHandle,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { localSavepointStorage } from '@flowstate/storage-local';
import { diffSavepoints, rescaleSavepoint, SavepointOutputError, SavepointReader, SavepointWriter, validateSavepoint } from '../src/index.js';
import { D, FIXTURE_FILE_NAME_SEED, keyElements, KEYED_UID, prng, SOURCE_UID } from './fixture-data.js';
import { cleanup, FIXTURE_V1, HEAP, readEverything, tempDir } from './helpers.js';

const temps: string[] = [];
const tmp = (name = 'sp') => {
  const d = tempDir();
  temps.push(d);
  return join(d, name);
};
after(() => temps.forEach(cleanup));

const SEED = Number(process.env.FLOWSTATE_TEST_SEED ?? 7340033);
console.log(`writer.test: seed ${SEED} (FLOWSTATE_TEST_SEED to reproduce)`);

const VALUE = new ValueStateDescriptor<number>('v', Serializers.int32);
const LIST = new ListStateDescriptor<string>('l', Serializers.string);
const MAP = new MapStateDescriptor<string, unknown>('m', Serializers.string, Serializers.msgpack);
const RED = new ReducingStateDescriptor<bigint>('r', (a, b) => a + b, Int64Serializer.INSTANCE);

type Model = Map<string, string>;

/** Random operations on heap backends at parallelism p, mirrored in a model of every entry. */
async function randomHeap(seed: number, p: number, maxParallelism: number): Promise<{ backends: KeyedStateBackend<string>[]; model: Model }> {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const backends: KeyedStateBackend<string>[] = [];
  for (let i = 0; i < p; i++) {
    backends.push(
      await new FsStateBackend().createKeyedStateBackend({
        operatorIdentifier: `rt[${i}]`,
        keySerializer: Serializers.string,
        maxParallelism,
        keyGroupRange: computeKeyGroupRangeForOperatorIndex(maxParallelism, p, i),
      }),
    );
  }
  const model: Model = new Map();
  const owner = (key: string) => backends.find((b) => {
    try {
      b.setCurrentKey(key);
      return true;
    } catch {
      return false;
    }
  })!;
  for (let n = 0; n < 2000; n++) {
    const key = `k${int(300)}`;
    const b = owner(key);
    switch (int(5)) {
      case 0: {
        const v = int(1e6) - 5e5;
        b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, VALUE).update(v);
        model.set(`v|${key}`, String(v));
        break;
      }
      case 1: {
        const s = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, LIST);
        s.add(`e${int(100)}`);
        model.set(`l|${key}`, JSON.stringify(s.get()));
        break;
      }
      case 2: {
        const uk = `u${int(5)}`;
        const v = int(3) === 0 ? null : { n: int(100), tag: `t${int(9)}` };
        b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, MAP).put(uk, v);
        model.set(`m|${key}|${uk}`, JSON.stringify(v));
        break;
      }
      case 3: {
        const ns = BigInt(int(4)) * 1000n;
        const s = b.getPartitionedState(ns, Int64Serializer.INSTANCE, RED);
        s.add(BigInt(int(1000)));
        model.set(`r|${key}|${ns}`, String(s.get()));
        break;
      }
      default: {
        b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, VALUE).clear();
        model.delete(`v|${key}`);
      }
    }
  }
  return { backends, model };
}

async function snapshotToSavepoint(backends: KeyedStateBackend<string>[], dir: string, maxParallelism: number): Promise<void> {
  const storage = localSavepointStorage(dir);
  const location = await storage.initializeLocationForCheckpoint(9);
  const handles: Array<KeyedStateHandle | null> = [];
  for (const b of backends) handles.push((await b.snapshot(9, 1, location.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot);
  await location.finalizeCheckpoint(
    serializeCheckpointMetadata({
      checkpointId: 9,
      kind: 'SAVEPOINT',
      timestamp: 1,
      operators: [{ uid: 'rt', parallelism: backends.length, maxParallelism, subtasks: handles.map((h, i) => ({ subtaskIndex: i, keyed: h === null ? [] : [h], operator: [] })) }],
    }),
  );
}

/** Reads every entry back through heap backends restored at parallelism p. */
async function restoreModel(dir: string, p: number, maxParallelism: number): Promise<Model> {
  const r = await SavepointReader.load(dir);
  const handles = r.metadata.operators[0]!.subtasks.flatMap((s) => s.keyed);
  const model: Model = new Map();
  for (let i = 0; i < p; i++) {
    const b = await new FsStateBackend().createKeyedStateBackend({
      operatorIdentifier: `restore[${i}]`,
      keySerializer: Serializers.string,
      maxParallelism,
      keyGroupRange: computeKeyGroupRangeForOperatorIndex(maxParallelism, p, i),
      restoreState: handles,
      stateHandleReader: localSavepointStorage(dir),
    });
    const v = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, VALUE);
    const l = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, LIST);
    const m = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, MAP);
    for (const k of b.getKeys('v', VoidNamespace)) {
      b.setCurrentKey(k);
      model.set(`v|${k}`, String(v.value()));
    }
    for (const k of b.getKeys('l', VoidNamespace)) {
      b.setCurrentKey(k);
      model.set(`l|${k}`, JSON.stringify(l.get()));
    }
    for (const k of b.getKeys('m', VoidNamespace)) {
      b.setCurrentKey(k);
      for (const [uk, uv] of m.entries()) model.set(`m|${k}|${uk}`, JSON.stringify(uv));
    }
    for (const [k, ns] of b.getKeysAndNamespaces<bigint>('r')) {
      b.setCurrentKey(k);
      model.set(`r|${k}|${ns}`, String(b.getPartitionedState(ns, Int64Serializer.INSTANCE, RED).get()));
    }
    b.dispose();
  }
  return model;
}

const sorted = (m: Model) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('round trips heap -> canonical savepoint -> heap', () => {
  it('restores entry by entry at another parallelism, and after rescaling maxParallelism (with spilling)', async () => {
    const { backends, model } = await randomHeap(SEED, 3, 128);
    const dir = tmp();
    await snapshotToSavepoint(backends, dir, 128);
    backends.forEach((b) => b.dispose());
    assert.ok((await validateSavepoint(dir)).ok);
    assert.deepEqual(sorted(await restoreModel(dir, 2, 128)), sorted(model));

    const small = tmp('rescaled');
    // A 4 KiB budget forces the re-partitioning pass through its temporary files.
    await rescaleSavepoint(dir, small, { maxParallelism: 32, parallelism: 4 }, { spillBudget: 4096 });
    const v = await validateSavepoint(small);
    assert.ok(v.ok, JSON.stringify(v.problems));
    assert.deepEqual(sorted(await restoreModel(small, 4, 32)), sorted(model));
    const back = tmp('back');
    await rescaleSavepoint(small, back, { maxParallelism: 128, parallelism: 3 });
    assert.deepEqual(sorted(await restoreModel(back, 1, 128)), sorted(model));
    const d = await diffSavepoints(await SavepointReader.load(dir), await SavepointReader.load(back));
    assert.ok(d.operators[0]!.states.length > 0 && d.operators[0]!.states.every((s) => s.status === 'equal'), JSON.stringify(d));
  });
});

interface ProfileV2 {
  name: string;
  age: number;
  email: string;
  [k: string]: unknown;
}
const profileV2 = new RecordSerializer<ProfileV2>('Profile', [
  { name: 'name', serializer: StringSerializer.INSTANCE },
  { name: 'email', serializer: StringSerializer.INSTANCE, defaultValue: 'unknown@example.org' },
  { name: 'age', serializer: Int32Serializer.INSTANCE },
]);

describe('SavepointWriter on an existing savepoint', () => {
  const elements = new Map(keyElements().map((e) => [e.key, e]));

  it('adds, removes and renames operators, transforms and upgrades states', async () => {
    const w = SavepointWriter.fromExisting(await SavepointReader.load(FIXTURE_V1), HEAP)
      .removeOperator(SOURCE_UID)
      .renameOperator(KEYED_UID, 'renamed')
      .transformKeyedState('renamed', 'count', { map: (e) => ((e.value as number) < 0 ? undefined : (e.value as number) * 2) })
      .transformKeyedState('renamed', 'attributes', { map: (e) => (e.value === null ? 0 : (e.value as number) + 1) })
      .removeKeyedState('renamed', 'sum')
      .withKeyedOperator('added', {
        data: [1, 2, 3, 4, 5, 6],
        keySelector: (n: number) => n % 2,
        keySerializer: Serializers.int32,
        parallelism: 3,
        maxParallelism: 8,
        bootstrap: { processElement: (n, ctx) => ctx.getState(new ValueStateDescriptor<number>('total', Serializers.int32)).update((ctx.getState(new ValueStateDescriptor<number>('total', Serializers.int32)).value() ?? 0) + n) },
      });
    await w.upgradeKeyedState(undefined, new ValueStateDescriptor('profile', profileV2));
    const out = tmp();
    await w.write(out);
    const v = await validateSavepoint(out);
    assert.ok(v.ok, JSON.stringify(v.problems));
    const r = await SavepointReader.load(out);
    assert.deepEqual(r.operators().map((o) => o.uid), ['renamed', 'added']);
    assert.deepEqual((await r.keyedStates('renamed')).map((s) => s.name), ['count', 'profile', 'events', 'attributes', 'avg']);
    const counts = new Map<string, number>();
    for await (const e of r.readKeyedState<string, unknown, number>('renamed', 'count')) counts.set(e.key, e.value);
    assert.deepEqual(counts, new Map([...elements].filter(([, e]) => e.count >= 0).map(([k, e]) => [k, e.count * 2])));
    for await (const e of r.readKeyedState<string, unknown, ProfileV2>('renamed', 'profile')) {
      assert.deepEqual(e.value, { ...elements.get(e.key)!.profile, email: 'unknown@example.org' });
    }
    for await (const e of r.readMapState<string, unknown, string, number>('renamed', 'attributes')) {
      const before = elements.get(e.key)!.attributes.find(([k]) => k === e.userKey)![1];
      assert.equal(e.value, before === null ? 0 : before + 1);
    }
    const totals = new Map<number, number>();
    for await (const e of r.readKeyedState<number, unknown, number>('added', 'total')) totals.set(e.key, e.value);
    assert.deepEqual(totals, new Map([[1, 9], [0, 12]]));
    assert.equal(r.operators()[1]!.keyedHandles, 3, 'a subtask without keys still covers its key groups');
  });

  it('changes the key serializer: keys are converted and re-partitioned into their new key groups', async () => {
    const out = tmp();
    await SavepointWriter.fromExisting(await SavepointReader.load(FIXTURE_V1))
      .changeKeySerializer(KEYED_UID, Serializers.int32, (k) => Number(String(k).slice('user-'.length)))
      .write(out);
    const v = await validateSavepoint(out);
    assert.ok(v.ok, JSON.stringify(v.problems));
    const r = await SavepointReader.load(out);
    const counts = new Map<number, number>();
    for await (const e of r.readKeyedState<number, unknown, number>(KEYED_UID, 'count')) counts.set(e.key, e.value);
    assert.deepEqual(counts, new Map([...elements].map(([k, e]) => [Number(k.slice(5)), e.count])));
    const b = await new FsStateBackend().createKeyedStateBackend({
      operatorIdentifier: 'int-keys',
      keySerializer: Serializers.int32,
      maxParallelism: 16,
      keyGroupRange: computeKeyGroupRangeForOperatorIndex(16, 1, 0),
      restoreState: r.metadata.operators[0]!.subtasks.flatMap((s) => s.keyed),
      stateHandleReader: localSavepointStorage(out),
    });
    b.setCurrentKey(7);
    assert.equal(b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, D.count).value(), elements.get('user-007')!.count);
    b.dispose();
  });

  it('rejects what cannot work with typed errors, before writing anything', async () => {
    const reader = await SavepointReader.load(FIXTURE_V1);
    await assert.rejects(SavepointWriter.fromExisting(reader).transformKeyedState(KEYED_UID, 'nope', { map: (e) => e.value }).write(tmp()), IllegalStateUsageError);
    await assert.rejects(SavepointWriter.fromExisting(reader).upgradeKeyedState(KEYED_UID, new ValueStateDescriptor('profile', Serializers.int32)).then((w) => w.write(tmp())), StateMigrationError);
    await assert.rejects(SavepointWriter.fromExisting(reader).changeKeySerializer(KEYED_UID, Serializers.int32).write(tmp()), StateMigrationError);
    await assert.rejects(SavepointWriter.fromExisting(reader).write(tmp(), { formatVersion: 2 }), UnknownFormatVersionError);
    await assert.rejects(SavepointWriter.fromExisting(reader).write(FIXTURE_V1), SavepointOutputError);
    assert.throws(() => SavepointWriter.fromExisting(reader).renameOperator(KEYED_UID, SOURCE_UID), IllegalStateUsageError);
    assert.throws(() => SavepointWriter.fromExisting(reader).rescale(undefined, { maxParallelism: 1, parallelism: 2 }), IllegalStateUsageError);
    // A bootstrap function that throws leaves no directory behind.
    const out = tmp();
    await assert.rejects(
      SavepointWriter.newSavepoint({ maxParallelism: 4, ...HEAP })
        .withKeyedOperator('x', { data: [1], keySelector: (n: number) => n, keySerializer: Serializers.int32, bootstrap: { processElement: () => { throw new CorruptCheckpointError('input', 'boom'); } } })
        .write(out),
      CorruptCheckpointError,
    );
    assert.equal(existsSync(out), false, 'a failed write leaves no directory behind');
  });

  it('a rewrite seeded like its input never reuses an input file name (no silently overwritten copies)', async () => {
    const out = tmp();
    // The fixture's files were named from this seed: a rewrite with the same seed would draw the
    // same names for its new streams as the input files it still has to copy.
    await SavepointWriter.fromExisting(await SavepointReader.load(FIXTURE_V1)).rescale(KEYED_UID, { parallelism: 4 }).write(out, { fileNameSeed: FIXTURE_FILE_NAME_SEED });
    const v = await validateSavepoint(out);
    assert.ok(v.ok, JSON.stringify(v.problems));
  });

  it('reads the same content back after a copy (everything, decoded)', async () => {
    const out = tmp();
    await SavepointWriter.fromExisting(await SavepointReader.load(FIXTURE_V1)).write(out);
    assert.equal(await readEverything(out), await readEverything(FIXTURE_V1));
  });
});

describe('bootstrap input', () => {
  // Sync iterables are walked without `for await` (issue 16): the elements must still be exactly what `for await` hands out.
  const sum = async (data: Iterable<unknown> | AsyncIterable<unknown>): Promise<Map<number, number>> => {
    const out = tmp();
    const total = new ValueStateDescriptor<number>('total', Serializers.int32);
    await SavepointWriter.newSavepoint({ maxParallelism: 8, stateBackend: new FsStateBackend() })
      .withKeyedOperator('k', {
        data: data as Iterable<number>,
        keySelector: (n: number) => n % 3,
        keySerializer: Serializers.int32,
        parallelism: 2,
        bootstrap: { processElement: (n, ctx) => ctx.getState(total).update((ctx.getState(total).value() ?? 0) + n) },
      })
      .write(out);
    const r = await SavepointReader.load(out);
    const m = new Map<number, number>();
    for await (const e of r.readKeyedState<number, unknown, number>('k', 'total')) m.set(e.key, e.value);
    return m;
  };
  const expected = new Map([[0, 3 + 6], [1, 1 + 4], [2, 2 + 5]]);

  it('hands every key to the subtask owning its key group, on the primitive-key fast path and off it', async () => {
    // ASCII strings take the fast key group; non-ASCII strings and record keys are serialized. A key
    // handed to the wrong subtask is refused by its backend, and the reader checks every key's group.
    const count = new ValueStateDescriptor<number>('count', Serializers.int32);
    const recordKey = new RecordSerializer<{ id: string }>('Key', [{ name: 'id', serializer: Serializers.string }]);
    const cases: Array<{ keys: unknown[]; serializer: typeof Serializers.string | typeof recordKey }> = [
      { keys: Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? `k${i}` : `ключ-${i}`)), serializer: Serializers.string },
      { keys: Array.from({ length: 50 }, (_, i) => ({ id: `r${i}` })), serializer: recordKey },
    ];
    for (const { keys, serializer } of cases) {
      const out = tmp();
      await SavepointWriter.newSavepoint({ maxParallelism: 64, stateBackend: new FsStateBackend() })
        .withKeyedOperator('k', {
          data: keys,
          keySelector: (k: unknown) => k,
          keySerializer: serializer as never,
          parallelism: 3,
          bootstrap: { processElement: (_k, ctx) => ctx.getState(count).update(1) },
        })
        .write(out);
      let n = 0;
      for await (const e of (await SavepointReader.load(out)).readKeyedState<unknown, unknown, number>('k', 'count')) n += e.value;
      assert.equal(n, keys.length);
    }
  });

  it('takes a sync iterable, a sync iterable of promises (awaited, as for await does) and an async iterable alike', async () => {
    assert.deepEqual(await sum([1, 2, 3, 4, 5, 6]), expected);
    assert.deepEqual(await sum([1, 2, 3, 4, 5, 6].map((n) => Promise.resolve(n))), expected);
    assert.deepEqual(
      await sum(
        (async function* () {
          for (const n of [1, 2, 3, 4, 5, 6]) yield n;
        })(),
      ),
      expected,
    );
  });
});
