/**
 * The runtime's yardstick (issue 16): the throughput job's work staged in batches of 256 on one
 * thread, with no runtime at all: no tasks, channels, credits, barriers, watermarks or awaits.
 *
 * Stages, each over a whole batch before the next one runs: read 256 records from the same
 * 4-partition sequence (round robin over the partitions, as the two source subtasks interleave)
 * → map (a new object per record, as `enrich` builds) → hash partition over the 2 `count`
 * subtasks (key → key group → subtask, the primitive-key fast path the heap backend uses) →
 * keyed count on the same Fs (heap) keyed backend, one per subtask with its key-group range
 * (setCurrentKey, ValueState value + update, emit v) → discarding sink.
 *
 * The state backend is the runtime's own, so the ratio measures the runtime's overhead and not
 * the backend's (the heap backend has goals of its own against a minimal backend).
 */
import {
  assignToKeyGroup,
  computeKeyGroupRangeForOperatorIndex,
  computeOperatorIndexForKeyGroup,
  DataOutputSerializer,
  primitiveKeyGroupFor,
  Serializers,
  VoidNamespace,
  type KeyedStateBackend,
  type ValueState,
  ValueStateDescriptor,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';

const BATCH = 256;
const PARTITIONS = 4;
const PARALLELISM = 2;
const MAX_PARALLELISM = 128;
const COUNT = new ValueStateDescriptor('count', Serializers.int32, 0);

interface Rec {
  readonly key: string;
  readonly v: number;
}

interface CountSubtask {
  readonly backend: KeyedStateBackend<string>;
  readonly state: ValueState<number>;
  readonly input: Rec[];
}

async function countSubtasks(): Promise<CountSubtask[]> {
  const out: CountSubtask[] = [];
  for (let i = 0; i < PARALLELISM; i++) {
    const backend = await new FsStateBackend().createKeyedStateBackend<string>({
      operatorIdentifier: `baseline-count-${i}`,
      keySerializer: Serializers.string,
      maxParallelism: MAX_PARALLELISM,
      keyGroupRange: computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, PARALLELISM, i),
    });
    const state = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT) as ValueState<number>;
    out.push({ backend, state, input: [] });
  }
  return out;
}

/** key → key group, as the runtime's hash partitioner computes it. */
export function keyGroupOf(): (key: string) => number {
  const fast = primitiveKeyGroupFor(Serializers.string.typeId);
  const buf = new DataOutputSerializer(64);
  const general = (key: string): number => {
    buf.clear();
    Serializers.string.serialize(key, buf);
    return assignToKeyGroup(buf.bytesView(), MAX_PARALLELISM);
  };
  if (fast === undefined) return general;
  return (key) => {
    const g = fast(key, MAX_PARALLELISM);
    return g >= 0 ? g : general(key);
  };
}

/** Runs `records` records through the staged pipeline; returns the sink's sum (kept live so nothing is optimized away). */
export async function runStagedBaseline(records: number): Promise<{ secs: number; cpuSecs: number; checksum: number }> {
  // Timed from before the backends are created to after they are disposed, as the job's runs are
  // timed from before the job is built to its end.
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const perPartition = Math.floor(records / PARTITIONS);
  const subtasks = await countSubtasks();
  const keyGroup = keyGroupOf();
  const source: Rec[] = [];
  let mapped: Rec[] = [];
  const sinkIn: number[] = [];
  let checksum = 0;
  const total = perPartition * PARTITIONS;
  for (let n = 0; n < total; ) {
    // Source stage.
    source.length = 0;
    for (; source.length < BATCH && n < total; n++) {
      const p = n % PARTITIONS;
      const o = (n / PARTITIONS) | 0;
      source.push({ key: `k${(o * 31 + p) % 10_000}`, v: o });
    }
    // Map stage.
    mapped = source.map((r) => ({ key: r.key, v: r.v + 1 }));
    // Partition stage.
    for (const s of subtasks) s.input.length = 0;
    for (const r of mapped) subtasks[computeOperatorIndexForKeyGroup(MAX_PARALLELISM, PARALLELISM, keyGroup(r.key))]!.input.push(r);
    // Keyed count stage.
    sinkIn.length = 0;
    for (const s of subtasks) {
      for (const r of s.input) {
        s.backend.setCurrentKey(r.key);
        s.state.update((s.state.value() ?? 0) + 1);
        sinkIn.push(r.v);
      }
    }
    // Sink stage.
    for (const v of sinkIn) checksum += v;
  }
  for (const s of subtasks) s.backend.dispose();
  const secs = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { secs, cpuSecs: (c.user + c.system) / 1e6, checksum };
}
