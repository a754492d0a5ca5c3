import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { currentCpu, pinProcess } from './cpu-pin.js';

/** Each thread's allowed CPUs, as the kernel lists them (`Cpus_allowed_list` of /proc/self/task/<tid>/status). */
function threadCpus(): string[] {
  return readdirSync('/proc/self/task').map((tid) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1]!);
}

function cannotPin(): string | undefined {
  if (process.platform !== 'linux') return `${process.platform}: taskset is Linux only`;
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'no taskset (util-linux) on this machine';
  }
  const [main] = threadCpus();
  if (/^\d+$/.test(main!)) return `this process may run on one CPU only (${main}): pinning would change nothing to observe`;
  try {
    // Sets the main thread's CPUs to what they are: fails only where changing affinity is refused.
    execFileSync('taskset', ['-c', '-p', main!, String(process.pid)], { stdio: 'ignore' });
  } catch {
    return 'changing CPU affinity is not permitted here (sched_setaffinity refused)';
  }
  return undefined;
}

test('pins every thread of the process, and a child started through it, to the CPU the main thread is on, then gives every thread its CPUs back', { skip: cannotPin() }, () => {
  const before = threadCpus();
  const pin = pinProcess();
  assert.ok(!('skipped' in pin), 'skipped' in pin ? pin.skipped : '');
  let restored = false;
  try {
    assert.deepEqual(new Set(threadCpus()), new Set([String(pin.cpu)]));
    assert.equal(currentCpu(), pin.cpu);
    pin.restore();
    restored = true;
    assert.deepEqual(new Set(threadCpus()), new Set(before));
    // Started after the restore, so the child cannot have inherited the pin: the wrapper pins it.
    const [command, args] = pin.pinnedCommand('sh', ['-c', 'grep Cpus_allowed_list /proc/self/status']);
    assert.equal(command, 'taskset');
    assert.match(execFileSync(command, args, { encoding: 'utf8' }), new RegExp(`Cpus_allowed_list:\\s*${pin.cpu}\\n`));
  } finally {
    if (!restored) pin.restore();
  }
});
