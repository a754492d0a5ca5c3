#!/usr/bin/env node
/**
 * flowstate benchmark harness.
 *   node bench/dist/main.js [--preset quick|full|smoke] [--out DIR] [--suites access,snapshot,memory] [--backends memory,fs] [--runs N]
 * With --runs N (N > 1) every run writes into DIR/run-<i> and DIR gets their median (median-results.ts).
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PRESETS, type PresetName } from './config.js';
import { join } from 'node:path';
import { runHarness, SUITES, writeResults, type SuiteName } from './harness.js';
import { loadRun, medianResults } from './median-results.js';
import { accessSummaryTable } from './report.js';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'quick' },
    out: { type: 'string', default: fileURLToPath(new URL('../results', import.meta.url)) },
    suites: { type: 'string' },
    backends: { type: 'string' },
    runs: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node bench/dist/main.js [--preset quick|full|smoke] [--out DIR] [--suites access,snapshot,memory] [--backends memory,fs] [--runs N]');
  process.exit(0);
}
const preset = values.preset as PresetName;
if (!(preset in PRESETS)) {
  console.error(`unknown preset '${preset}' (quick, full, smoke)`);
  process.exit(2);
}
const suites = values.suites?.split(',').map((s) => s.trim()) as SuiteName[] | undefined;
for (const s of suites ?? []) if (!SUITES.includes(s)) { console.error(`unknown suite '${s}'`); process.exit(2); }
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 99) {
  console.error(`--runs must be an integer from 1 to 99, got '${values.runs}'`);
  process.exit(2);
}
const harness = (outDir: string) =>
  runHarness({
    preset,
    outDir,
    ...(suites ? { suites } : {}),
    ...(values.backends ? { backends: values.backends.split(',').map((s) => s.trim()) } : {}),
  });
let r = runs === 1 ? await harness(values.out) : undefined;
if (r === undefined) {
  const dirs = Array.from({ length: runs }, (_, i) => join(values.out, `run-${i + 1}`));
  for (const [i, dir] of dirs.entries()) {
    console.log(`\n## run ${i + 1} of ${runs} -> ${dir}`);
    await harness(dir);
  }
  r = medianResults(dirs.map((d) => loadRun(join(d, 'results.json'))));
  writeResults(values.out, r);
  console.log(`\nmedian of ${runs} runs (wall times ${r.medianOf!.runs.map((x) => `${(x.wallTimeMs / 1000).toFixed(1)} s`).join(', ')})`);
}
console.log('');
if (r.access.length > 0) console.log(accessSummaryTable(r));
console.log(`\nwall time ${(r.wallTimeMs / 1000).toFixed(1)} s${runs > 1 ? ' (median)' : ''}; report: ${values.out}/report.md`);
