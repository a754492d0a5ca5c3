import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { currentCpu, pinMainThread } from './cpu-pin.js';

/** The CPUs the main thread (or the calling process's /proc/self) may run on, as the kernel lists them. */
const allowed = (status = `/proc/self/task/${process.pid}/status`) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(status, 'utf8'))![1]!;

function tasksetMissing(): string | undefined {
  if (process.platform !== 'linux') return `${process.platform}: taskset is Linux only`;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'no taskset (util-linux) on this machine';
  }
}

test('pins the main thread and a child started through it to the CPU it is on, then gives the main thread its CPUs back', { skip: tasksetMissing() }, () => {
  const before = allowed();
  const pin = pinMainThread();
  assert.ok(!('skipped' in pin), 'skipped' in pin ? pin.skipped : '');
  try {
    assert.equal(allowed(), String(pin.cpu));
    assert.equal(currentCpu(), pin.cpu);
    const [command, args] = pin.pinnedCommand('sh', ['-c', 'grep Cpus_allowed_list /proc/self/status']);
    const child = execFileSync(command, args, { encoding: 'utf8' });
    assert.match(child, new RegExp(`Cpus_allowed_list:\\s*${pin.cpu}\\n`));
  } finally {
    pin.restore();
  }
  assert.equal(allowed(), before);
});
