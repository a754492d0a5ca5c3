/**
 * The reference runtime end to end, on event time: user click events arrive out of order (up to
 * 1.5 s late), per-user session windows (gap 1 s) and a per-user tumbling count (2 s windows) run
 * on the RocksDB backend with incremental checkpoints to a local directory. A session task crashes
 * and the job recovers from the latest checkpoint, then stops with a savepoint, and resumes from
 * the savepoint with the window operators at parallelism 2 instead of 3. The windows committed by
 * the two-phase-commit sink must equal a batch computation of the same windows over the input:
 * every window exactly once, with the same value.
 *
 * Usage: node examples/dist/runtime-demo.js [directory]  (or: npm run demo)
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { mulberry32 } from '@flowstate/core';
import { MsgpackSerializer, Serializers } from '@flowstate/core/serialization';
import type { AggregateFunction } from '@flowstate/core/state';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { LocalFileSystem, localCheckpointStorage, localSavepointStorage } from '@flowstate/storage-local';
import {
  fileLinesLog,
  JobClient,
  OutputTag,
  SessionWindows,
  StreamExecutionEnvironment,
  TumblingWindows,
  TwoPhaseCommitFileSink,
  WatermarkStrategy,
  type JobGraph,
  type RuntimeHooks,
} from '@flowstate/runtime';

const SESSION_GAP_MS = 1000;
const TUMBLE_MS = 2000;
/** Events are generated up to this much later than their timestamp; the watermark allows for it. */
const MAX_JITTER_MS = 1500;
const OUT_OF_ORDERNESS_MS = 2000;
const USERS = 40;

interface Click {
  readonly user: string;
  readonly ts: number;
  readonly amount: number;
}

/**
 * Deterministic input (mulberry32), one file per source partition: a line `user,timestamp,amount`
 * every 50 ms of event time per partition, with timestamps jittered out of order. Which users are
 * active changes every 3 s of event time, so that users have several sessions.
 */
function writeInput(dir: string, files: number, lines: number): string[] {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: files }, (_, f) => {
    const rand = mulberry32(42 + f);
    const path = join(dir, `clicks-${f}.csv`);
    const text = Array.from({ length: lines }, (_, o) => {
      const base = o * 50;
      const period = Math.floor(base / 3000);
      const active = Array.from({ length: USERS }, (_, u) => u).filter((u) => (u * 7 + period * 13) % 5 === 0);
      const user = active[Math.floor(rand() * active.length)]!;
      return `u${user},${base + Math.floor(rand() * MAX_JITTER_MS)},${1 + Math.floor(rand() * 100)}`;
    });
    writeFileSync(path, text.join('\n') + '\n');
    return path;
  });
}

function parse(line: string): Click {
  const [user, ts, amount] = line.split(',');
  return { user: user!, ts: Number(ts), amount: Number(amount) };
}

type SessionAcc = { count: number; sum: number };
const SESSION_TOTALS: AggregateFunction<Click, SessionAcc, SessionAcc> = {
  createAccumulator: () => ({ count: 0, sum: 0 }),
  add: (c, acc) => ({ count: acc.count + 1, sum: acc.sum + c.amount }),
  getResult: (acc) => acc,
  merge: (a, b) => ({ count: a.count + b.count, sum: a.sum + b.sum }),
};

const COUNT: AggregateFunction<Click, number, number> = {
  createAccumulator: () => 0,
  add: (_c, n) => n + 1,
  getResult: (n) => n,
  merge: (a, b) => a + b,
};
const LATE = new OutputTag<Click>('late-clicks');

