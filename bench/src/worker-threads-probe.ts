/**
 * Why the runtime has no worker threads yet (issue 16's optional row): the runtime suite's staged
 * baseline (runtime-baseline.ts) split over two worker threads, the least a threaded runtime
 * would have to do. Each thread reads two of the four source partitions, maps, partitions by key
 * group and counts the records of its own subtask on its own heap backend; the records of the
 * other subtask's key groups (about half) cross to the other thread in batches of 256: as
 * transferred binary buffers (key bytes and value) or as structured clones of arrays. No tasks,
 * channels, credits, barriers or checkpoints: a ceiling for a threaded runtime, not a runtime.
 *
 * `node bench/dist/worker-threads-probe.js [records] [rounds]`: rounds of the one-thread baseline
 * and both two-thread variants, interleaved; wall-time speedups and process CPU per round.
 */
import { isMainThread, MessageChannel, parentPort, receiveMessageOnPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import {
  computeKeyGroupRangeForOperatorIndex,
  computeOperatorIndexForKeyGroup,
  Serializers,
  ValueStateDescriptor,
  VoidNamespace,
  type ValueState,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { keyGroupOf, runStagedBaseline } from './runtime-baseline.js';

const BATCH = 256;
const MAX_PARALLELISM = 128;
const PARALLELISM = 2;
type Transfer = 'binary' | 'clone';

interface ThreadData {
  readonly index: number;
  readonly perPartition: number;
  readonly port: MessagePort;
  readonly transfer: Transfer;
}

interface Batch {
  readonly keys: string[];
  readonly values: number[];
}

/** [count u32][per record: key length u8, key (ASCII), value i32]: the keys here are short ASCII. */
function encodeBatch(b: Batch): ArrayBuffer {
  let bytes = 4;
  for (const k of b.keys) bytes += 1 + k.length + 4;
  const buf = new ArrayBuffer(bytes);
  const u8 = new Uint8Array(buf);
  const view = new DataView(buf);
  view.setUint32(0, b.keys.length, true);
  let o = 4;
  for (let i = 0; i < b.keys.length; i++) {
    const k = b.keys[i]!;
    u8[o++] = k.length;
    for (let j = 0; j < k.length; j++) u8[o++] = k.charCodeAt(j);
    view.setInt32(o, b.values[i]!, true);
    o += 4;
  }
  return buf;
}

function decodeBatch(buf: ArrayBuffer, visit: (key: string, value: number) => void): void {
  const u8 = new Uint8Array(buf);
  const view = new DataView(buf);
  const n = view.getUint32(0, true);
  let o = 4;
  for (let i = 0; i < n; i++) {
    const kl = u8[o++]!;
    const key = String.fromCharCode(...u8.subarray(o, o + kl));
    o += kl;
    visit(key, view.getInt32(o, true));
    o += 4;
  }
}

/** One thread's part of the pipeline; resolves with its sink's sum. */
async function runThread(d: ThreadData): Promise<number> {
  const backend = await new FsStateBackend().createKeyedStateBackend<string>({
    operatorIdentifier: `probe-count-${d.index}`,
    keySerializer: Serializers.string,
    maxParallelism: MAX_PARALLELISM,
    keyGroupRange: computeKeyGroupRangeForOperatorIndex(MAX_PARALLELISM, PARALLELISM, d.index),
  });
  const state = backend.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('count', Serializers.int32, 0)) as ValueState<number>;
  // The baseline's own: the primitive fast path, the general one where it declines.
  const keyGroup = keyGroupOf();
  let sum = 0;
  const count = (key: string, value: number): void => {
    backend.setCurrentKey(key);
    state.update((state.value() ?? 0) + 1);
    sum += value;
  };
  let otherDone = false;
  const drain = (): void => {
    for (let m = receiveMessageOnPort(d.port); m !== undefined; m = receiveMessageOnPort(d.port)) {
      const msg = m.message as ArrayBuffer | Batch | 'done';
      if (msg === 'done') otherDone = true;
      else if (msg instanceof ArrayBuffer) decodeBatch(msg, count);
      else for (let i = 0; i < msg.keys.length; i++) count(msg.keys[i]!, msg.values[i]!);
    }
  };
  const send = (b: Batch): void => {
    if (d.transfer === 'clone') return d.port.postMessage(b);
    const buf = encodeBatch(b);
    d.port.postMessage(buf, [buf]);
  };
  const total = d.perPartition * 2;
  let out: Batch = { keys: [], values: [] };
  for (let n = 0; n < total; ) {
    const source: Array<{ key: string; v: number }> = [];
    for (; source.length < BATCH && n < total; n++) {
      const p = 2 * d.index + (n % 2);
      const o = (n / 2) | 0;
      source.push({ key: `k${(o * 31 + p) % 10_000}`, v: o });
    }
    for (const r of source.map((s) => ({ key: s.key, v: s.v + 1 }))) {
      if (computeOperatorIndexForKeyGroup(MAX_PARALLELISM, PARALLELISM, keyGroup(r.key)) === d.index) count(r.key, r.v);
      else {
        out.keys.push(r.key);
        out.values.push(r.v);
      }
    }
    if (out.keys.length >= BATCH) {
      send(out);
      out = { keys: [], values: [] };
    }
    drain();
  }
  if (out.keys.length > 0) send(out);
  d.port.postMessage('done');
  while (!otherDone) {
    drain();
    if (!otherDone) await new Promise((resolve) => setImmediate(resolve));
  }
  backend.dispose();
  return sum;
}

/** Both threads over `records` records; wall and process CPU milliseconds from the start signal to both ends. */
async function runTwoThreads(records: number, transfer: Transfer): Promise<{ ms: number; cpuMs: number; sum: number }> {
  const { port1, port2 } = new MessageChannel();
  const workers = [port1, port2].map((port, index) => new Worker(new URL(import.meta.url), { workerData: { index, perPartition: records / 4, port, transfer }, transferList: [port] }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const ends = workers.map((w) => new Promise<number>((resolve) => w.once('message', resolve)));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const w of workers) w.postMessage('go');
  const sums = await Promise.all(ends);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await Promise.all(workers.map((w) => w.terminate()));
  return { ms, cpuMs: (c.user + c.system) / 1000, sum: sums[0]! + sums[1]! };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const records = Number(process.argv[2] ?? 6_000_000);
  const rounds = Number(process.argv[3] ?? 7);
  if (!Number.isInteger(records) || records % 4 !== 0 || records < 4 || !Number.isInteger(rounds) || rounds < 1) {
    console.error('usage: node bench/dist/worker-threads-probe.js [records, a multiple of 4] [rounds ≥ 1]');
    process.exit(2);
  }
  // Untimed warm-up of each.
  const warmUp = Math.max(4, Math.floor(records / 24) * 4);
  await runStagedBaseline(warmUp);
  await runTwoThreads(warmUp, 'binary');
  await runTwoThreads(warmUp, 'clone');
  const speedups: Record<Transfer, number[]> = { binary: [], clone: [] };
  for (let i = 0; i < rounds; i++) {
    const c0 = process.cpuUsage();
    const one = await runStagedBaseline(records);
    const c = process.cpuUsage(c0);
    const parts = [`one thread ${(one.secs * 1000).toFixed(0)} ms (process CPU ${((c.user + c.system) / 1000).toFixed(0)} ms)`];
    for (const transfer of ['binary', 'clone'] as const) {
      const two = await runTwoThreads(records, transfer);
      if (two.sum !== one.checksum) throw new Error(`two threads (${transfer}) summed ${two.sum}, one thread ${one.checksum}`);
      speedups[transfer].push((one.secs * 1000) / two.ms);
      parts.push(`two threads, ${transfer} ${two.ms.toFixed(0)} ms (process CPU ${two.cpuMs.toFixed(0)} ms): ${((one.secs * 1000) / two.ms).toFixed(2)}×`);
    }
    console.log(parts.join(' | '));
  }
  console.log(`median wall-time speedup over one thread: binary batches ${median(speedups.binary).toFixed(2)}×, structured clones ${median(speedups.clone).toFixed(2)}×`);
}

if (isMainThread) await main();
else {
  const d = workerData as ThreadData;
  const go = new Promise((resolve) => parentPort!.once('message', resolve));
  parentPort!.postMessage('ready');
  await go;
  parentPort!.postMessage(await runThread(d));
}
