import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CorruptCheckpointError,
  crc32c,
  deserializeCheckpointMetadata,
  FlowstateError,
  FsCheckpointStorage,
  ListStateDescriptor,
  MapStateDescriptor,
  MemoryFileSystem,
  mulberry32,
  serializeCheckpointMetadata,
  Serializers,
  ValueStateDescriptor,
  type CheckpointMetadata,
  type StateBackend,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { InMemoryUpsertTable, JobClient, JobFailedError, TaskFailureError, sequenceLog, StreamExecutionEnvironment, UpsertSink } from '../src/index.js';

/**
 * Fuzzes the runtime's restore path with real `_metadata` whose CRC32C is valid: half of the
 * iterations replace one field of the decoded metadata with a value of another shape (null, a
 * number, an array, ...), half flip bytes of the MessagePack body and recompute the CRC. Every
 * restore must finish or fail with a typed error all the way down: a JobFailedError whose root
 * cause is a TypeError (as in the fuzzer reports behind issue 10) fails the test with the seed
 * and iteration that reproduce it.
 */
const ITERATIONS = Number(process.env.FLOWSTATE_RESTORE_FUZZ_ITERATIONS ?? 600);
const SEED = Number(process.env.FLOWSTATE_RESTORE_FUZZ_SEED ?? 0x7e570);

const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const SEEN = new ListStateDescriptor<string>('seen', Serializers.string);
const LAST = new MapStateDescriptor<string, number>('last', Serializers.string, Serializers.int32);
const UNION = new ListStateDescriptor<number>('union', Serializers.int32);
const RULES = new MapStateDescriptor<string, number>('rules', Serializers.string, Serializers.int32);

function graph(parallelism: number) {
  const env = new StreamExecutionEnvironment('fuzz', { parallelism, maxParallelism: 8, bufferCapacity: 8 });
  env
    .fromLog('src', sequenceLog(2, 12, (p, o) => ({ key: `k${(p * 7 + o) % 5}`, o })))
    .keyBy((e) => e.key, Serializers.string)
    .process<[string, number]>('count', () => ({
      async processElement(e, ctx, out) {
        const c = (ctx.getState(COUNT).value() ?? 0) + 1;
        ctx.getState(COUNT).update(c);
        if (e.o % 3 === 0) ctx.getState(SEEN).add(String(e.o));
        ctx.getState(LAST).put(e.key, e.o);
        ctx.getUnionListState(UNION).add(e.o);
        ctx.getBroadcastState(RULES).put(e.key, e.o);
        out.collect([e.key, c]);
      },
    }))
    .sinkTo('upsert', () => new UpsertSink<[string, number], number>(new InMemoryUpsertTable<number>(), (r) => r[0], (r) => r[1]));
  return env.getJobGraph();
}

/** Values of other shapes than the fields hold. */
const ODD: readonly unknown[] = [null, undefined, 5, -1, 0.5, 2 ** 40, '', 'x', '../x', [], [null], {}, { type: 'file' }, true, new Uint8Array(3), 4294967296];

/** Every path to a value inside the metadata (objects and arrays included). */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function mutateStructure(m: CheckpointMetadata, rand: () => number): { bytes: Uint8Array; what: string } {
  const copy = structuredClone(m) as unknown as Record<string, unknown>;
  const all = paths(copy).filter((p) => p.length > 0);
  const path = all[Math.floor(rand() * all.length)]!;
  let parent: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const old = parent[last];
  // Numbers are mostly nudged, so that many mutations pass the structural checks and reach the
  // deeper readers (offsets, sizes, ranges, indexes that are plausible but wrong).
  const value = typeof old === 'number' && rand() < 0.6 ? [old + 1, old - 1, 0, old * 2, old + 7][Math.floor(rand() * 5)] : ODD[Math.floor(rand() * ODD.length)];
  if (value === undefined && !Array.isArray(parent)) delete parent[last];
  else parent[last] = value;
  return { bytes: serializeCheckpointMetadata(copy as unknown as CheckpointMetadata), what: `${path.join('.')} = ${value instanceof Uint8Array ? 'bin' : JSON.stringify(value) ?? 'undefined'}` };
}

