// The LMDB environment of a killed process is deleted by the next LMDB backend started in the same
// local directory (core's owner files, shared with RocksDB); live and unknown directories are kept.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { KeyGroupRange, OWNER_FILE, Serializers } from '@flowstate/core';
import { runAndKill } from '@flowstate/conformance';
import { LmdbStateBackend } from '@flowstate/lmdb';

const base = mkdtempSync(join(tmpdir(), 'flowstate-lmdb-workdirs-'));
after(() => rmSync(base, { recursive: true, force: true }));
const params = { operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 8, keyGroupRange: KeyGroupRange.of(0, 7) };

it('a killed process leaves its LMDB environment; the next backend started there deletes it', async () => {
  runAndKill(`
    const { Serializers, KeyGroupRange } = await import(${JSON.stringify(import.meta.resolve('@flowstate/core'))});
    const { LmdbStateBackend } = await import(${JSON.stringify(import.meta.resolve('@flowstate/lmdb'))});
    await new LmdbStateBackend({ localDirectory: ${JSON.stringify(base)} }).createKeyedStateBackend({
      operatorIdentifier: 'op', keySerializer: Serializers.string, maxParallelism: 8, keyGroupRange: KeyGroupRange.of(0, 7) });`);
  const abandoned = readdirSync(base);
  assert.equal(abandoned.length, 1, 'the killed process left its environment');
  assert.ok(readdirSync(join(base, abandoned[0]!)).includes(OWNER_FILE), 'owned by the killed process');
  mkdirSync(join(base, 'not-ours'));

  const live = await new LmdbStateBackend({ localDirectory: base }).createKeyedStateBackend(params);
  const left = readdirSync(base);
  assert.ok(!left.includes(abandoned[0]!), 'the abandoned environment was deleted');
  assert.equal(left.length, 2, `this process's environment and the unknown directory are kept: ${left.join(', ')}`);
  live.dispose();
  assert.deepEqual(readdirSync(base), ['not-ours']);
});
