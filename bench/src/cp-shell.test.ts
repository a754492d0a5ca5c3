/** The savepoint suite's `cp` baselines through one shell (cp-shell.ts): copies and failures. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CpShell } from './cp-shell.js';

test('CpShell copies (with and without sync), rejects a failed cp and a quoted path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cp-shell-'));
  const shell = new CpShell();
  try {
    const from = join(dir, 'a b.bin');
    writeFileSync(from, Buffer.from('payload'));
    await shell.cp(from, join(dir, 'c1'));
    await shell.cp(from, join(dir, 'c2'), true);
    assert.equal(readFileSync(join(dir, 'c1'), 'utf8'), 'payload');
    assert.equal(readFileSync(join(dir, 'c2'), 'utf8'), 'payload');
    await assert.rejects(shell.cp(join(dir, 'missing'), join(dir, 'c3')), /ended with status [1-9]/);
    await assert.rejects(shell.cp(join(dir, "it's"), join(dir, 'c4')), /path with a quote/);
    // The shell survives a failed command: the next copy still works.
    await shell.cp(from, join(dir, 'c5'));
    assert.equal(readFileSync(join(dir, 'c5'), 'utf8'), 'payload');
  } finally {
    shell.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CpShell: an overlapping copy rejects; after the shell dies every copy rejects instead of waiting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cp-shell-'));
  const shell = new CpShell();
  try {
    const from = join(dir, 'a.bin');
    writeFileSync(from, Buffer.from('payload'));
    const first = shell.cp(from, join(dir, 'c1'));
    await assert.rejects(shell.cp(from, join(dir, 'c2')), /already running/);
    await first;
    (shell as unknown as { sh: { kill(): void } }).sh.kill();
    await assert.rejects(shell.cp(from, join(dir, 'c3')), /sh exited|EPIPE|write after end/);
    await assert.rejects(shell.cp(from, join(dir, 'c4')), /sh exited|EPIPE|write after end/);
  } finally {
    shell.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
