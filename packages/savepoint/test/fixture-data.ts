/**
 * The content of the committed format-v1 fixture (test/fixtures/v1), generated from a fixed seed.
 * scripts/make-fixtures.mjs writes the fixture with `writeFixture`; the tests compare what they
 * read from the committed bytes with `expectedFixture()`. Changing this file without regenerating
 * the fixture makes the fixture test fail, which is the point: the bytes on disk are the contract.
 */
import {
  AggregatingStateDescriptor,
  Float64Serializer,
  Int32Serializer,
  Int64Serializer,
  ListStateDescriptor,
  MapStateDescriptor,
  MsgpackSerializer,
  mulberry32,
  RecordSerializer,
  ReducingStateDescriptor,
  Serializers,
  StringSerializer,
  ValueStateDescriptor,
  type AggregateFunction,
  type RecordValue,
} from '@flowstate/core';
import type { FileSystemRegistry } from '@flowstate/core';
import { SavepointWriter, type SavepointWriteResult } from '../src/index.js';
import { HEAP } from './helpers.js';

export const FIXTURE_SEED = 20261127;
export const FIXTURE_TIMESTAMP = 1764201600000;
export const FIXTURE_CHECKPOINT_ID = 42;
export const FIXTURE_FILE_NAME_SEED = 'flowstate-fixture-v1';
export const KEYED_UID = 'all-kinds';
export const SOURCE_UID = 'source';
export const MAX_PARALLELISM = 16;

export interface Avg extends RecordValue {
  sum: number;
  count: number;
}
export interface ProfileV1 extends RecordValue {
  name: string;
  age: number;
}

export const avgSerializer = new RecordSerializer<Avg>('Avg', [
  { name: 'sum', serializer: Float64Serializer.INSTANCE },
  { name: 'count', serializer: Int32Serializer.INSTANCE },
]);
export const profileV1 = new RecordSerializer<ProfileV1>('Profile', [
  { name: 'name', serializer: StringSerializer.INSTANCE },
  { name: 'age', serializer: Int32Serializer.INSTANCE },
]);

const avgFunction: AggregateFunction<number, Avg, number> = {
  createAccumulator: () => ({ sum: 0, count: 0 }),
  add: (v, acc) => ({ sum: acc.sum + v, count: acc.count + 1 }),
  getResult: (acc) => (acc.count === 0 ? 0 : acc.sum / acc.count),
  merge: (a, b) => ({ sum: a.sum + b.sum, count: a.count + b.count }),
};

export const D = {
  count: new ValueStateDescriptor<number>('count', Serializers.int32),
  profile: new ValueStateDescriptor<ProfileV1>('profile', profileV1),
  events: new ListStateDescriptor<string>('events', Serializers.string),
  attributes: new MapStateDescriptor<string, number>('attributes', Serializers.string, Serializers.float64),
  sum: new ReducingStateDescriptor<bigint>('sum', (a, b) => a + b, Int64Serializer.INSTANCE),
  avg: new AggregatingStateDescriptor<number, Avg, number>('avg', avgFunction, avgSerializer),
  offsets: new ListStateDescriptor<bigint>('offsets', Int64Serializer.INSTANCE),
  partitions: new ListStateDescriptor<string>('partitions', Serializers.string),
  rules: new MapStateDescriptor<string, unknown>('rules', Serializers.string, MsgpackSerializer.INSTANCE),
} as const;

/** mulberry32: small, fast, and the same sequence in every JS engine. */
export const prng = mulberry32;

/** One element per key: everything the bootstrap writes for it. Windows are int64 namespaces. */
export interface KeyElement {
  readonly key: string;
  readonly count: number;
  readonly profile: ProfileV1;
  readonly events: ReadonlyArray<readonly [bigint, readonly string[]]>;
  readonly attributes: ReadonlyArray<readonly [string, number | null]>;
  readonly sums: ReadonlyArray<readonly [bigint, readonly bigint[]]>;
  readonly samples: readonly number[];
}

