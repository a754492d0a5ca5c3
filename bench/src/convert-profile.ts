/**
 * Runs the savepoint suite's conversions alone (canonical → native-rocksdb → canonical, 64 MiB by
 * default), interleaved with `cp` of the same bytes, for profiling:
 * `node --cpu-prof bench/dist/convert-profile.js [MiB] [rounds] [to-native|to-canonical|both]`.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BytesSerializer, Serializers, ValueStateDescriptor } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { ROCKSDB_NATIVE_FORMAT } from '@flowstate/rocksdb';
import { convertSavepoint, SavepointWriter } from '@flowstate/savepoint';
import '@flowstate/storage-local';

const MIB = 1024 * 1024;
const VALUE_BYTES = 4096 - 16;
const NATIVE = { nativeFormats: [ROCKSDB_NATIVE_FORMAT] };
const STATE = new ValueStateDescriptor('blob', BytesSerializer.INSTANCE);

function dirBytes(d: string): number {
  let total = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const mib = Number(process.argv[2] ?? 64);
  const rounds = Number(process.argv[3] ?? 3);
  const which = process.argv[4] ?? 'both';
  const work = mkdtempSync(join(tmpdir(), 'flowstate-convert-profile-'));
  const entries = Math.ceil((mib * MIB) / (VALUE_BYTES + 16));
  const pool = randomBytes(8 * MIB);
  function* data(): Generator<{ key: string; value: Uint8Array }> {
    for (let i = 0; i < entries; i++) {
      const off = (i * 7919 * 64) % (pool.length - VALUE_BYTES);
      yield { key: `key-${i}`, value: pool.subarray(off, off + VALUE_BYTES) };
    }
  }
  try {
    const sp = join(work, 'canonical');
    await SavepointWriter.newSavepoint({ maxParallelism: 128, stateBackend: new FsStateBackend() })
      .withKeyedOperator('blobs', { data: data(), keySelector: (e) => e.key, keySerializer: Serializers.string, parallelism: 4, bootstrap: { processElement: (e, ctx) => ctx.getState(STATE).update(e.value) } })
      .write(sp);
    const bytes = dirBytes(sp);
    const big = join(work, 'big');
    execFileSync('sh', ['-c', `head -c ${bytes} /dev/urandom > ${big}`]);
    const native = join(work, 'native');
    const back = join(work, 'back');
    await convertSavepoint(sp, native, 'native-rocksdb', NATIVE);
    const nativeBytes = dirBytes(native);
    // FLOWSTATE_PROFILE=file: a CPU profile of the timed rounds only (not of writing the savepoint).
    const profileTo = process.env['FLOWSTATE_PROFILE'];
    const session = new Session();
    if (profileTo !== undefined) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const cpu0 = process.cpuUsage();
    const cp: number[] = [], toN: number[] = [], toC: number[] = [];
    for (let i = 0; i < rounds; i++) {
      cp.push(await timed(async () => execFileSync('cp', [big, join(work, 'copy')])));
      rmSync(join(work, 'copy'));
      if (which !== 'to-canonical') {
        rmSync(native, { recursive: true, force: true });
        toN.push(await timed(() => convertSavepoint(sp, native, 'native-rocksdb', NATIVE)));
      }
      if (which !== 'to-native') {
        toC.push(await timed(() => convertSavepoint(native, back, 'canonical', NATIVE)));
        rmSync(back, { recursive: true, force: true });
      }
    }
    const cpu = process.cpuUsage(cpu0);
    if (profileTo !== undefined) writeFileSync(profileTo, JSON.stringify((await session.post('Profiler.stop')).profile));
    console.log(`process CPU in the rounds: user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms`);
    const cpM = median(cp);
    const ratio = (ms: number[], b: number) => (ms.length === 0 ? 'n/a' : ((cpM * (b / bytes)) / median(ms)).toFixed(3));
    console.log(`canonical ${(bytes / MIB).toFixed(1)} MiB, native ${(nativeBytes / MIB).toFixed(1)} MiB`);
    console.log(`cp ms ${cp.map((x) => x.toFixed(0)).join(' ')}; to-native ms ${toN.map((x) => x.toFixed(0)).join(' ')} ratio ${ratio(toN, bytes)}; to-canonical ms ${toC.map((x) => x.toFixed(0)).join(' ')} ratio ${ratio(toC, nativeBytes)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
