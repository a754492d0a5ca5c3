// How the addon is found, and what a user is told when it cannot be loaded. Each case runs in a
// child process: the addon is loaded once per process.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const INDEX = fileURLToPath(new URL('../src/native.js', import.meta.url));

/** Calls rocksdbVersion() in a child with FLOWSTATE_ROCKSDB_ADDON set; returns the error it threw (or the version). */
function loadWith(addon: string): { code?: string; message?: string; version?: string } {
  const script = `
    const m = await import(${JSON.stringify(INDEX)});
    try { console.log(JSON.stringify({ version: m.rocksdbVersion() })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, FLOWSTATE_ROCKSDB_ADDON: addon },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { code?: string; message?: string; version?: string };
}

describe('native addon loading', () => {
  it('names the system package and a command that works for installed users when the addon is missing', () => {
    const missing = join(tmpdir(), 'flowstate-no-such-addon', 'flowstate_rocksdb.node');
    const r = loadWith(missing);
    assert.equal(r.code, 'ROCKSDB_NATIVE_UNAVAILABLE');
    assert.ok(r.message?.includes(`${missing}: not found`), r.message);
    assert.ok(r.message?.includes('apt-get install librocksdb-dev'), r.message);
    assert.ok(r.message?.includes('npm rebuild @flowstate/rocksdb'), r.message);
    assert.ok(!r.message?.includes('build:native'), 'the monorepo-only script must not be suggested');
  });

  it('says why a file that exists does not load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowstate-bad-addon-'));
    try {
      const bad = join(dir, 'flowstate_rocksdb.node');
      writeFileSync(bad, 'not a shared object');
      const r = loadWith(bad);
      assert.equal(r.code, 'ROCKSDB_NATIVE_UNAVAILABLE');
      assert.match(r.message ?? '', new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*(invalid ELF|file too short|not a)`), r.message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
