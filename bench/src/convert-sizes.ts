/**
 * Conversion time against savepoint size: the savepoint suite's conversions (canonical → native
 * RocksDB → canonical, its savepoint shape: 4 subtasks, 4080-byte values) at each size given,
 * with `cp` of a file of the same bytes, median of `rounds` after `warmups` untimed each way. A
 * line through the points splits a conversion into a fixed part (per conversion: opening and
 * closing a database per subtask, the metadata, the directory syncs) and a part per MiB, which
 * tells which of the two a goal against `cp` is short by. `--processes 2` runs two such drivers at
 * once, each converting its own savepoint, every round started in all of them together: whether
 * the machine has room for more work at once. Usage:
 * `node bench/dist/convert-sizes.js [--rounds N] [--warmups N] [--processes P] MiB...` (default 1 4 16 64).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROCKSDB_NATIVE_FORMAT } from '@flowstate/rocksdb';
import { convertSavepoint } from '@flowstate/savepoint';
import '@flowstate/storage-local';
import { CpShell, syncedRandomFile } from './cp-shell.js';
import { dirBytes } from './dir-bytes.js';
import { blobEntries, writeBlobSavepoint } from './savepoint-state.js';
import { summarize, timed } from './stats.js';

const MIB = 1024 * 1024;
const NATIVE = { nativeFormats: [ROCKSDB_NATIVE_FORMAT] };
const USAGE = 'usage: node bench/dist/convert-sizes.js [--rounds N] [--warmups N] [--processes P] MiB...';

interface Args {
  readonly sizes: number[];
  readonly rounds: number;
  readonly warmups: number;
  readonly processes: number;
  /** Set in the drivers `--processes` starts (in the parent's temporary directory): see startTogether. */
  readonly startFile?: string;
}

function parseArgs(argv: readonly string[]): Args {
  const flags = new Map<string, string>();
  const sizes: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) sizes.push(Number(a));
    else if (!['rounds', 'warmups', 'processes', 'start-file'].includes(a.slice(2))) usage(`unknown option ${a}`);
    else if ((argv[i + 1] ?? '') === '' || argv[i + 1]!.startsWith('--')) usage(`${a} needs a value`);
    else flags.set(a.slice(2), argv[++i]!);
  }
  const count = (name: string, fallback: number, min: number) => {
    const v = Number(flags.get(name) ?? fallback);
    if (!Number.isInteger(v) || v < min) usage(`--${name} must be an integer ≥ ${min}`);
    return v;
  };
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) usage('sizes are whole MiB ≥ 1');
  // Each size has its own files and, in parallel runs, its own barriers.
  if (new Set(sizes).size !== sizes.length) usage('each size once');
  const startFile = flags.get('start-file');
  return { sizes: sizes.length > 0 ? sizes : [1, 4, 16, 64], rounds: count('rounds', 10, 1), warmups: count('warmups', 4, 0), processes: count('processes', 1, 1), ...(startFile === undefined ? {} : { startFile }) };
}

function usage(why: string): never {
  console.error(`convert-sizes: ${why}\n${USAGE}`);
  process.exit(2);
}

/**
 * In a driver `--processes` started: says it is ready for round `round` of `mib` and waits
 * (untimed) until the parent has seen every driver ready (it then creates
 * `<start-file>-<mib>-<round>`), so every timed round runs in all drivers at once. Exits if the
 * parent is gone (its temporary directory removed, or this process handed to another parent).
 */
async function startTogether(startFile: string | undefined, mib: number, round: number): Promise<void> {
  if (startFile === undefined) return;
  const parent = process.ppid;
  console.log(`ready ${mib} ${round}`);
  while (!existsSync(`${startFile}-${mib}-${round}`)) {
    if (process.ppid !== parent || !existsSync(dirname(startFile))) process.exit(3);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** One size: medians of the conversions each way and of `cp` of the canonical savepoint's byte count. */
async function measureSize(work: string, mib: number, a: Args, shell: CpShell): Promise<string> {
  const [sp, native, back, big, copy] = ['canonical', 'native', 'back', 'big', 'copy'].map((n) => join(work, `${n}-${mib}`)) as [string, string, string, string, string];
  await writeBlobSavepoint(sp, blobEntries(mib * MIB).data);
  syncedRandomFile(big, dirBytes(sp));
  const toNative = () => convertSavepoint(sp, native, 'native-rocksdb', NATIVE);
  const toCanonical = () => convertSavepoint(native, back, 'canonical', NATIVE);
  const ms = { toNative: [] as number[], toCanonical: [] as number[], cp: [] as number[] };
  for (let i = 0; i < a.warmups + a.rounds; i++) {
    if (i >= a.warmups) await startTogether(a.startFile, mib, i - a.warmups);
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
  for (const f of [sp, native, back, big]) rmSync(f, { recursive: true, force: true });
  const m = (xs: number[]) => summarize(xs).median.toFixed(1);
  return `${mib} MiB: to native ${m(ms.toNative)} ms, to canonical ${m(ms.toCanonical)} ms, cp ${m(ms.cp)} ms (medians of ${a.rounds})`;
}

/** Counts the drivers ready for each round and creates its start file once all are. */
class Barriers {
  private readonly ready = new Map<string, number>();
  constructor(private readonly startFile: string, private readonly drivers: number) {}

  /** Handles one line of a driver's output; false when it is a result line, not a barrier's. */
  take(line: string): boolean {
    const m = /^ready (\d+) (\d+)$/.exec(line);
    if (m === null) return false;
    const key = `${m[1]}-${m[2]}`;
    const n = (this.ready.get(key) ?? 0) + 1;
    this.ready.set(key, n);
    if (n === this.drivers) writeFileSync(`${this.startFile}-${key}`, '');
    return true;
  }
}

/** One driver of a parallel run: its result lines, and a promise that settles once its output is read to the end. */
function startDriver(args: readonly string[], barriers: Barriers, name: string): { child: ChildProcess; lines: string[]; done: Promise<void> } {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const line of parts) if (!barriers.take(line)) lines.push(line);
  });
  // 'close', not 'exit': the output is then read to its end.
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${name} ended with ${signal ?? `exit code ${String(code)}`}`))));
  });
  return { child, lines, done };
}

/** Starts `processes` drivers with the same sizes, times every round of each size in all of them at once, and prints their lines. */
async function together(a: Args): Promise<void> {
  // The drivers' start files and work directories: removed at the end, whatever happened to them.
  const dir = mkdtempSync(join(tmpdir(), 'flowstate-convert-sizes-'));
  const startFile = join(dir, 'start');
  const args = ['--rounds', String(a.rounds), '--warmups', String(a.warmups), '--start-file', startFile, ...a.sizes.map(String)];
  const barriers = new Barriers(startFile, a.processes);
  const drivers = Array.from({ length: a.processes }, (_, i) => startDriver(args, barriers, `driver ${i + 1}`));
  const print = () => drivers.forEach((d, i) => d.lines.forEach((l) => console.log(`process ${i + 1}: ${l}`)));
  try {
    // A driver that fails never says it is ready again: the others would wait for it.
    await Promise.all(drivers.map((d) => d.done)).catch((e: unknown) => {
      for (const d of drivers) d.child.kill();
      print();
      throw e;
    });
    print();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.processes > 1) return await together(a);
  // A driver of a parallel run works inside the parent's directory, which the parent removes.
  const work = mkdtempSync(a.startFile === undefined ? join(tmpdir(), 'flowstate-convert-sizes-') : join(dirname(a.startFile), 'driver-'));
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
