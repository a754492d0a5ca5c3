import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';

/**
 * Runs `script` (an ES module body; top-level await allowed) in a child Node process that then
 * kills itself with SIGKILL: no dispose(), no exit handlers. For tests of what a killed process
 * leaves behind, such as backends' local working directories.
 */
export function runAndKill(script: string): void {
  const body = `${script}\nprocess.kill(process.pid, 'SIGKILL');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8' });
  assert.equal(r.signal, 'SIGKILL', `the child was to be killed: ${r.stderr}`);
}