function mutateBytes(bytes: Uint8Array, rand: () => number): { bytes: Uint8Array; what: string } {
  const out = Buffer.from(bytes);
  const n = 1 + Math.floor(rand() * 3);
  const at: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = 12 + Math.floor(rand() * (out.length - 16));
    out[i] = Math.floor(rand() * 256);
    at.push(i);
  }
  out.writeUInt32BE(crc32c(out.subarray(0, out.length - 4)), out.length - 4);
  return { bytes: out, what: `random bytes at ${at.join(', ')}, CRC recomputed` };
}

/**
 * What failed, below the runtime's wrappers (JobFailedError -> TaskFailureError -> ...): it must
 * be typed itself. (A typed error may keep an untyped `cause` for debugging, e.g. MessagePack's.)
 */
function rootCause(e: unknown): unknown {
  let c = e;
  while ((c instanceof JobFailedError || c instanceof TaskFailureError) && c.cause !== undefined) c = c.cause;
  return c;
}

/** Fs (canonical key-group streams) and RocksDB incremental (native handles, shared SSTs); RocksDB restores cost more, so it runs a twentieth of the iterations. */
const FUZZ_BACKENDS: ReadonlyArray<{ name: string; create: () => StateBackend; iterations: number }> = [
  { name: 'fs', create: () => new FsStateBackend(), iterations: ITERATIONS },
  { name: 'rocksdb-incremental', create: () => new RocksDBStateBackend({ incrementalCheckpoints: true }), iterations: Math.ceil(ITERATIONS / 20) },
];

