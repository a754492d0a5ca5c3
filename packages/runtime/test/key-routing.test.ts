/**
 * keyBy routes each record by its key's key group (issue 16's fast path: primitive keys get their
 * key group without being serialized, output.ts keyGroupOf). Strings the fast path hands back
 * (non-ASCII) take the serialized path; ASCII strings (a long one's two-byte length prefix
 * included), int32 and float64 keys (-0, NaN and the extremes included) take the fast path. Each
 * must reach the subtask owning assignToKeyGroup of its serialized key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignToKeyGroup, computeOperatorIndexForKeyGroup, DataOutputSerializer, Serializers, type TypeSerializer } from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';
import { JobClient, sequenceLog, StreamExecutionEnvironment } from '../src/index.js';

const PARALLELISM = 3;
const MAX_PARALLELISM = 128;

function expectedSubtask<K>(key: K, serializer: TypeSerializer<K>): number {
  const out = new DataOutputSerializer(32);
  serializer.serialize(key, out);
  return computeOperatorIndexForKeyGroup(MAX_PARALLELISM, PARALLELISM, assignToKeyGroup(out.toBytes(), MAX_PARALLELISM));
}

/** A Map key for `k` that keeps -0 apart from 0 (a Map merges them). */
const keyOf = (k: unknown): unknown => (Object.is(k, -0) ? '-0' : k);

/** Runs keys through keyBy at parallelism 3 and returns, per key (keyOf), the subtasks that processed it. */
async function route<K>(keys: readonly K[], serializer: TypeSerializer<K>): Promise<Map<unknown, Set<number>>> {
  const seen = new Map<unknown, Set<number>>();
  const env = new StreamExecutionEnvironment('routing', { parallelism: PARALLELISM, maxParallelism: MAX_PARALLELISM });
  env
    .fromLog('src', sequenceLog(1, keys.length, (_p, o) => keys[o]!))
    .keyBy((k) => k, serializer)
    .process('where', () => ({
      processElement(k, ctx, out) {
        let s = seen.get(keyOf(k));
        if (s === undefined) seen.set(keyOf(k), (s = new Set()));
        s.add(ctx.subtaskIndex);
        out.collect(k);
      },
    }))
    .sinkTo('discard', () => ({ invoke() {} }));
  const job = await JobClient.execute(env.getJobGraph(), { stateBackend: new MemoryStateBackend() });
  await job.result;
  return seen;
}

test('string keys, ASCII (fast path) and not (serialized path), reach the subtask of their serialized key group', async () => {
  const keys = ['a', 'k17', '', 'x'.repeat(200), 'é', 'ü-1', '日本語', '😀', 'straße', `${'x'.repeat(40)}ß`, 'Ω9'];
  const seen = await route(keys, Serializers.string);
  for (const k of keys) assert.deepEqual([...(seen.get(k) ?? [])], [expectedSubtask(k, Serializers.string)], `key ${JSON.stringify(k)}`);
  const subtasks = new Set(keys.map((k) => expectedSubtask(k, Serializers.string)));
  assert.ok(subtasks.size > 1, 'the keys spread over several subtasks');
});

test('int32 and float64 keys, edge values included, reach the subtask of their serialized key group', async () => {
  const ints = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 123456, -987654];
  const intSeen = await route(ints, Serializers.int32);
  for (const k of ints) assert.deepEqual([...(intSeen.get(k) ?? [])], [expectedSubtask(k, Serializers.int32)], `int32 key ${k}`);
  const floats = [0, -0, 1.5, -2.25, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY];
  const floatSeen = await route(floats, Serializers.float64);
  for (const k of floats) assert.deepEqual([...(floatSeen.get(keyOf(k)) ?? [])], [expectedSubtask(k, Serializers.float64)], `float64 key ${Object.is(k, -0) ? '-0' : k}`);
});
