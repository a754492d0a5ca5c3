/**
 * Hostile Apache Flink input: mutated copies of Flink's own savepoints and checkpoints (the
 * fixtures in ../shared/flink-fixtures), read through every path of @flowstate/flink. Shared by
 * the savepoint package's fuzz test so one fuzz run covers both formats.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FlowstateError, MemoryFileSystem } from '@flowstate/core';
import {
  convertFlinkToFlowstate,
  diffFlinkSavepoints,
  FlinkSavepoint,
  inspectFlinkSavepoint,
  readOperatorStates,
  rescaleFlinkSavepoint,
  validateFlinkSavepoint,
} from '@flowstate/flink';
import { mutate } from './mutate.js';
import { cleanup } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const FLINK_FIXTURES = resolve(process.env['FLOWSTATE_FLINK_FIXTURES'] ?? join(repoRoot, '..', 'shared', 'flink-fixtures'));
export const flinkFixturesSkip: string | false = existsSync(join(FLINK_FIXTURES, 'README.md')) ? false : `Apache Flink fixtures not found at ${FLINK_FIXTURES} (set FLOWSTATE_FLINK_FIXTURES)`;

const TESTS = 'snuyanzin-flink/flink-tests/src/test/resources';
/** Every format the reader knows: canonical (files, inline, Snappy-free), heap-native (1.8, 2.3 checkpoint), broadcast, RowData, Avro/POJO, timers, Kafka operator state. */
const INPUTS = [
  `${TESTS}/new-stateful-udf-migration-itcase-flink2.3-rocksdb-savepoint`,
  `${TESTS}/new-stateful-udf-migration-itcase-flink2.3-hashmap-checkpoint`,
  `${TESTS}/new-stateful-udf-migration-itcase-flink1.8-savepoint`,
  `${TESTS}/new-stateful-broadcast-udf-migration-itcase-flink2.3-hashmap-savepoint`,
  `${TESTS}/operatorstate/complexKeyed-flink1.8`,
  `${TESTS}/legacy-raw-state-heap-timers-rocks-db-1.12`,
  'snuyanzin-flink/flink-libraries/flink-state-processing-api/src/test/resources/table-state',
  'snuyanzin-flink/flink-table/flink-table-planner/src/test/resources/restore-tests/stream-exec-group-aggregate_1/group-aggregate-simple/savepoint',
  'apache-flink-connector-kafka/flink-connector-kafka/src/test/resources/table-state-kafka-offsets',
];

/**
 * Growth of JS heap + ArrayBuffers within one iteration (sampled before the collection that ends
 * it). The inputs are under 300 KiB, and every count, length and decompressed size the readers
 * take from input is checked against the bytes left or a fixed cap before anything is allocated;
 * an allocation sized by a mutated length (up to 2 GiB) would exceed this budget.
 */
export const MAX_ITERATION_GROWTH = 64 * 1024 * 1024;

/** The largest single buffer one iteration may allocate: inputs are < 300 KiB, Snappy chunks 64 KiB. */
export const MAX_SINGLE_ALLOCATION = 16 * 1024 * 1024;

/**
 * Records the largest `new Uint8Array(n)`, `new ArrayBuffer(n)`, `Buffer.alloc(n)` and
 * `Buffer.allocUnsafe(n)` while installed: an allocation sized by a mutated length shows here
 * even when the garbage collector frees it before the heap is sampled.
 */
function allocationProbe(): { take(): number; restore(): void } {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = { Uint8Array: g['Uint8Array'], ArrayBuffer: g['ArrayBuffer'], alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe };
  let max = 0;
  const note = (n: unknown): void => {
    if (typeof n === 'number') max = Math.max(max, n);
  };
  for (const name of ['Uint8Array', 'ArrayBuffer'] as const) {
    g[name] = new Proxy(saved[name] as new (...a: unknown[]) => object, {
      construct(target, args, newTarget) {
        note(args[0]);
        return Reflect.construct(target, args, newTarget) as object;
      },
    });
  }
  Buffer.alloc = ((n: number, ...rest: never[]) => (note(n), saved.alloc(n, ...rest))) as typeof Buffer.alloc;
  Buffer.allocUnsafe = ((n: number) => (note(n), saved.allocUnsafe(n))) as typeof Buffer.allocUnsafe;
  return {
    take: () => {
      const m = max;
      max = 0;
      return m;
    },
    restore: () => {
      g['Uint8Array'] = saved.Uint8Array;
      g['ArrayBuffer'] = saved.ArrayBuffer;
      Buffer.alloc = saved.alloc;
      Buffer.allocUnsafe = saved.allocUnsafe;
    },
  };
}

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Reads everything a Flink savepoint holds: metadata, every keyed record decoded, every operator state. */
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

