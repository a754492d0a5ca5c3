#!/usr/bin/env node
/**
 * Median of several bench runs into one results.json + report.md (see median-results.ts for the rule).
 *   node bench/dist/median.js --out DIR RUN1/results.json RUN2/results.json RUN3/results.json
 */
import { parseArgs } from 'node:util';
import { writeResults } from './harness.js';
import { loadRun, medianResults } from './median-results.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
});
if (values.help || values.out === undefined || positionals.length === 0) {
  console.log('usage: node bench/dist/median.js --out DIR RUN1/results.json RUN2/results.json ...');
  process.exit(values.help ? 0 : 2);
}
let m;
try {
  m = medianResults(positionals.map(loadRun));
} catch (e) {
  console.error(`median: ${(e as Error).message}`);
  process.exit(1);
}
writeResults(values.out, m);
console.log(`median of ${positionals.length} runs (wall times ${m.medianOf!.runs.map((r) => `${(r.wallTimeMs / 1000).toFixed(1)} s`).join(', ')}): ${values.out}/report.md`);
