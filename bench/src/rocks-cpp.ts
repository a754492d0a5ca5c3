/**
 * Plain C++ RocksDB baseline for the binding's own get/put: `bench/native/plain-rocksdb.cc`, built
 * by the bench with the system compiler against the system RocksDB (librocksdb-dev, the library
 * the addon's development build links), run on the same rows, op keys, values, options and batch
 * sizes as the raw-binding baseline of the value-state access benchmark. Skipped, with the reason,
 * where no compiler or no RocksDB headers are found.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROCKSDB_BENCH_OPTIONS } from './backends.js';
import type { Preset } from './config.js';
import { summarize, type Summary } from './stats.js';

const SOURCE = fileURLToPath(new URL('../native/plain-rocksdb.cc', import.meta.url));

export type PlainCppResult = { readonly get: Summary; readonly put: Summary } | { readonly skipped: string };

/** Builds the program once per source version (cached in the OS temp dir); a reason string when it cannot be built. */
function build(): string | { skipped: string } {
  const src = readFileSync(SOURCE);
  const bin = join(tmpdir(), 'flowstate-bench-cpp', `plain-rocksdb-${createHash('sha256').update(src).digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  const cxx = process.env['CXX'] ?? 'g++';
  try {
    execFileSync(cxx, ['--version'], { stdio: 'ignore' });
  } catch {
    return { skipped: `no C++ compiler ('${cxx}' not found; set CXX)` };
  }
  mkdirSync(join(tmpdir(), 'flowstate-bench-cpp'), { recursive: true });
  const tmp = `${bin}.${process.pid}`;
  try {
    execFileSync(cxx, ['-O2', '-std=c++17', SOURCE, '-o', tmp, '-lrocksdb'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? '').split('\n').slice(0, 3).join(' ');
    return { skipped: `building plain-rocksdb.cc against the system RocksDB failed (librocksdb-dev installed?): ${stderr}` };
  }
  renameSync(tmp, bin);
  return bin;
}

function list(parts: readonly Uint8Array[]): Buffer[] {
  const out: Buffer[] = [u32(parts.length)];
  for (const p of parts) out.push(u32(p.length), Buffer.from(p.buffer, p.byteOffset, p.length));
  return out;
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/**
 * Runs put (as valueUpdate) then get (as valueGet) in C++ on `rows` (setup key/value pairs),
 * cycling through `keys` batch by batch, putting `values[i]` for op i of a batch.
 */
export function runPlainCpp(p: Preset, workDir: string, rows: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, keys: readonly Uint8Array[], values: readonly Uint8Array[]): PlainCppResult {
  const bin = build();
  if (typeof bin !== 'string') return bin;
  const dir = join(workDir, 'plain-cpp');
  mkdirSync(dir, { recursive: true });
  const input = join(dir, 'input.bin');
  writeFileSync(input, Buffer.concat([...list(rows.flatMap(([k, v]) => [k, v])), ...list(keys), ...list(values)]));
  try {
    const o = ROCKSDB_BENCH_OPTIONS;
    const args = [join(dir, 'db'), input, String(o.blockCacheSize), String(o.writeBufferSize), String(o.maxWriteBufferNumber), String(p.batch), `${p.timeMs}:${p.warmupMs}`, `${p.iterations}:${p.warmupIterations}`];
    const out = JSON.parse(execFileSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20 })) as { get: number[]; put: number[] };
    const ops = (ms: number[]) => summarize(ms.map((x) => (p.batch * 1000) / Math.max(x, 1e-6)));
    return { get: ops(out.get), put: ops(out.put) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
