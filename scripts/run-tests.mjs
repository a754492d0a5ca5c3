#!/usr/bin/env node
// Runs every compiled test file (`dist/**/*.test.js`) of every workspace with node's own
// test runner. Node 20 has no glob support in `node --test`, so we collect the files here.
// Usage: node scripts/run-tests.mjs [substring filter...]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkRepository } from './check-cycles.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const roots = ['packages', 'conformance', 'test', 'bench', 'examples', 'testing'];

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js') && p.includes(`${'dist'}`)) out.push(p);
  }
  return out;
}

const files = [];
for (const r of roots) {
  const p = join(root, r);
  if (existsSync(p)) walk(p, files);
}
// The import-cycle check and its own tests (plain .mjs, not compiled) run with every test run.
for (const name of readdirSync(join(root, 'scripts'))) if (name.endsWith('.test.mjs')) files.push(join(root, 'scripts', name));
const filters = process.argv.slice(2);
const selected = files
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (selected.length === 0) {
  console.error('run-tests: no test files found (did the build run?)');
  process.exit(1);
}
const cycles = checkRepository(root);
for (const c of cycles.fileCycles) console.error(`run-tests: import cycle among files: ${c.join(' <-> ')}`);
for (const c of cycles.packageCycles) console.error(`run-tests: dependency cycle among packages: ${c.join(' <-> ')}`);
if (cycles.fileCycles.length + cycles.packageCycles.length > 0) process.exit(1);
const concurrency = process.env.FLOWSTATE_TEST_CONCURRENCY ?? '2';
// A hung test fails after this long instead of stalling CI (the slowest test takes about 3 minutes on
// a heavily loaded 2-core machine).
const timeoutMs = process.env.FLOWSTATE_TEST_TIMEOUT_MS ?? '600000';
const started = Date.now();
const res = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, '--test-reporter=spec', ...selected],
  { cwd: root, stdio: 'inherit' },
);
console.log(`run-tests: ${selected.length} test files, wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(res.status ?? 1);
