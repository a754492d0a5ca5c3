/**
 * Conversion time against savepoint size: the savepoint suite's conversions (canonical → native
 * RocksDB → canonical, its savepoint shape: 4 subtasks, 4080-byte values) at each size given,
 * with `cp` of a file of the same bytes, median of `rounds` after `warmups` untimed each way. A
 * line through the points splits a conversion into a fixed part (per conversion: opening and
 * closing a database per subtask, the metadata, the directory syncs) and a part per MiB, which
 * tells which of the two a goal against `cp` is short by. `--processes 2` runs two such drivers at
 * once, each converting its own savepoint, started together: whether the machine has room for more
 * work at once. Usage:
 * `node bench/dist/convert-sizes.js [--rounds N] [--warmups N] [--processes P] MiB...` (default 1 4 16 64).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROCKSDB_NATIVE_FORMAT } from '@flowstate/rocksdb';
import { convertSavepoint } from '@flowstate/savepoint';
import '@flowstate/storage-local';
import { CpShell } from './cp-shell.js';
import { dirBytes } from './dir-bytes.js';
import { blobEntries, writeBlobSavepoint } from './savepoint-state.js';
import { summarize } from './stats.js';

const MIB = 1024 * 1024;
const NATIVE = { nativeFormats: [ROCKSDB_NATIVE_FORMAT] };

interface Args {
  readonly sizes: number[];
  readonly rounds: number;
  readonly warmups: number;
  readonly processes: number;
  /** Set in the drivers `--processes` starts: they wait for this file to exist before timing. */
  readonly startFile?: string;
}

function parseArgs(argv: readonly string[]): Args {
  const flags = new Map<string, string>();
  const sizes: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) sizes.push(Number(a));
    else if (['rounds', 'warmups', 'processes', 'start-file'].includes(a.slice(2))) flags.set(a.slice(2), argv[++i] ?? '');
    else usage(`unknown option ${a}`);
  }
  const count = (name: string, fallback: number, min: number) => {
    const v = Number(flags.get(name) ?? fallback);
    if (!Number.isInteger(v) || v < min) usage(`--${name} must be an integer ≥ ${min}`);
    return v;
  };
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) usage('sizes are whole MiB ≥ 1');
  const startFile = flags.get('start-file');
  return { sizes: sizes.length > 0 ? sizes : [1, 4, 16, 64], rounds: count('rounds', 10, 1), warmups: count('warmups', 4, 0), processes: count('processes', 1, 1), ...(startFile === undefined ? {} : { startFile }) };
}

function usage(why: string): never {
  console.error(`convert-sizes: ${why}\nusage: node bench/dist/convert-sizes.js [--rounds N] [--warmups N] [--processes P] MiB...`);
  process.exit(2);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * In a driver `--processes` started: says it is ready to time `mib` and waits (untimed) until the
 * parent has seen every driver ready (it then creates `<start-file>-<mib>`).
 */
async function startTogether(startFile: string | undefined, mib: number): Promise<void> {
  if (startFile === undefined) return;
  console.log(`ready ${mib}`);
  while (!existsSync(`${startFile}-${mib}`)) await new Promise((r) => setTimeout(r, 2));
}

/** One size: medians of the conversions each way and of `cp` of the canonical savepoint's byte count. */
async function measureSize(work: string, mib: number, a: Args, shell: CpShell): Promise<string> {
  const [sp, native, back, big, copy] = ['canonical', 'native', 'back', 'big', 'copy'].map((n) => join(work, `${n}-${mib}`)) as [string, string, string, string, string];
  await writeBlobSavepoint(sp, blobEntries(mib * MIB).data);
  writeFileSync(big, Buffer.alloc(dirBytes(sp), 7));
  const toNative = () => convertSavepoint(sp, native, 'native-rocksdb', NATIVE);
  const toCanonical = () => convertSavepoint(native, back, 'canonical', NATIVE);
  const ms = { toNative: [] as number[], toCanonical: [] as number[], cp: [] as number[] };
  for (let i = 0; i < a.warmups + a.rounds; i++) {
    if (i === a.warmups) await startTogether(a.startFile, mib);
    rmSync(native, { recursive: true, force: true });
    const n = await timed(toNative);
    rmSync(back, { recursive: true, force: true });
    const c = await timed(toCanonical);
    const p = await timed(() => shell.cp(big, copy));
    rmSync(copy, { force: true });
    if (i < a.warmups) continue;
    ms.toNative.push(n);
    ms.toCanonical.push(c);
    ms.cp.push(p);
  }
  const m = (xs: number[]) => summarize(xs).median.toFixed(1);
  return `${mib} MiB: to native ${m(ms.toNative)} ms, to canonical ${m(ms.toCanonical)} ms, cp ${m(ms.cp)} ms (medians of ${a.rounds})`;
}

/** Starts `processes` drivers with the same sizes, times each size in all of them at once, and prints their lines. */
async function together(a: Args): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-convert-sizes-'));
  const startFile = join(dir, 'start');
  const self = fileURLToPath(import.meta.url);
  const args = ['--rounds', String(a.rounds), '--warmups', String(a.warmups), '--start-file', startFile, ...a.sizes.map(String)];
  const ready = new Map<number, number>();
  const lines: string[][] = [];
  const children: ChildProcess[] = [];
  const runs = Array.from({ length: a.processes }, (_, i) => {
    lines.push([]);
    const child = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        const mib = /^ready (\d+)$/.exec(line)?.[1];
        if (mib === undefined) lines[i]!.push(line);
        else if ((ready.get(Number(mib)) ?? 0) + 1 === a.processes) writeFileSync(`${startFile}-${mib}`, '');
        else ready.set(Number(mib), (ready.get(Number(mib)) ?? 0) + 1);
      }
    });
    return new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`driver ${i + 1} exited with ${String(code)}`)))));
  });
  try {
    // A driver that fails never says it is ready: the others would wait for it forever.
    await Promise.all(runs).catch((e: unknown) => {
      for (const c of children) c.kill();
      throw e;
    });
    lines.forEach((ls, i) => ls.forEach((l) => console.log(`process ${i + 1}: ${l}`)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.processes > 1) return await together(a);
  const work = mkdtempSync(join(tmpdir(), 'flowstate-convert-sizes-'));
  // Through one shell, as the savepoint suite's baseline (cp-shell.ts).
  const shell = new CpShell();
  try {
    for (const mib of a.sizes) console.log(await measureSize(work, mib, a, shell));
  } finally {
    shell.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