function windowedJob(parallelism: number, inputs: readonly string[], out: LocalFileSystem, late: string[]): JobGraph {
  const env = new StreamExecutionEnvironment('click-windows', { parallelism, maxParallelism: 128, bufferCapacity: 64 });
  const watermarks = WatermarkStrategy.forBoundedOutOfOrderness<string>(OUT_OF_ORDERNESS_MS)
    .withTimestampAssigner((line) => parse(line).ts)
    .withPeriodicEmitEvery(16);
  const byUser = env.fromLog('clicks', fileLinesLog(inputs), { parallelism: 2, watermarks }).map<Click>('parse', parse, { parallelism: 2 }).keyBy((c) => c.user, Serializers.string);
  const sessions = byUser
    .window(SessionWindows.eventTime<Click>(SESSION_GAP_MS))
    .sideOutputLateData(LATE)
    .aggregate<SessionAcc, SessionAcc, string>('sessions', SESSION_TOTALS, MsgpackSerializer.INSTANCE as unknown as MsgpackSerializer<SessionAcc>, {
      process(user, ctx, [t], col) {
        col.collect(`session ${user} ${ctx.window.start} ${ctx.window.end} ${t!.count} ${t!.sum}`);
      },
    });
  const counts = byUser.window(TumblingWindows.eventTime<Click>(TUMBLE_MS)).aggregate<number, number, string>('tumbling-counts', COUNT, Serializers.float64, {
    process(user, ctx, [n], col) {
      col.collect(`tumble ${user} ${ctx.window.start} ${ctx.window.end} ${n}`);
    },
  });
  const sink = () => new TwoPhaseCommitFileSink<string>({ fs: out, directory: 'windows', format: (l) => l });
  sessions.sinkTo('committed-sessions', sink);
  counts.sinkTo('committed-counts', sink);
  sessions.getSideOutput(LATE).sinkTo('late', () => ({ invoke: (c: Click) => void late.push(JSON.stringify(c)) }), { parallelism: 1 });
  return env.getJobGraph();
}

/** The same windows, computed in one pass over the whole input. */
function batchWindows(clicks: readonly Click[]): string[] {
  const out: string[] = [];
  const byUser = new Map<string, Click[]>();
  for (const c of clicks) byUser.set(c.user, [...(byUser.get(c.user) ?? []), c]);
  for (const [user, cs] of byUser) {
    cs.sort((a, b) => a.ts - b.ts);
    // Session windows [t, t + gap) merge when they overlap or touch.
    let start = cs[0]!.ts;
    let end = start + SESSION_GAP_MS;
    let count = 0;
    let sum = 0;
    for (const c of cs) {
      if (c.ts > end) {
        out.push(`session ${user} ${start} ${end} ${count} ${sum}`);
        [start, end, count, sum] = [c.ts, c.ts, 0, 0];
      }
      end = Math.max(end, c.ts + SESSION_GAP_MS);
      count++;
      sum += c.amount;
    }
    out.push(`session ${user} ${start} ${end} ${count} ${sum}`);
    const tumbles = new Map<number, number>();
    for (const c of cs) {
      const s = Math.floor(c.ts / TUMBLE_MS) * TUMBLE_MS;
      tumbles.set(s, (tumbles.get(s) ?? 0) + 1);
    }
    for (const [s, n] of tumbles) out.push(`tumble ${user} ${s} ${s + TUMBLE_MS} ${n}`);
  }
  return out;
}

/** One line per directory (two levels deep): file count and bytes. */
function summarizeDir(dir: string, base: string, depth = 0): string[] {
  const lines: string[] = [];
  let files = 0;
  let bytes = 0;
  const subdirs: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const st = statSync(join(dir, name));
    if (st.isDirectory()) subdirs.push(name);
    else {
      files++;
      bytes += st.size;
    }
  }
  if (depth > 0) lines.push(`${relative(base, dir)}/  ${files} file(s), ${bytes} B${readdirSync(dir).includes('_metadata') ? ', _metadata present (complete)' : ''}`);
  if (depth < 3) for (const d of subdirs) lines.push(...summarizeDir(join(dir, d), base, depth + 1));
  return lines;
}

