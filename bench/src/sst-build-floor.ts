/**
 * The floor of a conversion to native RocksDB without any database: the same bytes as the
 * savepoint suite's state (4080-byte values, 64 MiB by default) written as 4 SST files (one per
 * subtask, as the conversion's bulk load builds them: the table options, whole-file CRC32C and
 * fsync of every finished file), two at a time on the thread pool, interleaved with `cp` of the
 * same byte count through the suite's shell (cp-shell.ts). No reading or decoding of the input is
 * timed: whatever a conversion does besides building its SSTs comes on top. Usage:
 * `node bench/dist/sst-build-floor.js [MiB ≥ 1, default 64] [rounds ≥ 1, default 8]`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SstFileWriter } from '@flowstate/rocksdb/native';
import { CpShell } from './cp-shell.js';
import { VALUE_BYTES, blobEntries } from './savepoint-state.js';
import { summarize } from './stats.js';

const MIB = 1024 * 1024;
const FILES = 4;

/** Sorted keys (a 4-byte file prefix, as key groups order a subtask's keys) and the suite's values, split into FILES runs. */
function sortedRuns(mib: number): Array<{ keys: Uint8Array[]; values: Uint8Array[] }> {
  const { entries, data } = blobEntries(mib * MIB);
  const runs = Array.from({ length: FILES }, () => ({ keys: [] as Uint8Array[], values: [] as Uint8Array[] }));
  let i = 0;
  for (const e of data()) {
    const file = Math.floor((i * FILES) / entries);
    const key = Buffer.alloc(24);
    key.writeUInt32BE(file, 0);
    key.write(`key-${String(i).padStart(16, '0')}`, 4, 'latin1');
    runs[file]!.keys.push(key);
    runs[file]!.values.push(e.value);
    i++;
  }
  return runs;
}

/** Builds every run's SST in `dir`, two at a time; resolves once every file is finished (and fsynced). */
async function buildAll(dir: string, runs: ReadonlyArray<{ keys: Uint8Array[]; values: Uint8Array[] }>): Promise<void> {
  const build = async (f: number): Promise<void> => {
    const w = new SstFileWriter({ compression: 'lz4' });
    w.open(join(dir, `${f}.sst`));
    // Copies of the arrays: the binding owns the ones it is given until the file is finished.
    await w.putSortedAndFinishAsync([...runs[f]!.keys], [...runs[f]!.values]);
  };
  for (let f = 0; f < runs.length; f += 2) await Promise.all([build(f), ...(f + 1 < runs.length ? [build(f + 1)] : [])]);
}

async function main(): Promise<void> {
  const [mib, rounds] = [Number(process.argv[2] ?? 64), Number(process.argv[3] ?? 8)];
  if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(rounds) || rounds < 1) {
    console.error('usage: node bench/dist/sst-build-floor.js [MiB ≥ 1] [rounds ≥ 1]');
    process.exit(2);
  }
  const runs = sortedRuns(mib);
  const bytes = runs.reduce((n, r) => n + r.keys.length * (24 + VALUE_BYTES), 0);
  const work = mkdtempSync(join(tmpdir(), 'flowstate-sst-floor-'));
  const shell = new CpShell();
  try {
    const big = join(work, 'big');
    execFileSync('sh', ['-c', `head -c ${bytes} /dev/urandom > ${big}`]);
    const cp: number[] = [];
    const build: number[] = [];
    for (let i = 0; i < rounds; i++) {
      let t0 = performance.now();
      await shell.cp(big, join(work, 'copy'));
      cp.push(performance.now() - t0);
      rmSync(join(work, 'copy'));
      const dir = join(work, `round-${i}`);
      mkdirSync(dir);
      t0 = performance.now();
      await buildAll(dir, runs);
      build.push(performance.now() - t0);
      rmSync(dir, { recursive: true });
    }
    const [c, b] = [summarize(cp).median, summarize(build).median];
    const list = (ms: number[]) => ms.map((x) => x.toFixed(0)).join(' ');
    console.log(`${(bytes / MIB).toFixed(1)} MiB in ${FILES} SSTs: cp ms ${list(cp)}; build + fsync ms ${list(build)}; medians ${c.toFixed(1)} / ${b.toFixed(1)} ms: ratio to cp ${(c / b).toFixed(3)}`);
  } finally {
    shell.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
