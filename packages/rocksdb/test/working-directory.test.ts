// Working directories of killed RocksDB backends are deleted by the next backend started in the
// same local directory; those of live processes, of other hosts and unknown directories are not.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KeyGroupRange, OWNER_FILE, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { runAndKill } from '@flowstate/conformance';
import { RocksDBStateBackend, type RocksDBKeyedStateBackend } from '../src/index.js';
import { RocksDB } from '../src/native.js';

const INDEX = fileURLToPath(new URL('../src/index.js', import.meta.url));
const CORE = import.meta.resolve('@flowstate/core');

/** A child process that opens a backend under `base`, writes, and is killed (SIGKILL) without dispose(). */
function startAndKill(base: string): void {
  runAndKill(`
    const { KeyGroupRange, Serializers, ValueStateDescriptor, VoidNamespace } = await import(${JSON.stringify(CORE)});
    const { RocksDBStateBackend } = await import(${JSON.stringify(INDEX)});
    const b = await new RocksDBStateBackend({ localDirectory: ${JSON.stringify(base)} }).createKeyedStateBackend({
      operatorIdentifier: 'killed', keySerializer: Serializers.string, maxParallelism: 8, keyGroupRange: new KeyGroupRange(0, 7) });
    const s = b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('v', Serializers.int32, 0));
    b.setCurrentKey('k'); s.update(1);`);
}

async function openBackend(base: string, name: string) {
  const b = await new RocksDBStateBackend({ localDirectory: base }).createKeyedStateBackend({
    operatorIdentifier: name, keySerializer: Serializers.string, maxParallelism: 8, keyGroupRange: new KeyGroupRange(0, 7),
  });
  b.getPartitionedState(VoidNamespace, Serializers.voidNamespace, new ValueStateDescriptor('v', Serializers.int32, 0));
  return b;
}

describe('RocksDB working directories', () => {
  const base = mkdtempSync(join(tmpdir(), 'flowstate-rocks-workdirs-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  it('deletes what killed processes left, keeps live, foreign and unknown directories', async () => {
    startAndKill(base);
    const killed = readdirSync(base).filter((n) => n.startsWith('killed-'));
    assert.equal(killed.length, 1, 'the killed process left its working directory');
    assert.ok(existsSync(join(base, killed[0]!, 'db')));

    const live = await openBackend(base, 'live'); // this process: alive
    const foreign = join(base, 'other-host');
    mkdirSync(foreign);
    writeFileSync(join(foreign, OWNER_FILE), JSON.stringify({ pid: 1 << 30, host: `not-${hostname()}` }));
    const unknown = join(base, 'not-ours');
    mkdirSync(unknown);
    assert.ok(!existsSync(join(base, killed[0]!)), 'the next backend started there deleted the abandoned directory');

    const next = await openBackend(base, 'next');
    const names = readdirSync(base).sort();
    assert.deepEqual(names.filter((n) => !n.startsWith('live-') && !n.startsWith('next-')), ['not-ours', 'other-host']);
    assert.equal(names.filter((n) => n.startsWith('live-') || n.startsWith('next-')).length, 2);
    live.dispose();
    next.dispose();
    assert.deepEqual(readdirSync(base).sort(), ['not-ours', 'other-host']);
  });

  it('removeWorkingDirectoryOnDispose false: dispose() closes the database and leaves the directory to its owner', async () => {
    const own = mkdtempSync(join(tmpdir(), 'flowstate-rocks-keep-'));
    try {
      const b = await new RocksDBStateBackend({ localDirectory: own, removeWorkingDirectoryOnDispose: false }).createKeyedStateBackend({
        operatorIdentifier: 'kept', keySerializer: Serializers.string, maxParallelism: 8, keyGroupRange: new KeyGroupRange(0, 7),
      });
      const dir = (b as RocksDBKeyedStateBackend<string>).instanceDir;
      b.dispose();
      assert.ok(existsSync(join(dir, 'db')), 'left for the owner of localDirectory');
      // Closed: the database opens again (RocksDB's lock file is released).
      RocksDB.open(join(dir, 'db'), { createIfMissing: false }).close();
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});
