/**
 * One savepoint goal row alone, repeated, for profiling (issue 16's closing note wants the top
 * self-time functions of every row not met): `node --cpu-prof --cpu-prof-dir=DIR
 * bench/dist/savepoint-profile.js <write|read|read-views|flink-write|flink-read> [MiB] [rounds]`, then
 * `node bench/dist/cpuprofile-top.js DIR/*.cpuprofile`. The same state and code paths as the
 * savepoint suite (savepoint.ts); the savepoint a read profiles is written once, before its rounds.
 * Prints the median wall and CPU (process.cpuUsage, all threads) milliseconds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@flowstate/storage-local';
import { readFlink, writeFlink } from './savepoint-flink.js';
import { VALUE_BYTES, blobEntries, readBlobSavepoint, writeBlobSavepoint } from './savepoint-state.js';
import { summarize } from './stats.js';

const USAGE = 'usage: savepoint-profile.js <write|read|read-views|flink-write|flink-read> [MiB ≥ 1, default 64] [rounds ≥ 1, default 12]';

/** A positive integer argument, or the usage message and exit code 2. */
function positiveArg(index: number, fallback: number, what: string): number {
  const raw = process.argv[index];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) usage(`${what} must be a positive integer (got '${raw}')`);
  return n;
}

function usage(problem: string): never {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}

const op = process.argv[2] ?? 'read';
if (!['write', 'read', 'read-views', 'flink-write', 'flink-read'].includes(op)) usage(`unknown operation '${op}'`);
const mib = positiveArg(3, 64, 'MiB');
const rounds = positiveArg(4, 12, 'rounds');

// Multiplication, not `<< 20`: a shift wraps to a negative number from 2048 MiB on.
const { entries, data } = blobEntries(mib * 2 ** 20);
const work = mkdtempSync(join(tmpdir(), 'flowstate-savepoint-profile-'));
const sp = join(work, 'canonical');
const write = () => writeBlobSavepoint(sp, data);
// The suite's own read (savepoint-state.ts): copied values through readKeyedState, or views per block.
const read = (views: boolean) => readBlobSavepoint(sp, entries, views ? 'views' : 'copies');
// The Apache Flink row (savepoint-flink.ts): the same state as a Flink canonical savepoint, every record decoded.
const flinkDir = join(work, 'flink');
const runOnce = (): Promise<unknown> => {
  if (op === 'write') return write();
  if (op === 'flink-write') return writeFlink(flinkDir, data());
  return op === 'flink-read' ? readFlink(flinkDir, entries, VALUE_BYTES) : read(op === 'read-views');
};

try {
  await (op.startsWith('flink-') ? writeFlink(flinkDir, data()) : write());
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < rounds; i++) {
    if (op === 'write') rmSync(sp, { recursive: true, force: true });
    if (op === 'flink-write') rmSync(flinkDir, { recursive: true, force: true });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await runOnce();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  console.log(`${op} ${mib} MiB × ${rounds}: wall median ${summarize(wall).median.toFixed(1)} ms, CPU median ${summarize(cpu).median.toFixed(1)} ms`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
