/**
 * One savepoint goal row alone, repeated, for profiling (issue 16's closing note wants the top
 * self-time functions of every row not met): `node --cpu-prof --cpu-prof-dir=DIR
 * bench/dist/savepoint-profile.js <write|read|read-views> [MiB] [rounds]`, then
 * `node bench/dist/cpuprofile-top.js DIR/*.cpuprofile`. The same state and code paths as the
 * savepoint suite (savepoint.ts); the savepoint a read profiles is written once, before its rounds.
 * Prints the median wall and CPU (process.cpuUsage, all threads) milliseconds.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BytesSerializer, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { SavepointReader, SavepointWriter } from '@flowstate/savepoint';
import '@flowstate/storage-local';
import { summarize } from './stats.js';

const op = process.argv[2] ?? 'read';
const mib = Number(process.argv[3] ?? 64);
const rounds = Number(process.argv[4] ?? 12);
if (!['write', 'read', 'read-views'].includes(op)) throw new Error(`usage: savepoint-profile.js <write|read|read-views> [MiB] [rounds] (got '${op}')`);

const VALUE_BYTES = 4096 - 16;
const STATE = new ValueStateDescriptor('blob', BytesSerializer.INSTANCE);
const entries = Math.ceil((mib << 20) / (VALUE_BYTES + 16));
const pool = randomBytes(Math.min(8 << 20, Math.max(VALUE_BYTES * 4, mib << 20)));
function* data(): Generator<{ key: string; value: Uint8Array }> {
  for (let i = 0; i < entries; i++) {
    const off = (i * 7919 * 64) % (pool.length - VALUE_BYTES);
    yield { key: `key-${i}`, value: pool.subarray(off, off + VALUE_BYTES) };
  }
}

const work = mkdtempSync(join(tmpdir(), 'flowstate-savepoint-profile-'));
const sp = join(work, 'canonical');
const write = () =>
  SavepointWriter.newSavepoint({ maxParallelism: 128, stateBackend: new FsStateBackend() })
    .withKeyedOperator('blobs', {
      data: data(),
      keySelector: (e) => e.key,
      keySerializer: Serializers.string,
      parallelism: 4,
      bootstrap: { processElement: (e, ctx) => ctx.getState(STATE).update(e.value) },
    })
    .write(sp);

/** Reads every entry as the suite does: copied values through readKeyedState, or views per block. */
async function read(views: boolean): Promise<void> {
  const r = await SavepointReader.load(sp);
  let n = 0;
  if (views) {
    for await (const block of r.readKeyedStateBlocks<string, unknown, Uint8Array>('blobs', 'blob', { views: true })) for (const e of block) n += e.value.length === VALUE_BYTES ? 1 : 0;
  } else {
    for await (const e of r.readKeyedState<string, unknown, Uint8Array>('blobs', 'blob')) n += e.value.length === VALUE_BYTES ? 1 : 0;
  }
  if (n !== entries) throw new Error(`read ${n} entries of ${VALUE_BYTES} B, wrote ${entries}`);
}

try {
  await write();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < rounds; i++) {
    if (op === 'write') rmSync(sp, { recursive: true, force: true });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await (op === 'write' ? write() : read(op === 'read-views'));
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  console.log(`${op} ${mib} MiB × ${rounds}: wall median ${summarize(wall).median.toFixed(1)} ms, CPU median ${summarize(cpu).median.toFixed(1)} ms`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