async function typedOnly(context: string, what: string, f: () => Promise<unknown>): Promise<FlowstateError | undefined> {
  try {
    await f();
    return undefined;
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    if (!(e instanceof FlowstateError)) assert.fail(`${context}: ${what} threw untyped ${String((e as Error)?.stack ?? e)}`);
    return e;
  }
}

export interface FlinkFuzzOutcome {
  readonly iterations: number;
  readonly typed: ReadonlyMap<string, number>;
  readonly readable: number;
  readonly metadataMutations: number;
  readonly streamMutations: number;
  readonly peakGrowth: number;
  readonly largestAllocation: number;
}

/**
 * `iterations` mutated Flink savepoints (seeded): one file each, `_metadata` or a state file,
 * then read, inspect, validate and diff; every tenth also converted to flowstate and rescaled.
 * Any error that is not a FlowstateError fails with the seed and iteration that reproduce it.
 */
export async function fuzzFlink(root: string, iterations: number, seed: number, rand: () => number): Promise<FlinkFuzzOutcome> {
  const int = (n: number) => Math.floor(rand() * n);
  const gc = collector();
  const sources = INPUTS.map((rel) => join(FLINK_FIXTURES, rel)).map((dir) => {
    const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()).sort();
    return { dir, files, bytes: new Map(files.map((f) => [f, readFileSync(join(dir, f))])) };
  });
  const originals = new Map(await Promise.all(sources.map(async (s) => [s.dir, await FlinkSavepoint.load(s.dir)] as const)));
  const typed = new Map<string, number>();
  let readable = 0;
  let metadataMutations = 0;
  let peakGrowth = 0;
  let largestAllocation = 0;
  const probe = allocationProbe();
  try {
  for (let i = 0; i < iterations; i++) {
    const src = sources[i % sources.length]!;
    const dir = join(root, `flink-${i}`);
    mkdirSync(dir);
    for (const [f, b] of src.bytes) writeFileSync(join(dir, f), b);
    // Half of the mutations hit a state file where the savepoint has any (inline state is inside _metadata).
    const streams = src.files.filter((f) => f !== '_metadata');
    const target = streams.length > 0 && int(2) === 0 ? streams[int(streams.length)]! : src.files[int(src.files.length)]!;
    const { bytes, what } = mutate(src.bytes.get(target)!, Buffer.concat([...src.bytes.values()]), int, true);
    writeFileSync(join(dir, target), bytes);
    if (target === '_metadata') metadataMutations++;
    const context = `Flink iteration ${i} (seed ${seed}): ${what} in ${src.dir}/${target}`;

    gc();
    probe.take();
    const before = heapBytes();
    const readError = await typedOnly(context, 'read', () => readAll(dir));
    if (readError === undefined) readable++;
    else typed.set(readError.code, (typed.get(readError.code) ?? 0) + 1);
    const report = await validateFlinkSavepoint(dir).catch((e: unknown) => assert.fail(`${context}: validate threw ${String((e as Error)?.stack ?? e)}`));
    // What validate calls valid (and fully verified), the reader must read.
    if (report.ok && report.problems.length === 0 && readError !== undefined) assert.fail(`${context}: validate reports a valid savepoint, but reading it fails: ${readError.message}`);
    await typedOnly(context, 'diff', async () => diffFlinkSavepoints(originals.get(src.dir)!, await FlinkSavepoint.load(dir)));
    if (i % 10 === 0) {
      await typedOnly(context, 'convert', async () => convertFlinkToFlowstate(await FlinkSavepoint.load(dir), new MemoryFileSystem()));
      await typedOnly(context, 'rescale', async () => rescaleFlinkSavepoint(await FlinkSavepoint.load(dir), join(dir, 'rescaled'), { maxParallelism: 16, parallelism: 2 }));
    }
    peakGrowth = Math.max(peakGrowth, heapBytes() - before);
    assert.ok(heapBytes() - before < MAX_ITERATION_GROWTH, `${context}: memory grew by ${heapBytes() - before} bytes within one iteration`);
    const largest = probe.take();
    largestAllocation = Math.max(largestAllocation, largest);
    assert.ok(largest <= MAX_SINGLE_ALLOCATION, `${context}: one allocation of ${largest} bytes`);
    cleanup(dir);
  }
  } finally {
    probe.restore();
  }
  return { iterations, typed, readable, metadataMutations, streamMutations: iterations - metadataMutations, peakGrowth, largestAllocation };
}
