/**
 * Runs the savepoint suite's conversions alone (canonical → native-rocksdb → canonical, 64 MiB by
 * default, the suite's savepoint shape), interleaved with `cp` of the same bytes, for profiling:
 * `FLOWSTATE_PROFILE=out.cpuprofile node bench/dist/convert-profile.js [MiB] [rounds] [to-native|to-canonical|both]`.
 * The profile covers the timed rounds only, not writing the savepoint.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROCKSDB_NATIVE_FORMAT } from '@flowstate/rocksdb';
import { convertSavepoint } from '@flowstate/savepoint';
import '@flowstate/storage-local';
import { CpShell } from './cp-shell.js';
import { dirBytes } from './dir-bytes.js';
import { blobEntries, writeBlobSavepoint } from './savepoint-state.js';
import { summarize, timed } from './stats.js';

const MIB = 1024 * 1024;
const NATIVE = { nativeFormats: [ROCKSDB_NATIVE_FORMAT] };

// The suite's median (interpolated for an even count), so the ratios compare with its convert rows.
const median = (xs: number[]): number => summarize(xs).median;

/** `fn` under the CPU profiler when `profileTo` is set. */
async function profiled<T>(profileTo: string | undefined, fn: () => Promise<T>): Promise<T> {
  if (profileTo === undefined) return await fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  const result = await fn();
  writeFileSync(profileTo, JSON.stringify((await session.post('Profiler.stop')).profile));
  session.disconnect();
  return result;
}

async function main(): Promise<void> {
  const [mib, rounds, which] = [Number(process.argv[2] ?? 64), Number(process.argv[3] ?? 3), process.argv[4] ?? 'both'];
  if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(rounds) || rounds < 1 || !['to-native', 'to-canonical', 'both'].includes(which)) {
    console.error('usage: node bench/dist/convert-profile.js [MiB ≥ 1] [rounds ≥ 1] [to-native|to-canonical|both]');
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), 'flowstate-convert-profile-'));
  try {
    const [sp, big, native, back] = ['canonical', 'big', 'native', 'back'].map((n) => join(work, n)) as [string, string, string, string];
    await writeBlobSavepoint(sp, blobEntries(mib * MIB).data);
    const bytes = dirBytes(sp);
    execFileSync('sh', ['-c', `head -c ${bytes} /dev/urandom > ${big}`]);
    await convertSavepoint(sp, native, 'native-rocksdb', NATIVE);
    const nativeBytes = dirBytes(native);
    const cp: number[] = [], toN: number[] = [], toC: number[] = [];
    const cpu0 = process.cpuUsage();
    // Through one shell, as the savepoint suite's baseline (cp-shell.ts: a spawn would charge the conversion timed next its copy-on-write faults).
    const shell = new CpShell();
    // Closed in `finally`: a live shell kept the process running after the last round.
    try {
      await profiled(process.env['FLOWSTATE_PROFILE'], async () => {
        for (let i = 0; i < rounds; i++) {
          cp.push(await timed(() => shell.cp(big, join(work, 'copy'))));
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
      });
    } finally {
      shell.close();
    }
    const cpu = process.cpuUsage(cpu0);
    const cpM = median(cp);
    const ratio = (ms: number[], b: number) => (ms.length === 0 ? 'n/a' : ((cpM * (b / bytes)) / median(ms)).toFixed(3));
    const list = (ms: number[]) => ms.map((x) => x.toFixed(0)).join(' ');
    console.log(`canonical ${(bytes / MIB).toFixed(1)} MiB, native ${(nativeBytes / MIB).toFixed(1)} MiB; process CPU in the rounds: user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms`);
    console.log(`cp ms ${list(cp)}; to-native ms ${list(toN)} (ratio ${ratio(toN, bytes)}); to-canonical ms ${list(toC)} (ratio ${ratio(toC, nativeBytes)})`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
