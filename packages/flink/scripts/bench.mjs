#!/usr/bin/env node
// Throughput of reading (every record decoded) and writing (re-encoded, byte-exact) a Flink
// canonical savepoint of N keys with 4 KiB byte[] values, comparable to the 'savepoint' suite of
// `npm run bench` (16384 x 4 KiB). Usage: node packages/flink/scripts/bench.mjs [entries] [samples]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as f from '../dist/src/index.js';

const N = Number(process.argv[2] ?? 16384);
const SAMPLES = Number(process.argv[3] ?? 5);
const MAXP = 128;
const VALUE = 4096 - 16;
const long = f.FlinkSnapshots.long();
const bytesSnap = f.buildSnapshot('org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer$BytePrimitiveArraySerializerSnapshot', 3, () => {});
const vns = f.FlinkSnapshots.voidNamespace();
const header = { version: 6, compression: false, keySerializer: long, states: [{ name: 'blob', backendStateType: 'KEY_VALUE', options: [['KEYED_STATE_TYPE', 'VALUE']], serializers: [['NAMESPACE_SERIALIZER', vns], ['VALUE_SERIALIZER', bytesSnap]] }] };
const byKg = new Map();
const value = new Uint8Array(VALUE).fill(7);
for (let i = 0; i < N; i++) {
  const k = BigInt(i);
  const kg = f.keyGroupForHash(f.javaLongHash(k), MAXP);
  const key = new f.JavaDataOutput(16);
  key.writeByte(kg);
  key.writeLong(k);
  key.writeByte(0);
  const v = new f.JavaDataOutput(VALUE + 8);
  f.BytePrimitiveArraySerializer.serialize(value, v);
  (byKg.get(kg) ?? byKg.set(kg, []).get(kg)).push({ stateId: 0, key: key.toBytes(), value: v.toBytes() });
}
for (const l of byKg.values()) l.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
const enc = f.encodeCanonicalStream(header, 0, MAXP, (kg) => byKg.get(kg) ?? []);
const dir = mkdtempSync(join(tmpdir(), 'flowstate-flink-bench-'));
writeFileSync(join(dir, 'keyed'), enc.bytes);
writeFileSync(join(dir, '_metadata'), f.writeFlinkMetadata({ version: 6, checkpointId: 1n, masterStates: [], operators: [{ name: 'op', uid: 'op', operatorId: f.operatorIdFromUid('op'), parallelism: 1, maxParallelism: MAXP, coordinatorState: null, fullyFinished: false, subtasks: [{ index: 0, finished: false, managedOperatorState: null, rawOperatorState: null, managedKeyedState: { type: 'key-groups', tag: 7, startKeyGroup: 0, offsets: enc.offsets, stream: { type: 'relative-file', relativePath: 'keyed', size: enc.bytes.length } }, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [] }] }], propertiesBytes: new Uint8Array([0xac, 0xed, 0, 5, 0x70]) }));
const median = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
const read = [];
const write = [];
for (let s = 0; s < SAMPLES; s++) {
  let t = performance.now();
  const sp = await f.FlinkSavepoint.load(dir);
  let n = 0;
  for (const info of await sp.keyedStreams(sp.operators[0])) for (const _ of sp.decodedRecords(info, MAXP)) n++;
  read.push(performance.now() - t);
  if (n !== N) throw new Error(`read ${n} of ${N}`);
  const out = join(dir, `out-${s}`);
  t = performance.now();
  await f.writeFlinkSavepoint(await f.FlinkSavepoint.load(dir), out);
  write.push(performance.now() - t);
}
const mib = enc.bytes.length / 1048576;
console.log(JSON.stringify({ entries: N, bytes: enc.bytes.length, readMs: median(read), readMiBps: +(mib / (median(read) / 1000)).toFixed(1), writeMs: median(write), writeMiBps: +(mib / (median(write) / 1000)).toFixed(1), writeNote: 'load + re-encode + write, no fsync' }));
if (process.env.KEEP) console.log(dir); else rmSync(dir, { recursive: true, force: true });
