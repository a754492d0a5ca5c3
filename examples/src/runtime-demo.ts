/**
 * The reference runtime end to end: a keyed word count on the RocksDB backend (incremental checkpoints), checkpointing to a
 * local directory. It crashes a task and recovers from the latest checkpoint, stops with a
 * savepoint, resumes from the savepoint at another parallelism, finishes, and checks that the
 * committed output of the two-phase-commit sink is exactly what a failure-free run produces.
 *
 * Usage: node examples/dist/runtime-demo.js [directory]  (or: npm run demo)
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { mulberry32 } from '@flowstate/core';
import { Serializers } from '@flowstate/core/serialization';
import { ValueStateDescriptor } from '@flowstate/core/state';
import { RocksDBStateBackend } from '@flowstate/rocksdb';
import { LocalFileSystem, localCheckpointStorage, localSavepointStorage } from '@flowstate/storage-local';
import { JobClient, StreamExecutionEnvironment, TwoPhaseCommitFileSink, type JobGraph, type RuntimeHooks } from '@flowstate/runtime';

const COUNT = new ValueStateDescriptor<number>('count', Serializers.int32, 0);
const VOCAB = 'state stream flink barrier checkpoint savepoint key group backend rocksdb heap snapshot restore offset window merge list map value union broadcast'.split(' ');

/** Deterministic input (mulberry32), one file per source partition. */
function writeInput(dir: string, files: number, lines: number): string[] {
  const rand = mulberry32(42);
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: files }, (_, f) => {
    const path = join(dir, `words-${f}.txt`);
    const text = Array.from({ length: lines }, () => Array.from({ length: 3 + Math.floor(rand() * 8) }, () => VOCAB[Math.floor(rand() * rand() * VOCAB.length)]!).join(' '));
    writeFileSync(path, text.join('\n') + '\n');
    return path;
  });
}

function wordCount(parallelism: number, inputs: readonly string[], out: LocalFileSystem): JobGraph {
  const env = new StreamExecutionEnvironment('word-count', { parallelism, maxParallelism: 128, bufferCapacity: 64 });
  env
    .fromFileLines('lines', inputs, { parallelism: 2 })
    .flatMap<string>('split', (line, col) => {
      for (const w of line.split(' ')) if (w !== '') col.collect(w);
    })
    .keyBy((w) => w, Serializers.string)
    .process<string>('count', () => ({
      async processElement(word, ctx, col) {
        // A little latency per record so that there is time to crash, checkpoint and stop mid-way.
        if (ctx.getState(COUNT).value()! % 64 === 0) await new Promise((r) => setImmediate(r));
        const s = ctx.getState(COUNT);
        const c = (s.value() ?? 0) + 1;
        s.update(c);
        col.collect(`${word} ${c}`);
      },
    }))
    .sinkTo('committed-counts', () => new TwoPhaseCommitFileSink<string>({ fs: out, directory: 'word-counts', format: (l) => l }));
  return env.getJobGraph();
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

async function main(): Promise<void> {
  const t0 = Date.now();
  const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'flowstate-runtime-demo-'));
  // The exactness check reads every committed file under the directory: it must start empty.
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    console.error(`demo directory ${dir} is not empty; give a new or empty directory (or none for a temporary one)`);
    process.exit(2);
  }
  const inputs = writeInput(join(dir, 'input'), 2, 12_000);
  const expected = new Map<string, number>();
  for (const f of inputs) for (const l of readFileSync(f, 'utf8').split('\n')) for (const w of l.split(' ')) if (w !== '') expected.set(w, (expected.get(w) ?? 0) + 1);
  const totalWords = [...expected.values()].reduce((a, b) => a + b, 0);
  const checkpoints = localCheckpointStorage(join(dir, 'checkpoints'));
  const savepointDir = join(dir, 'savepoints', 'sp-1');
  const output = new LocalFileSystem(join(dir, 'output'));
  console.log(`flowstate runtime demo: ${totalWords} words in ${inputs.length} files, everything under ${dir}\n`);

  // Run 1: parallelism 3, checkpoints every 100 ms, a count task crashes after a quarter of the words.
  let counted = 0;
  const hooks: RuntimeHooks = {
    onRecord(t, n) {
      if (t.uid !== 'count') return;
      counted++;
      if (t.attempt === 0 && counted === Math.floor(totalWords * 0.25)) throw new Error(`simulated crash of ${t.name} at its record ${n} (process killed)`);
    },
  };
  const run1 = await JobClient.execute(wordCount(3, inputs, output), {
    stateBackend: new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: join(dir, 'rocksdb-working') }),
    checkpointStorage: checkpoints,
    checkpointing: { mode: 'EXACTLY_ONCE', intervalMs: 100, retainedCheckpoints: 2, minPauseBetweenCheckpointsMs: 20 },
    restartStrategy: { kind: 'fixed-delay', maxAttempts: 3, delayMs: 100 },
    hooks,
    log: (l) => console.log(`  [runtime] ${l}`),
  });
  console.log('run 1: parallelism 3 (count and sink), RocksDB backend (incremental checkpoints), aligned checkpoints every 100 ms to', join(dir, 'checkpoints'));
  while (counted < totalWords * 0.6) await new Promise((r) => setTimeout(r, 20));
  const sp = await run1.stopWithSavepoint(localSavepointStorage(savepointDir));
  const r1 = await run1.result;
  console.log(`run 1: ${r1.status} after ${r1.attempts} attempts (failures: ${r1.failures.map((f) => f.message).join('; ')})`);
  console.log(`run 1: savepoint ${sp.checkpointId} written to ${savepointDir}\n`);
  console.log(run1.formatCheckpointStats());

  // Run 2: resume from the savepoint with count and sink at parallelism 2, to the end of the input.
  const run2 = await JobClient.execute(wordCount(2, inputs, output), {
    stateBackend: new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: join(dir, 'rocksdb-working') }),
    checkpointStorage: checkpoints,
    checkpointing: { mode: 'EXACTLY_ONCE', intervalMs: 100, retainedCheckpoints: 2 },
    restoreFrom: { storage: localSavepointStorage(savepointDir), pointer: '' },
    log: (l) => console.log(`  [runtime] ${l}`),
  });
  const r2 = await run2.result;
  console.log(`\nrun 2: resumed from the savepoint at parallelism 2: ${r2.status}\n`);
  console.log(run2.formatCheckpointStats());

  // Exactly once: for every word the committed counts are 1..n, each exactly once.
  const committed = await TwoPhaseCommitFileSink.readCommitted(output, 'word-counts');
  const seen = new Map<string, number[]>();
  for (const line of committed) {
    const [w, c] = line.split(' ');
    const arr = seen.get(w!) ?? [];
    arr.push(Number(c));
    seen.set(w!, arr);
  }
  let exact = committed.length === totalWords && seen.size === expected.size;
  for (const [w, n] of expected) {
    const got = (seen.get(w) ?? []).sort((a, b) => a - b);
    if (got.length !== n || got.some((c, i) => c !== i + 1)) exact = false;
  }
  const top = [...expected].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 8);
  console.log('\nword         final count  expected');
  for (const [w, n] of top) console.log(`${w.padEnd(12)} ${String(Math.max(...(seen.get(w) ?? [0]))).padStart(11)}  ${String(n).padStart(8)}`);
  console.log(`\n${committed.length} committed records for ${totalWords} words; every count committed exactly once: ${exact}`);
  console.log(`\nfiles under ${dir}:\n  ${summarizeDir(dir, dir).join('\n  ')}`);
  console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (!exact) process.exit(1);
}

await main();