export function keyElements(seed = FIXTURE_SEED, keys = 40): KeyElement[] {
  const r = prng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const words = ['open', 'click', 'scroll', 'buy', 'close', 'share'];
  return Array.from({ length: keys }, (_, i) => ({
    key: `user-${String(i).padStart(3, '0')}`,
    count: int(1000) - 100,
    profile: { name: `name-${int(10000)}`, age: 18 + int(60) },
    events: [1000n, 2000n].slice(0, 1 + int(2)).map((w) => [w, Array.from({ length: 1 + int(4) }, () => words[int(words.length)]!)] as const),
    attributes: Array.from({ length: 1 + int(3) }, (_, j) => [`attr-${j}`, j === 1 ? null : Math.round(r() * 1e6) / 100] as const),
    sums: [3000n, 4000n].slice(0, 1 + int(2)).map((w) => [w, Array.from({ length: 1 + int(3) }, () => BigInt(int(1e9)) * 1000n)] as const),
    samples: Array.from({ length: 1 + int(5) }, () => int(100)),
  }));
}

export const OFFSETS: readonly bigint[] = [0n, 17n, 4242n, 9007199254740993n, 123456789012n];
export const PARTITIONS: readonly string[] = ['topic-0', 'topic-1', 'topic-2', 'topic-3'];
export const RULES: ReadonlyArray<readonly [string, unknown]> = [
  ['threshold', { min: 3, max: 9 }],
  ['allow', ['click', 'buy']],
  ['disabled', null],
];

/** The fixture savepoint: keyed state of every kind (with namespaces) and every operator state mode. */
export async function writeFixture(directory: string, options: { fileNameSeed?: string; fileSystems?: FileSystemRegistry } = {}): Promise<SavepointWriteResult> {
  const elements = keyElements();
  return SavepointWriter.newSavepoint({ maxParallelism: MAX_PARALLELISM, ...HEAP, ...(options.fileSystems === undefined ? {} : { fileSystems: options.fileSystems }) })
    .withKeyedOperator(KEYED_UID, {
      data: elements,
      keySelector: (e) => e.key,
      keySerializer: Serializers.string,
      parallelism: 2,
      bootstrap: {
        processElement(e, ctx) {
          ctx.getState(D.count).update(e.count);
          ctx.getState(D.profile).update(e.profile);
          for (const [w, evs] of e.events) ctx.getPartitionedState(w, Int64Serializer.INSTANCE, D.events).addAll(evs);
          const attrs = ctx.getState(D.attributes);
          for (const [k, v] of e.attributes) attrs.put(k, v);
          for (const [w, vs] of e.sums) for (const v of vs) ctx.getPartitionedState(w, Int64Serializer.INSTANCE, D.sum).add(v);
          for (const s of e.samples) ctx.getState(D.avg).add(s);
        },
      },
    })
    .withOperatorStateOperator(SOURCE_UID, {
      data: [...OFFSETS.map((o) => ({ offset: o })), ...PARTITIONS.map((p) => ({ partition: p }))],
      parallelism: 2,
      bootstrap: {
        open(ctx) {
          const rules = ctx.getBroadcastState(D.rules);
          for (const [k, v] of RULES) rules.put(k, v);
        },
        processElement(e: { offset?: bigint; partition?: string }, ctx) {
          if (e.offset !== undefined) ctx.getListState(D.offsets).add(e.offset);
          if (e.partition !== undefined) ctx.getUnionListState(D.partitions).add(e.partition);
        },
      },
    })
    .write(directory, {
      checkpointId: FIXTURE_CHECKPOINT_ID,
      timestamp: FIXTURE_TIMESTAMP,
      fileNameSeed: options.fileNameSeed ?? FIXTURE_FILE_NAME_SEED,
      properties: { generator: 'packages/savepoint/scripts/make-fixtures.mjs', seed: FIXTURE_SEED },
    });
}
