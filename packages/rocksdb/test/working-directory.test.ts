// Working directories of killed RocksDB backends are deleted by the next backend started in the
// same local directory; those of live processes, of other hosts and unknown directories are not.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KeyGroupRange, OWNER_FILE, Serializers, ValueStateDescriptor, VoidNamespace } from '@flowstate/core';
import { runAndKill } from '@flowstate/conformance';
import { RocksDBOptionsError, RocksDBStateBackend, type RocksDBKeyedStateBackend } from '../src/index.js';
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

describe('RocksDB local directories', () => {
  const root = mkdtempSync(join(tmpdir(), 'flowstate-rocks-localdirs-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const disks = ['disk-0', 'disk-1', 'disk-2'].map((d) => join(root, d));

  async function workingDirectory(backend: RocksDBStateBackend, name: string, localDirectory?: string): Promise<RocksDBKeyedStateBackend<string>> {
    return (await backend.createKeyedStateBackend({
      operatorIdentifier: name, keySerializer: Serializers.string, maxParallelism: 8, keyGroupRange: new KeyGroupRange(0, 7), localDirectory,
    })) as RocksDBKeyedStateBackend<string>;
  }

  it('localDirectories: each keyed backend takes the next directory, round-robin from the chosen first one', async () => {
    const counts: number[] = [];
    const backend = new RocksDBStateBackend({ localDirectories: disks }, (count) => {
      counts.push(count);
      return 1;
    });
    const keyed: RocksDBKeyedStateBackend<string>[] = [];
    for (let i = 0; i < 4; i++) keyed.push(await workingDirectory(backend, `op${i}`));
    assert.deepEqual(counts, [3], 'the first directory is chosen once per StateBackend object, among all three');
    assert.deepEqual(keyed.map((k) => dirname(k.instanceDir)), [disks[1], disks[2], disks[0], disks[1]]);
    // On disk: disk-0 holds op2's working directory, disk-1 op0's and op3's, disk-2 op1's.
    const onDisk = disks.map((d) => readdirSync(d).filter((n) => n.startsWith('op')).sort());
    assert.deepEqual(onDisk, [[2], [0, 3], [1]].map((ops) => ops.map((i) => basename(keyed[i]!.instanceDir)).sort()));
    keyed.forEach((k) => k.dispose());
  });

  it("a create call's own localDirectory (savepoint conversion's scratch instances) wins and takes no turn", async () => {
    const backend = new RocksDBStateBackend({ localDirectories: disks }, () => 2);
    const scratch = join(root, 'scratch');
    const own = await workingDirectory(backend, 'scratch', scratch);
    const next = await workingDirectory(backend, 'next');
    assert.equal(dirname(own.instanceDir), scratch);
    assert.equal(dirname(next.instanceDir), disks[2]);
    own.dispose();
    next.dispose();
  });

  it('localDirectory alone: every keyed backend works under it, and no first directory is chosen', async () => {
    const backend = new RocksDBStateBackend({ localDirectory: disks[0] }, () => assert.fail('no list to choose from'));
    const a = await workingDirectory(backend, 'a');
    const b = await workingDirectory(backend, 'b');
    assert.deepEqual([dirname(a.instanceDir), dirname(b.instanceDir)], [disks[0], disks[0]]);
    a.dispose();
    b.dispose();
  });

  it('refuses localDirectory with localDirectories, an empty list and a first index outside the list', () => {
    const refused = (detail: RegExp) => (e: unknown) => e instanceof RocksDBOptionsError && e.code === 'ROCKSDB_INVALID_OPTIONS' && detail.test(e.message);
    assert.throws(() => new RocksDBStateBackend({ localDirectory: disks[0], localDirectories: disks }), refused(/mutually exclusive/));
    assert.throws(() => new RocksDBStateBackend({ localDirectories: [] }), refused(/empty/));
    assert.throws(() => new RocksDBStateBackend({ localDirectories: disks }, () => 3), refused(/index 3 is not from 0 to 2/));
  });
});
