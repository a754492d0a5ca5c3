/**
 * The Apache Flink case of the savepoint suite: the same keyed state as the suite's own canonical
 * savepoint (string keys, 4080-byte values, 4 subtasks, maxParallelism 128) written as a Flink
 * canonical savepoint (KeyGroupsSavepointStateHandle, metadata V6) with @flowstate/flink and read
 * back with every record decoded, in the same run as flowstate's own write and read.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  BytePrimitiveArraySerializer,
  FlinkSavepoint,
  FlinkSnapshots,
  CanonicalStreamEncoder,
  javaStringHash,
  keyGroupForHash,
  keyGroupRangeForOperator,
  operatorIdFromUid,
  withOutputDirectory,
  writeFlinkMetadata,
  type OperatorState,
  type SubtaskState,
} from '@flowstate/flink';
import { summarize, type Summary } from './stats.js';

const MAX_PARALLELISM = 128;
const PARALLELISM = 4;
const KEY = FlinkSnapshots.string();
const HEADER = {
  version: 6,
  compression: false,
  keySerializer: KEY,
  states: [
    { name: 'blob', backendStateType: 'KEY_VALUE' as const, options: [['KEYED_STATE_TYPE', 'VALUE'] as const], serializers: [['NAMESPACE_SERIALIZER', FlinkSnapshots.voidNamespace()] as const, ['VALUE_SERIALIZER', FlinkSnapshots.bytes()] as const] },
  ],
};

export interface FlinkSavepointCase {
  readonly bytes: number;
  readonly writeMs: Summary;
  readonly readMs: Summary;
  /** Our write median / Flink write median: ≥ 1 means the Flink savepoint is written at least as fast. */
  readonly writeRatio: number;
  /** Our read median / Flink read median, on the same entries. */
  readonly readRatio: number;
  /** Our own write and read medians of the same run (the other side of each ratio). */
  readonly oursWriteMs?: number;
  readonly oursReadMs?: number;
}

/**
 * Entries -> Flink key groups -> one canonical stream per subtask, encoded as it is written
 * (CanonicalStreamEncoder: RocksDB's record layout [key group][StringSerializer key][VoidNamespace
 * byte] -> byte[] value, serialized straight into the stream's buffer), fsynced, then `_metadata`.
 */
export async function writeFlink(dir: string, data: Iterable<{ key: string; value: Uint8Array }>): Promise<void> {
  const byKeyGroup: Array<Array<{ key: string; value: Uint8Array }>> = Array.from({ length: MAX_PARALLELISM }, () => []);
  for (const e of data) byKeyGroup[keyGroupForHash(javaStringHash(e.key), MAX_PARALLELISM)]!.push(e);
  await withOutputDirectory(dir, async (em) => {
    // The subtasks' streams are written concurrently, as our writer's subtask snapshots are.
    const subtasks = await Promise.all(Array.from({ length: PARALLELISM }, async (_, i): Promise<SubtaskState> => {
      const { start, end } = keyGroupRangeForOperator(MAX_PARALLELISM, PARALLELISM, i);
      const enc = await em.writeStreaming(`keyed-${i}`, async (write) => {
        const encoder = new CanonicalStreamEncoder(HEADER, start, end - start + 1, write);
        for (let kg = start; kg <= end; kg++) {
          const list = byKeyGroup[kg]!;
          if (list.length === 0) continue;
          await encoder.beginKeyGroup(kg);
          for (const e of list) {
            encoder.beginKey(0);
            const o = encoder.output;
            o.writeByte(kg);
            KEY.serializer.serialize(e.key, o);
            o.writeByte(0);
            encoder.endKey();
            BytePrimitiveArraySerializer.serialize(e.value, o);
            encoder.endValue();
          }
        }
        return encoder.finish();
      });
      const stream = { type: 'relative-file' as const, relativePath: `keyed-${i}`, size: enc.size };
      return { index: i, finished: false, managedOperatorState: null, rawOperatorState: null, managedKeyedState: { type: 'key-groups', tag: 7, startKeyGroup: start, offsets: enc.offsets, stream }, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [] };
    }));
    const op: OperatorState = { name: 'blobs', uid: 'blobs', operatorId: operatorIdFromUid('blobs'), parallelism: PARALLELISM, maxParallelism: MAX_PARALLELISM, coordinatorState: null, fullyFinished: false, subtasks };
    // An empty Java-serialized CheckpointProperties (TC_NULL): the reader does not need one.
    await em.write('_metadata', writeFlinkMetadata({ version: 6, checkpointId: 1n, masterStates: [], operators: [op], propertiesBytes: new Uint8Array([0xac, 0xed, 0, 5, 0x70]) }));
  });
}

export async function readFlink(dir: string, entries: number, valueBytes: number): Promise<void> {
  const sp = await FlinkSavepoint.load(dir);
  let n = 0;
  try {
    for (const op of sp.operators) {
      for (const info of await sp.keyedStreams(op)) {
        for (const e of sp.decodedRecords(info, op.maxParallelism)) {
          n++;
          if ((e.value as Uint8Array).length !== valueBytes) throw new Error(`read a Flink value of ${(e.value as Uint8Array).length} B`);
        }
      }
    }
  } finally {
    // Done with the streams (values are copies): their memory goes to the next read, as our reader's does.
    sp.releaseStreams();
  }
  if (n !== entries) throw new Error(`read ${n} Flink entries, wrote ${entries}`);
}

function dirBytes(d: string, files: readonly string[]): number {
  return files.reduce((a, f) => a + statSync(join(d, f)).size, 0);
}

/** Bytes of the Flink savepoint in `dir` (its streams and `_metadata`). */
export function flinkSavepointBytes(dir: string): number {
  return dirBytes(dir, ['_metadata', ...Array.from({ length: PARALLELISM }, (_, i) => `keyed-${i}`)]);
}

/** The Flink case's result from its samples (taken interleaved with ours), against our own samples. */
export function flinkCaseResult(
  bytes: number,
  write: readonly number[],
  read: readonly number[],
  ours: { readonly writeMs: readonly number[]; readonly readMs: readonly number[] },
  log: (s: string) => void,
): FlinkSavepointCase {
  const [w, r] = [summarize([...write]), summarize([...read])];
  const oursWriteMs = summarize([...ours.writeMs]).median;
  const oursReadMs = summarize([...ours.readMs]).median;
  const writeRatio = oursWriteMs / w.median;
  const readRatio = oursReadMs / r.median;
  log(`  [savepoint] Apache Flink canonical (${(bytes / 1048576).toFixed(1)} MiB): write ${write.map((x) => x.toFixed(0)).join(', ')} ms (${writeRatio.toFixed(2)}× ours), read ${read.map((x) => x.toFixed(0)).join(', ')} ms (${readRatio.toFixed(2)}× ours)`);
  return { bytes, writeMs: w, readMs: r, writeRatio, readRatio, oursWriteMs, oursReadMs };
}
