#!/usr/bin/env node
/**
 * flowstate benchmark harness.
 *   node bench/dist/main.js [--preset quick|full|smoke] [--out DIR] [--suites access,snapshot,memory] [--backends memory,fs]
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PRESETS, type PresetName } from './config.js';
import { runHarness, SUITES, type SuiteName } from './harness.js';
import { accessSummaryTable } from './report.js';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'quick' },
    out: { type: 'string', default: fileURLToPath(new URL('../results', import.meta.url)) },
    suites: { type: 'string' },
    backends: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: node bench/dist/main.js [--preset quick|full|smoke] [--out DIR] [--suites access,snapshot,memory] [--backends memory,fs]');
  process.exit(0);
}
const preset = values.preset as PresetName;
if (!(preset in PRESETS)) {
  console.error(`unknown preset '${preset}' (quick, full, smoke)`);
  process.exit(2);
}
const suites = values.suites?.split(',').map((s) => s.trim()) as SuiteName[] | undefined;
for (const s of suites ?? []) if (!SUITES.includes(s)) { console.error(`unknown suite '${s}'`); process.exit(2); }
const r = await runHarness({
  preset,
  outDir: values.out,
  ...(suites ? { suites } : {}),
  ...(values.backends ? { backends: values.backends.split(',').map((s) => s.trim()) } : {}),
});
console.log('');
if (r.access.length > 0) console.log(accessSummaryTable(r));
console.log(`\nwall time ${(r.wallTimeMs / 1000).toFixed(1)} s; report: ${values.out}/report.md`);
