#!/usr/bin/env node
// Cost of verifying SSTs before upload on incremental checkpoints (not a test).
//   npm run build && node packages/rocksdb/scripts/bench-verify.mjs [keysPerRound] [rounds]
// Two RocksDB keyed backends in one process get the same writes; one verifies SSTs before upload
// (the default), the other does not. Each round writes `keysPerRound` new keys (100-byte values)
// to both and takes an incremental checkpoint of each, alternating which one goes first, to local
// checkpoint storage. Prints the asynchronous-part wall and CPU times and their ratios (verified / not).
import { createReadStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT, KeyGroupRange, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { RocksDBStateBackend, verifySstFile } from '../dist/src/index.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 6);
const VALUE = new ValueStateDescriptor('v', Serializers.string, '');
const root = mkdtempSync(join(tmpdir(), 'flowstate-bench-verify-'));

async function subject(name, verify) {
  const storage = localCheckpointStorage(join(root, `${name}-storage`));
  const kb = await new RocksDBStateBackend({ localDirectory: join(root, `${name}-local`), verifySstsBeforeUpload: verify }).createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    numberOfKeyGroups: 128,
    keyGroupRange: new KeyGroupRange(0, 127),
  });
  return { name, storage, kb, state: kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, VALUE), times: [], cpu: [], uploaded: [] };
}

// Values that LZ4 cannot shrink much, so the SSTs are about as large as the data written.
function value(round, i) {
  let x = (round * 2654435761 + i * 40503) >>> 0;
  let out = '';
  while (out.length < 100) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += x.toString(36);
  }
  return out.slice(0, 100);
}

function write(s, round) {
  for (let i = 0; i < KEYS; i++) {
    s.kb.setCurrentKey(`r${round}-k${i}`);
    s.state.update(value(round, i));
  }
}

async function checkpoint(s, id) {
  const loc = await s.storage.initializeLocationForCheckpoint(id);
  const future = s.kb.snapshot(id, id, loc.streamFactory, CHECKPOINT);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const res = await future.result;
  s.times.push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  s.cpu.push((c.user + c.system) / 1000);
  s.uploaded.push(res.checkpointedSize);
  s.kb.notifyCheckpointComplete(id);
}

/** Every live SST, three times over, interleaved: verifySstFile alone vs the same file's upload alone. */
async function perFile(s) {
  // A hard-linked RocksDB checkpoint: background compactions cannot delete these files under us.
  const dir = join(root, 'per-file');
  s.kb.db.createCheckpoint(dir);
  const files = readdirSync(dir).filter((n) => n.endsWith('.sst')).map((n) => join(dir, n));
  const loc = await s.storage.initializeLocationForCheckpoint(1_000_000);
  let verify = 0;
  let upload = 0;
  let bytes = 0;
  for (let rep = 0; rep < 3; rep++) {
    for (const f of files) {
      let t = performance.now();
      await verifySstFile(f);
      verify += performance.now() - t;
      t = performance.now();
      const out = loc.streamFactory.createCheckpointStateOutputStream('SHARED');
      for await (const chunk of createReadStream(f, { highWaterMark: 1 << 20 })) await out.write(chunk);
      bytes += (await out.closeAndGetHandle()).size;
      upload += performance.now() - t;
    }
  }
  console.log(`per file (${files.length} SSTs, ${(bytes / 3 / 2 ** 20).toFixed(1)} MiB, x3): verifySstFile ${verify.toFixed(0)} ms, upload to local storage ${upload.toFixed(0)} ms; (upload + verify) / upload = ${((upload + verify) / upload).toFixed(2)}`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const on = await subject('verified', true);
  const off = await subject('unverified', false);
  for (let round = 1; round <= ROUNDS; round++) {
    write(on, round);
    write(off, round);
    const order = round % 2 === 0 ? [on, off] : [off, on];
    for (const s of order) await checkpoint(s, round);
  }
  // Round 1 uploads everything; the incremental rounds are 2..ROUNDS.
  for (const s of [on, off]) {
    const inc = s.times.slice(1);
    console.log(`${s.name.padEnd(10)} async part ms: ${inc.map((t) => t.toFixed(1)).join(' ')} (median ${median(inc).toFixed(1)}); uploaded MiB per checkpoint: ${(median(s.uploaded.slice(1)) / 2 ** 20).toFixed(1)}`);
  }
  const ratios = on.times.slice(1).map((t, i) => t / off.times[i + 1]);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  // CPU time of the whole process (main thread and libuv pool) while the asynchronous part ran:
  // steadier than wall time on a loaded machine, blind to time spent waiting for the disk.
  console.log(`CPU ms (median): verified ${median(on.cpu.slice(1)).toFixed(1)}, unverified ${median(off.cpu.slice(1)).toFixed(1)}; ratio of CPU totals ${(sum(on.cpu.slice(1)) / sum(off.cpu.slice(1))).toFixed(2)}`);
  console.log(`ratio verified/unverified per round: ${ratios.map((r) => r.toFixed(2)).join(' ')}`);
  console.log(`median ratio ${median(ratios).toFixed(2)}; ratio of totals ${(sum(on.times.slice(1)) / sum(off.times.slice(1))).toFixed(2)}`);
  await perFile(on);
  on.kb.dispose();
  off.kb.dispose();
} finally {
  rmSync(root, { recursive: true, force: true });
}
