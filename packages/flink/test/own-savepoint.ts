import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeSnappyFramed,
  FlinkSnapshots,
  JavaDataOutput,
  keyGroupForHash,
  javaLongHash,
  operatorIdFromUid,
  writeCanonicalKeyGroup,
  writeFlinkMetadata,
  writeKeyedHeader,
  type FlinkTypeSerializer,
  type StateMetaInfo,
} from '../src/index.js';

/**
 * A small canonical Flink savepoint written by our own code (for a clone without the Apache
 * Flink fixtures): one operator (uid "own-op", parallelism 1, maxParallelism 4), Long keys 0..n-1,
 * a VALUE state "count" (key * 10), a LIST state "names" (["a<key>", "b<key>"]), a MAP state
 * "attrs" ({"k<key>" -> key}) and event timers at key * 100.
 */
export function writeOwnSavepoint(n: number, compression: boolean): string {
  const long = FlinkSnapshots.long();
  const str = FlinkSnapshots.string();
  const vns = FlinkSnapshots.voidNamespace();
  const states: StateMetaInfo[] = [
    { name: 'count', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'VALUE']], serializers: [['NAMESPACE_SERIALIZER', vns], ['VALUE_SERIALIZER', long]] },
    { name: 'names', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'LIST']], serializers: [['NAMESPACE_SERIALIZER', vns], ['VALUE_SERIALIZER', FlinkSnapshots.list(str)]] },
    { name: 'attrs', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'MAP']], serializers: [['NAMESPACE_SERIALIZER', vns], ['VALUE_SERIALIZER', FlinkSnapshots.map(str, long)]] },
    { name: '_timer_state/event_t', backendStateType: 'PRIORITY_QUEUE', options: [], serializers: [['VALUE_SERIALIZER', FlinkSnapshots.timer(long, vns)]] },
  ];
  const out = new JavaDataOutput();
  writeKeyedHeader(out, { version: 6, compression, keySerializer: long, states });
  const maxParallelism = 4;
  const bytesOf = (s: FlinkTypeSerializer, v: unknown): Uint8Array => {
    const o = new JavaDataOutput();
    s.serialize(v as never, o);
    return o.toBytes();
  };
  const L = long.serializer;
  const S = str.serializer;
  const offsets: number[] = [];
  for (let kg = 0; kg < maxParallelism; kg++) {
    const records: { stateId: number; key: Uint8Array; value: Uint8Array }[] = [];
    const keys = Array.from({ length: n }, (_, i) => BigInt(i)).filter((k) => keyGroupForHash(javaLongHash(k), maxParallelism) === kg);
    const prefix = (k: bigint, extra: Uint8Array[] = []): Uint8Array => Buffer.concat([Buffer.from([kg]), bytesOf(L, k), Buffer.from([0]), ...extra]);
    for (const k of keys) records.push({ stateId: 0, key: prefix(k), value: bytesOf(L, k * 10n) });
    for (const k of keys) records.push({ stateId: 1, key: prefix(k), value: Buffer.concat([bytesOf(S, `a${k}`), Buffer.from([0x2c]), bytesOf(S, `b${k}`)]) });
    for (const k of keys) records.push({ stateId: 2, key: prefix(k, [bytesOf(S, `k${k}`)]), value: Buffer.concat([Buffer.from([0]), bytesOf(L, k)]) });
    for (const k of keys) records.push({ stateId: 3, key: Buffer.concat([Buffer.from([kg]), bytesOf(FlinkSnapshots.timer(long, vns).serializer, { timestamp: k * 100n, key: k, namespace: null })]), value: new Uint8Array(0) });
    if (records.length === 0) {
      offsets.push(0);
      continue;
    }
    offsets.push(out.length);
    const block = new JavaDataOutput();
    writeCanonicalKeyGroup(block, records);
    out.writeBytes(compression ? encodeSnappyFramed(block.bytesView()) : block.bytesView());
  }
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-flink-own-'));
  const data = out.toBytes();
  writeFileSync(join(dir, 'keyed-0'), data);
  writeFileSync(
    join(dir, '_metadata'),
    writeFlinkMetadata({
      version: 3, checkpointId: 7n, masterStates: [],
      operators: [{
        operatorId: operatorIdFromUid('own-op'), parallelism: 1, maxParallelism, coordinatorState: null, fullyFinished: false,
        subtasks: [{
          index: 0, finished: false, managedOperatorState: null, rawOperatorState: null,
          managedKeyedState: { type: 'key-groups', tag: 7, startKeyGroup: 0, offsets, stream: { type: 'relative-file', relativePath: 'keyed-0', size: data.length } },
          rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [],
        }],
      }],
    }),
  );
  return dir;
}

/** Runs `fn` with a fresh temporary directory `flowstate-flink-<name>-…`, removed afterwards (also when fn fails). */
export async function withTempDir<T>(name: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `flowstate-flink-${name}-`));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `fn` on an own savepoint of `n` keys (see writeOwnSavepoint), removed afterwards. */
export async function withOwnSavepoint<T>(n: number, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = writeOwnSavepoint(n, false);
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