/** Lines that are in `a` more often than in `b`. */
function surplus(a: readonly string[], b: readonly string[]): string[] {
  const n = new Map<string, number>();
  for (const x of b) n.set(x, (n.get(x) ?? 0) + 1);
  const out: string[] = [];
  for (const x of a) {
    const left = n.get(x) ?? 0;
    if (left > 0) n.set(x, left - 1);
    else out.push(x);
  }
  return out;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'flowstate-runtime-demo-'));
  // The exactness check reads every committed file under the directory: it must start empty.
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    console.error(`demo directory ${dir} is not empty; give a new or empty directory (or none for a temporary one)`);
    process.exit(2);
  }
  const inputs = writeInput(join(dir, 'input'), 4, 5_000);
  const clicks = inputs.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l !== '').map(parse));
  const expected = batchWindows(clicks);
  const checkpoints = localCheckpointStorage(join(dir, 'checkpoints'));
  const savepointDir = join(dir, 'savepoints', 'sp-1');
  const output = new LocalFileSystem(join(dir, 'output'));
  const late: string[] = [];
  const backend = () => new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: join(dir, 'rocksdb-working') });
  console.log(`flowstate runtime demo: ${clicks.length} clicks of ${USERS} users in ${inputs.length} files, out of order by up to ${MAX_JITTER_MS} ms; everything under ${dir}\n`);

  // Run 1: window operators at parallelism 3, checkpoints every 100 ms; a session task crashes after a quarter of the clicks.
  let windowed = 0;
  const hooks: RuntimeHooks = {
    onRecord(t) {
      if (t.uid !== 'sessions') return;
      windowed++;
      if (t.attempt === 0 && windowed === Math.floor(clicks.length * 0.25)) throw new Error(`simulated crash of ${t.name} (process killed)`);
    },
  };
  const run1 = await JobClient.execute(windowedJob(3, inputs, output, late), {
    stateBackend: backend(),
    checkpointStorage: checkpoints,
    checkpointing: { mode: 'EXACTLY_ONCE', intervalMs: 100, retainedCheckpoints: 2, minPauseBetweenCheckpointsMs: 20 },
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 3, delayMs: 100 },
    hooks,
    log: (l) => console.log(`  [runtime] ${l}`),
  });
  console.log('run 1: sessions and tumbling counts at parallelism 3, RocksDB backend (incremental checkpoints), aligned checkpoints every 100 ms to', join(dir, 'checkpoints'));
  while (windowed < clicks.length * 0.6) await new Promise((r) => setTimeout(r, 10));
  const sp = await run1.stopWithSavepoint(localSavepointStorage(savepointDir));
  const r1 = await run1.result;
  console.log(`run 1: ${r1.status} after ${r1.attempts} attempts (failures: ${r1.failures.map((f) => f.message).join('; ')})`);
  console.log(`run 1: savepoint ${sp.checkpointId} written to ${savepointDir} (open windows and their timers included)\n`);
  console.log(run1.formatCheckpointStats());

  // Run 2: resume from the savepoint with the window operators at parallelism 2, to the end of the input.
  const run2 = await JobClient.execute(windowedJob(2, inputs, output, late), {
    stateBackend: backend(),
    checkpointStorage: checkpoints,
    checkpointing: { mode: 'EXACTLY_ONCE', intervalMs: 100, retainedCheckpoints: 2 },
    restoreFrom: { storage: localSavepointStorage(savepointDir), pointer: '' },
    log: (l) => console.log(`  [runtime] ${l}`),
  });
  const r2 = await run2.result;
  console.log(`\nrun 2: resumed from the savepoint at parallelism 2: ${r2.status}\n`);
  console.log(run2.formatCheckpointStats());

  // Exactly once: the committed windows are the batch windows, each once, with the same value.
  const committed = await TwoPhaseCommitFileSink.readCommitted(output, 'windows');
  const missing = surplus(expected, committed);
  const extra = surplus(committed, expected);
  const exact = missing.length === 0 && extra.length === 0 && late.length === 0;
  const sessionsFired = committed.filter((l) => l.startsWith('session')).length;
  console.log(`\n${committed.length} committed windows (${sessionsFired} sessions, ${committed.length - sessionsFired} tumbling counts); batch computation: ${expected.length}`);
  for (const l of committed.filter((l) => l.startsWith('session u0 ')).slice(0, 3)) console.log(`  e.g. ${l}   (user start end clicks amount)`);
  if (missing.length > 0) console.log(`missing (${missing.length}): ${missing.slice(0, 5).join(' | ')}`);
  if (extra.length > 0) console.log(`not in the batch result or duplicated (${extra.length}): ${extra.slice(0, 5).join(' | ')}`);
  console.log(`late clicks sent to the side output: ${late.length}`);
  console.log(`every window fired exactly once with the batch value: ${exact}`);
  console.log(`\nfiles under ${dir}:\n  ${summarizeDir(dir, dir).join('\n  ')}`);
  console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (!exact) process.exit(1);
}

await main();
