/** Per-job times: the children's CPU time is counted, and suites sum their jobs; no assertion on how long anything took. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { suiteTimes, timeJob, type JobTime } from './job-times.js';
import { timeSection } from './report.js';

test('timeJob counts the CPU time of the child process it waited for', { skip: process.platform !== 'linux' && 'reads /proc/self/stat' }, () => {
  const jobs: JobTime[] = [];
  // A child that only burns CPU (0.3 s of it): its user time must show up in the parent's waited-children time.
  const r = timeJob('access', 'busy child', () => spawnSync(process.execPath, ['-e', 'const t = process.cpuUsage(); while ((process.cpuUsage(t).user) < 300_000) {}']), jobs);
  assert.equal(r.status, 0);
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0]!.suite, 'access');
  assert.ok(jobs[0]!.cpuMs !== null && jobs[0]!.cpuMs > 0, `cpuMs ${jobs[0]!.cpuMs}`);
});

test('suiteTimes sums jobs per suite in run order; an unknown CPU time makes the sum unknown', () => {
  const jobs: JobTime[] = [
    { suite: 'access', job: 'a', wallMs: 1000, cpuMs: 500 },
    { suite: 'snapshot', job: 'b', wallMs: 3000, cpuMs: null },
    { suite: 'access', job: 'c', wallMs: 2000, cpuMs: 700 },
  ];
  assert.deepEqual(suiteTimes(jobs), [
    { suite: 'access', jobs: 2, wallMs: 3000, cpuMs: 1200 },
    { suite: 'snapshot', jobs: 1, wallMs: 3000, cpuMs: null },
  ]);
  const md = timeSection(jobs).join('\n');
  assert.match(md, /\| access \| 2 \| 3\.0 \| 1\.2 \| 0\.40 \|/);
  assert.match(md, /\| snapshot \| 1 \| 3\.0 \| n\/a \| n\/a \|/);
  assert.deepEqual(timeSection([]), [], 'no section for results without job times');
});
