/**
 * Plain C++ RocksDB baseline for the binding's own get/put: `bench/native/plain-rocksdb.cc`, built
 * by the bench with the system compiler against the system RocksDB (librocksdb-dev, the library
 * the addon's development build links), holding the same rows as the binding's database and
 * running the same op keys, values, options and batch sizes. It runs as a long-lived server driven
 * over two FIFOs, so the bench interleaves its rounds with the binding's (interleave.ts) and both
 * sides are timed on process CPU time for exactly their own loop. Skipped, with the reason, where
 * no compiler or no RocksDB headers are found.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROCKSDB_BENCH_OPTIONS } from './backends.js';
import type { Preset } from './config.js';
import type { Pinned } from './cpu-pin.js';

const SOURCE = fileURLToPath(new URL('../native/plain-rocksdb.cc', import.meta.url));
/** What the program compiles: its source and the binding's CRC32C it includes (its file checksum generator). */
const SOURCES = [SOURCE, ...['crc32c.cc', 'crc32c.h'].map((f) => fileURLToPath(new URL(`../../packages/rocksdb/native/${f}`, import.meta.url)))];

/** Builds the program once per version of its sources (cached in the OS temp dir); a reason string when it cannot be built. */
function build(): string | { skipped: string } {
  const hash = createHash('sha256');
  for (const f of SOURCES) hash.update(readFileSync(f));
  const bin = join(tmpdir(), 'flowstate-bench-cpp', `plain-rocksdb-${hash.digest('hex').slice(0, 16)}`);
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

/** Waiting for the server to open its end of the command FIFO (it does so first thing). */
const OPEN_TIMEOUT_MS = 30_000;
/** A reply line is a few dozen bytes; a longer one means the protocol broke. */
const MAX_REPLY_BYTES = 4096;

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * The C++ side of an interleaved comparison: `run('get' | 'put', pos, batches)` runs that many
 * batches from op key `pos` in the server and returns its CPU ms and the op key position after
 * (the JS KeyCursor's walk). Synchronous (blocking FIFO reads), as interleaved rounds are.
 */
export class PlainCppServer {
  private buffered = '';
  private constructor(
    private readonly child: ChildProcess,
    private readonly cmd: number,
    private readonly reply: number,
    private readonly dir: string,
  ) {}

  /** Builds the program, writes its input, starts it and waits until it has written the setup rows. */
  static start(p: Preset, workDir: string, rows: ReadonlyArray<readonly [Uint8Array, Uint8Array]>, keys: readonly Uint8Array[], values: readonly Uint8Array[], pinned?: Pinned): PlainCppServer | { skipped: string } {
    const bin = build();
    if (typeof bin !== 'string') return bin;
    const dir = join(workDir, 'plain-cpp');
    mkdirSync(dir, { recursive: true });
    const input = join(dir, 'input.bin');
    writeFileSync(input, Buffer.concat([...list(rows.flatMap(([k, v]) => [k, v])), ...list(keys), ...list(values)]));
    const cmdPath = join(dir, 'cmd.fifo');
    const replyPath = join(dir, 'reply.fifo');
    execFileSync('mkfifo', [cmdPath, replyPath]);
    const o = ROCKSDB_BENCH_OPTIONS;
    const args = [join(dir, 'db'), input, String(o.blockCacheSize), String(o.writeBufferSize), String(o.maxWriteBufferNumber), String(p.batch), cmdPath, replyPath];
    const [command, commandArgs] = pinned ? pinned.pinnedCommand(bin, args) : [bin, args];
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
    // Non-blocking open fails (ENXIO) until the server has opened its reading end: no hang if it never starts.
    let cmd = -1;
    for (const t0 = Date.now(); cmd < 0; sleepMs(5)) {
      try {
        cmd = openSync(cmdPath, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() - t0 > OPEN_TIMEOUT_MS) {
          child.kill();
          throw new Error(`plain C++ RocksDB server did not start: ${String(e)}`);
        }
      }
    }
    // Blocking: the server opens its writing end right after the command FIFO; it closes it when it exits (EOF).
    const reply = openSync(replyPath, 'r');
    const server = new PlainCppServer(child, cmd, reply, dir);
    let greeting: string;
    try {
      greeting = server.line();
    } catch (e) {
      server.close();
      throw e;
    }
    if (greeting !== 'ready') {
      server.close();
      throw new Error('plain C++ RocksDB server: unexpected greeting');
    }
    return server;
  }

  run(op: 'get' | 'put', pos: number, batches: number): { ms: number; pos: number } {
    writeSync(this.cmd, `${op} ${pos} ${batches}\n`);
    const [ms, after] = this.line().split(' ').map(Number);
    if (!Number.isFinite(ms) || !Number.isInteger(after)) throw new Error('plain C++ RocksDB server: malformed reply');
    return { ms: ms!, pos: after! };
  }

  close(): void {
    try {
      writeSync(this.cmd, 'quit\n');
    } catch {
      // already gone
    }
    closeSync(this.cmd);
    // The server closes its end when it exits (after DB::Close): read to EOF before deleting its
    // directory, or RocksDB's threads may still be writing there. The caller's loop is synchronous,
    // so the child's exit event would never be seen here.
    try {
      const chunk = Buffer.alloc(256);
      while (readSync(this.reply, chunk, 0, chunk.length, null) > 0) {
        // discard
      }
    } catch {
      // already gone
    }
    closeSync(this.reply);
    if (this.child.exitCode === null) this.child.kill();
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** The next reply line (blocking); throws when the server exited. */
  private line(): string {
    const chunk = Buffer.alloc(256);
    for (;;) {
      const nl = this.buffered.indexOf('\n');
      if (nl >= 0) {
        const l = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        return l;
      }
      const n = readSync(this.reply, chunk, 0, chunk.length, null);
      if (n === 0) throw new Error('plain C++ RocksDB server exited (see its stderr above)');
      this.buffered += chunk.toString('latin1', 0, n);
      if (this.buffered.length > MAX_REPLY_BYTES) throw new Error('plain C++ RocksDB server: reply too long');
    }
  }
}