for (const backend of FUZZ_BACKENDS) {
  test(`restore fuzz (${backend.name}): ${backend.iterations} mutated _metadata files with valid CRCs restore or fail with typed errors`, { timeout: 120_000 }, async () => {
    const ITERATIONS = backend.iterations;
    const fs = new MemoryFileSystem();
    const storage = new FsCheckpointStorage(fs);
    const first = await JobClient.execute(graph(2), { stateBackend: backend.create(), checkpointStorage: storage, checkpointing: {} });
    assert.equal((await first.result).status, 'FINISHED');
    const [pointer] = await storage.listCompletedCheckpoints();
    assert.ok(pointer !== undefined, 'the final checkpoint completed');
    const original = await fs.read(`${pointer}/_metadata`);
    const metadata = deserializeCheckpointMetadata(original, pointer);
    assert.ok(metadata.operators.some((o) => o.subtasks.some((s) => s.keyed.length > 0 && s.operator.length > 0)) || metadata.operators.length >= 2);

    const rand = mulberry32(SEED);
    const outcomes = new Map<string, number>();
    const untyped: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const { bytes, what } = rand() < 0.5 ? mutateStructure(metadata, rand) : mutateBytes(original, rand);
      await fs.delete(`${pointer}/_metadata`);
      const w = await fs.create(`${pointer}/_metadata`);
      await w.write(bytes);
      await w.commit();
      let outcome: string;
      try {
        // Restoring at another parallelism also exercises the repartitioning of the handles.
        const job = await JobClient.execute(graph(1 + (i % 3)), { stateBackend: backend.create(), restoreFrom: { storage, pointer }, allowNonRestoredState: i % 2 === 0 });
        await job.result;
        outcome = 'restored';
      } catch (e) {
        const root = rootCause(e);
        if (!(e instanceof FlowstateError) || !(root instanceof FlowstateError)) {
          untyped.push(`iteration ${i} (seed ${SEED}): ${what}: ${String((root as Error)?.stack ?? root)}`);
          outcome = 'UNTYPED';
        } else {
          outcome = root.code;
          if (process.env.FLOWSTATE_RESTORE_FUZZ_VERBOSE) console.log(`iteration ${i}: ${what}: ${root.message}`);
        }
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    console.log(`restore fuzz (${backend.name}): seed ${SEED}, ${ITERATIONS} iterations: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    assert.deepEqual(untyped.slice(0, 5), [], `${untyped.length} untyped error(s)`);
  });
}

test('restore rejects the malformed metadata the fuzzer of issue 10 found (keyed=[null], offsets=5, keyGroupChecksums[i]=null) with CorruptCheckpointError naming the field', async () => {
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const first = await JobClient.execute(graph(2), { stateBackend: new FsStateBackend(), checkpointStorage: storage, checkpointing: {} });
  await first.result;
  const [pointer] = await storage.listCompletedCheckpoints();
  const metadata = deserializeCheckpointMetadata(await fs.read(`${pointer!}/_metadata`), pointer!);
  const count = metadata.operators.findIndex((o) => o.uid === 'count');
  const src = metadata.operators.findIndex((o) => o.uid === 'src');
  const cases: Array<[string, (m: Record<string, any>) => void, RegExp]> = [
    ['keyed = [null]', (m) => (m.operators[count].subtasks[0].keyed = [null]), /operators\[\d\]\.subtasks\[0\]\.keyed\[0\]: expected a keyed state handle/],
    ['offsets = 5', (m) => (Object.values(m.operators[src].subtasks[0].operator[0].states as Record<string, { offsets: unknown }>)[0]!.offsets = 5), /\.offsets: expected an array/],
    ['keyGroupChecksums[1] = null', (m) => (m.operators[count].subtasks[0].keyed[0].keyGroupChecksums[1] = null), /keyGroupChecksums\[1\]: expected a u32/],
  ];
  for (const [what, mutate, message] of cases) {
    const m = structuredClone(metadata) as unknown as Record<string, any>;
    mutate(m);
    await fs.delete(`${pointer!}/_metadata`);
    const w = await fs.create(`${pointer!}/_metadata`);
    await w.write(serializeCheckpointMetadata(m as unknown as CheckpointMetadata));
    await w.commit();
    await assert.rejects(
      async () => (await JobClient.execute(graph(2), { stateBackend: new FsStateBackend(), restoreFrom: { storage, pointer: pointer! } })).result,
      (e: unknown) => e instanceof CorruptCheckpointError && message.test(e.message) && e.message.includes(`${pointer!}/_metadata`),
      what,
    );
  }
});

test("restore rejects native RocksDB handles of the wrong shape (fields only the backend knows) with CorruptCheckpointError naming the field", async () => {
  const fs = new MemoryFileSystem();
  const storage = new FsCheckpointStorage(fs);
  const rocks = () => new RocksDBStateBackend({ incrementalCheckpoints: true });
  await (await JobClient.execute(graph(1), { stateBackend: rocks(), checkpointStorage: storage, checkpointing: {} })).result;
  const [pointer] = await storage.listCompletedCheckpoints();
  const metadata = deserializeCheckpointMetadata(await fs.read(`${pointer!}/_metadata`), pointer!);
  const count = metadata.operators.findIndex((o) => o.uid === 'count');
  const cases: Array<[string, (h: Record<string, any>) => void, RegExp]> = [
    ['sharedFiles = 5', (h) => (h.sharedFiles = 5), /restoreState\[0\]\.sharedFiles: expected an array/],
    ['privateFiles[0].name = 7', (h) => (h.privateFiles[0].name = 7), /restoreState\[0\]\.privateFiles\[0\]\.name: expected a file name/],
    ['maxParallelism = "8"', (h) => (h.maxParallelism = '8'), /restoreState\[0\]\.maxParallelism/],
  ];
  for (const [what, mutate, message] of cases) {
    const m = structuredClone(metadata) as unknown as Record<string, any>;
    mutate(m.operators[count].subtasks[0].keyed[0]);
    await fs.delete(`${pointer!}/_metadata`);
    const w = await fs.create(`${pointer!}/_metadata`);
    await w.write(serializeCheckpointMetadata(m as unknown as CheckpointMetadata));
    await w.commit();
    await assert.rejects(
      async () => (await JobClient.execute(graph(1), { stateBackend: rocks(), restoreFrom: { storage, pointer: pointer! } })).result,
      (e: unknown) => rootCause(e) instanceof CorruptCheckpointError && message.test((rootCause(e) as Error).message),
      what,
    );
  }
});
