import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CHECKPOINT,
  collectStreamHandles,
  CompletedCheckpointStore,
  deserializeCheckpointMetadata,
  KeyGroupRange,
  ListStateDescriptor,
  MapStateDescriptor,
  mulberry32,
  SAVEPOINT,
  serializeCheckpointMetadata,
  Serializers,
  VoidNamespace,
  type CheckpointStorage,
  type KeyedStateBackend,
  type KeyedStateHandle,
  type StateBackend,
} from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { INLINE_FILE_MAX_BYTES, isIncrementalRocksDBStateHandle, RocksDBStateBackend, type IncrementalRocksDBStateHandle } from '@flowstate/rocksdb';
import { localCheckpointStorage } from '@flowstate/storage-local';
import { COUNT, tempDirs } from './temp-dirs.js';

const tempDir = tempDirs();

const EVENTS = new ListStateDescriptor<string>('events', Serializers.string);
const ATTRS = new MapStateDescriptor<string, number>('attrs', Serializers.string, Serializers.int32);
const RANGE = new KeyGroupRange(0, 127);

interface Model {
  count: Map<string, number>;
  events: Map<string, string[]>;
  attrs: Map<string, Map<string, number>>;
}

function clone(m: Model): Model {
  return {
    count: new Map(m.count),
    events: new Map([...m.events].map(([k, v]) => [k, [...v]])),
    attrs: new Map([...m.attrs].map(([k, v]) => [k, new Map(v)])),
  };
}

/** Deterministic PRNG (mulberry32). */
const prng = mulberry32;

async function create(backend: StateBackend, storage: CheckpointStorage | undefined, restore: KeyedStateHandle[], localDirectory?: string): Promise<KeyedStateBackend<string>> {
  return backend.createKeyedStateBackend({
    operatorIdentifier: 'op',
    keySerializer: Serializers.string,
    maxParallelism: 128,
    keyGroupRange: RANGE,
    restoreState: restore,
    ...(storage ? { stateHandleReader: storage } : {}),
    ...(localDirectory ? { localDirectory } : {}),
  });
}

function states(kb: KeyedStateBackend<string>) {
  return {
    count: kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, COUNT),
    events: kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, EVENTS),
    attrs: kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, ATTRS),
  };
}

function mutate(kb: KeyedStateBackend<string>, model: Model, rand: () => number, round: number): void {
  const s = states(kb);
  for (let i = 0; i < 400; i++) {
    const key = `k${Math.floor(rand() * 600)}`;
    kb.setCurrentKey(key);
    const op = rand();
    if (op < 0.5) {
      const v = (model.count.get(key) ?? 0) + 1;
      s.count.update(v);
      model.count.set(key, v);
      s.events.add(`r${round}-${i}`);
      model.events.set(key, [...(model.events.get(key) ?? []), `r${round}-${i}`]);
    } else if (op < 0.7) {
      s.count.clear();
      model.count.delete(key);
      s.events.clear();
      model.events.delete(key);
    } else if (op < 0.9) {
      const a = `a${Math.floor(rand() * 5)}`;
      s.attrs.put(a, round);
      const m = model.attrs.get(key) ?? new Map<string, number>();
      m.set(a, round);
      model.attrs.set(key, m);
    } else {
      const a = `a${Math.floor(rand() * 5)}`;
      s.attrs.remove(a);
      const m = model.attrs.get(key);
      m?.delete(a);
      if (m?.size === 0) model.attrs.delete(key);
    }
  }
}

function assertMatches(kb: KeyedStateBackend<string>, model: Model, label: string): void {
  const s = states(kb);
  const keys = new Set([...kb.getKeys('count', VoidNamespace), ...kb.getKeys('events', VoidNamespace), ...kb.getKeys('attrs', VoidNamespace)]);
  const expectedKeys = new Set([...model.count.keys(), ...model.events.keys(), ...model.attrs.keys()]);
  assert.deepEqual([...keys].sort(), [...expectedKeys].sort(), `${label}: key set`);
  for (const k of expectedKeys) {
    kb.setCurrentKey(k);
    assert.equal(s.count.value(), model.count.get(k) ?? 0, `${label}: count of ${k}`);
    assert.deepEqual(s.events.get(), model.events.get(k) ?? [], `${label}: events of ${k}`);
    assert.deepEqual(new Map(s.attrs.entries()), model.attrs.get(k) ?? new Map(), `${label}: attrs of ${k}`);
  }
}

describe('RocksDB incremental checkpoints', () => {
  it('a chain of 6 incremental checkpoints with updates and deletes restores exactly at each point, and reuses SSTs', async () => {
    const storage = localCheckpointStorage(tempDir('chain'));
    const backend = new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: tempDir('local') });
    const kb = await create(backend, undefined, []);
    const rand = prng(0x1ac4);
    const model: Model = { count: new Map(), events: new Map(), attrs: new Map() };
    const snapshots: Array<{ handle: IncrementalRocksDBStateHandle; model: Model }> = [];
    let reusedTotal = 0;
    for (let id = 1; id <= 6; id++) {
      mutate(kb, model, rand, id);
      const loc = await storage.initializeLocationForCheckpoint(id);
      const fut = kb.snapshot(id, id, loc.streamFactory, CHECKPOINT);
      const res = await fut.result;
      const h = res.jobManagerOwnedSnapshot!;
      assert.ok(isIncrementalRocksDBStateHandle(h));
      if (id > 1) {
        // Every SST the previous (confirmed) checkpoint uploaded and that is still live is
        // referenced, not uploaded again; compactions may replace all of them, so count reuse.
        const prev = new Map(snapshots[id - 2]!.handle.sharedFiles.map((f) => [f.contentId, f.handle]));
        for (const f of h.sharedFiles) {
          const before = prev.get(f.contentId);
          if (before !== undefined) {
            assert.deepEqual(f.handle, before, `checkpoint ${id} re-uploaded ${f.name}`);
            reusedTotal++;
          }
        }
        if (h.sharedFiles.some((f) => prev.has(f.contentId))) assert.ok(res.checkpointedSize < res.fullSize, `checkpoint ${id} uploads less than its full size`);
      }
      await loc.finalizeCheckpoint(serializeCheckpointMetadata({ checkpointId: id, kind: 'CHECKPOINT', timestamp: id, operators: [] }));
      kb.notifyCheckpointComplete(id);
      snapshots.push({ handle: h, model: clone(model) });
    }
    assert.ok(reusedTotal > 0, 'the chain reused SSTs');
    kb.dispose();
    for (const [i, s] of snapshots.entries()) {
      const restored = await create(new RocksDBStateBackend({ localDirectory: tempDir('restore') }), storage, [s.handle]);
      assertMatches(restored, s.model, `checkpoint ${i + 1}`);
      restored.dispose();
    }
  });

  it('the meta file and the small private files (CURRENT, MANIFEST, OPTIONS) are inline: the checkpoint writes only its new SSTs, hard-linked on local storage, and restores from its decoded metadata', async () => {
    const storageRoot = tempDir('inline');
    const storage = localCheckpointStorage(storageRoot);
    const kb = await create(new RocksDBStateBackend({ localDirectory: tempDir('local') }), undefined, []);
    const rand = prng(0x51);
    const model: Model = { count: new Map(), events: new Map(), attrs: new Map() };
    for (let id = 1; id <= 2; id++) {
      mutate(kb, model, rand, id);
      const before = new Set((await storage.fs.list('')).map((f) => f.path));
      const loc = await storage.initializeLocationForCheckpoint(id);
      const res = await kb.snapshot(id, id, loc.streamFactory, CHECKPOINT).result;
      const h = res.jobManagerOwnedSnapshot!;
      assert.ok(isIncrementalRocksDBStateHandle(h));
      assert.equal(h.meta.type, 'bytes', 'meta inline');
      assert.deepEqual(h.privateFiles.map((f) => f.name.replace(/-\d+$/, '')).sort(), ['CURRENT', 'MANIFEST', 'OPTIONS']);
      for (const f of h.privateFiles) assert.ok(f.handle.type === 'bytes' && f.handle.size <= INLINE_FILE_MAX_BYTES, `${f.name} inline`);
      // What this checkpoint wrote to storage: the SSTs it uploaded, nothing else.
      const uploaded = h.sharedFiles.filter((f) => f.reused !== true).map((f) => (f.handle.type === 'file' ? f.handle.path : 'inline'));
      const written = (await storage.fs.list('')).map((f) => f.path).filter((p) => !before.has(p));
      assert.ok(uploaded.length >= 1, `checkpoint ${id} uploaded an SST`);
      assert.deepEqual(written.sort(), uploaded.sort(), `checkpoint ${id} wrote only its new SSTs`);
      // On the same local disk they are hard links to RocksDB's own (immutable) SSTs, not copies.
      for (const p of uploaded) assert.ok(statSync(join(storageRoot, ...p.split('/'))).nlink >= 2, `${p} is a hard link`);
      const metadata = { checkpointId: id, kind: 'CHECKPOINT' as const, timestamp: id, operators: [{ uid: 'op', parallelism: 1, maxParallelism: 128, subtasks: [{ subtaskIndex: 0, keyed: [h], operator: [] }] }] };
      await loc.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
      kb.notifyCheckpointComplete(id);
      // What a restore gets: the handle decoded from the metadata on storage, inline bytes included.
      const decoded = deserializeCheckpointMetadata((await storage.resolveCheckpoint(`chk-${id}`)).metadata, 'test').operators[0]!.subtasks[0]!.keyed[0]!;
      const restored = await create(new RocksDBStateBackend({ localDirectory: tempDir('restore') }), storage, [decoded]);
      assertMatches(restored, model, `checkpoint ${id}`);
      restored.dispose();
    }
    kb.dispose();
  });

  it('subsumed checkpoints delete exactly the files no retained checkpoint references', async () => {
    const storage = localCheckpointStorage(tempDir('subsume'));
    const store = new CompletedCheckpointStore(storage, 2);
    const kb = await create(new RocksDBStateBackend({ localDirectory: tempDir('local') }), undefined, []);
    const rand = prng(7);
    const model: Model = { count: new Map(), events: new Map(), attrs: new Map() };
    for (let id = 1; id <= 6; id++) {
      mutate(kb, model, rand, id);
      const loc = await storage.initializeLocationForCheckpoint(id);
      const res = await kb.snapshot(id, id, loc.streamFactory, CHECKPOINT).result;
      const metadata = {
        checkpointId: id,
        kind: 'CHECKPOINT' as const,
        timestamp: id,
        operators: [{ uid: 'op', parallelism: 1, maxParallelism: 128, subtasks: [{ subtaskIndex: 0, keyed: [res.jobManagerOwnedSnapshot!], operator: [] }] }],
      };
      await loc.finalizeCheckpoint(serializeCheckpointMetadata(metadata));
      await store.add({ checkpointId: id, pointer: `chk-${id}`, metadata });
      kb.notifyCheckpointComplete(id);
      await store.registry.drain();
      const referenced = new Set<string>();
      for (const c of store.all()) {
        referenced.add(`${c.pointer}/_metadata`);
        for (const h of collectStreamHandles(c.metadata)) if (h.type === 'file') referenced.add(h.path);
      }
      const present = new Set((await storage.fs.list('')).map((f) => f.path));
      assert.deepEqual([...present].sort(), [...referenced].sort(), `after checkpoint ${id}, storage holds exactly the retained checkpoints' files`);
    }
    const latest = store.latest()!;
    kb.dispose();
    const restored = await create(new RocksDBStateBackend({ localDirectory: tempDir('restore') }), storage, [...latest.metadata.operators[0]!.subtasks[0]!.keyed]);
    assertMatches(restored, model, 'latest retained checkpoint');
    restored.dispose();
  });

  it("uploaded files are real RocksDB: RocksDB's own ldb scans the restored directory and finds the keys", async (t) => {
    const probe = spawnSync('ldb', ['--help'], { encoding: 'utf8' });
    if (probe.error !== undefined) {
      if (process.env['CI'] === 'true') assert.fail('ldb (Debian package rocksdb-tools) must be installed in CI');
      t.skip('ldb (Debian package rocksdb-tools) is not installed');
      return;
    }
    const storage = localCheckpointStorage(tempDir('ldb'));
    const kb = await create(new RocksDBStateBackend({ localDirectory: tempDir('local') }), undefined, []);
    const s = states(kb);
    for (const k of ['alpha', 'beta', 'gamma']) {
      kb.setCurrentKey(k);
      s.count.update(k.length);
    }
    const loc = await storage.initializeLocationForCheckpoint(1);
    const h = (await kb.snapshot(1, 1, loc.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    kb.dispose();
    // Materialize the uploaded files (checksums verified) as a plain RocksDB directory.
    const dbDir = join(tempDir('ldb-db'), 'db');
    mkdirSync(dbDir);
    for (const f of [...h.sharedFiles, ...h.privateFiles]) writeFileSync(join(dbDir, f.name), await storage.readFully(f.handle));
    const r = spawnSync('ldb', [`--db=${dbDir}`, '--column_family=state:count', '--hex', 'scan'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const k of ['alpha', 'beta', 'gamma']) {
      const hex = Buffer.from(k).toString('hex').toUpperCase();
      const value = Buffer.alloc(4);
      value.writeInt32BE(k.length);
      assert.match(r.stdout.toUpperCase(), new RegExp(`${hex}.*0X${value.toString('hex').toUpperCase()}`), `ldb output contains ${k} -> ${k.length}`);
    }
  });

  it('canonical round trip: heap -> canonical -> RocksDB -> canonical -> heap is identical entry by entry', async () => {
    const storage = localCheckpointStorage(tempDir('canonical'));
    const rand = prng(99);
    const model: Model = { count: new Map(), events: new Map(), attrs: new Map() };
    const heap = await create(new FsStateBackend(), undefined, []);
    mutate(heap, model, rand, 1);
    mutate(heap, model, rand, 2);
    const l1 = await storage.initializeLocationForCheckpoint(1);
    const sp1 = (await heap.snapshot(1, 1, l1.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot!;
    heap.dispose();
    const rocks = await create(new RocksDBStateBackend({ localDirectory: tempDir('local') }), storage, [sp1]);
    assertMatches(rocks, model, 'heap savepoint restored into RocksDB');
    const l2 = await storage.initializeLocationForCheckpoint(2);
    const sp2 = (await rocks.snapshot(2, 2, l2.streamFactory, SAVEPOINT).result).jobManagerOwnedSnapshot!;
    assert.equal(sp2.type, 'key-groups', 'a RocksDB savepoint is canonical');
    rocks.dispose();
    const heap2 = await create(new FsStateBackend(), storage, [sp2]);
    assertMatches(heap2, model, 'RocksDB savepoint restored into the heap backend');
    heap2.dispose();
  });
});

describe('RocksDB native savepoints', () => {
  it('a NATIVE savepoint never references checkpoint files, and is never a source of reuse', async () => {
    const storage = localCheckpointStorage(tempDir('native-sp'));
    const kb = await create(new RocksDBStateBackend({ localDirectory: tempDir('local') }), undefined, []);
    const model: Model = { count: new Map(), events: new Map(), attrs: new Map() };
    mutate(kb, model, prng(3), 1);
    const l1 = await storage.initializeLocationForCheckpoint(1);
    const c1 = (await kb.snapshot(1, 1, l1.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    kb.notifyCheckpointComplete(1);
    const l2 = await storage.initializeLocationForCheckpoint(2);
    const sp = await kb.snapshot(2, 2, l2.streamFactory, { checkpointType: 'SAVEPOINT', formatType: 'NATIVE' }).result;
    const h = sp.jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    assert.ok(isIncrementalRocksDBStateHandle(h));
    assert.equal(sp.checkpointedSize, sp.fullSize, 'a savepoint uploads everything');
    const checkpointFiles = new Set(c1.sharedFiles.map((f) => (f.handle.type === 'file' ? f.handle.path : '')));
    for (const f of h.sharedFiles) {
      assert.equal(f.handle.type, 'file');
      if (f.handle.type === 'file') {
        assert.ok(!checkpointFiles.has(f.handle.path), `savepoint references checkpoint file ${f.handle.path}`);
        assert.ok(f.handle.path.startsWith('chk-2/'), `savepoint files are its own: ${f.handle.path}`);
      }
    }
    kb.notifyCheckpointComplete(2);
    // The next checkpoint still reuses checkpoint 1's files, not the savepoint's.
    const l3 = await storage.initializeLocationForCheckpoint(3);
    const c3 = (await kb.snapshot(3, 3, l3.streamFactory, CHECKPOINT).result).jobManagerOwnedSnapshot as IncrementalRocksDBStateHandle;
    const savepointFiles = new Set(h.sharedFiles.map((f) => (f.handle.type === 'file' ? f.handle.path : '')));
    assert.ok(c3.sharedFiles.every((f) => f.handle.type === 'file' && !savepointFiles.has(f.handle.path)));
    kb.dispose();
    const restored = await create(new RocksDBStateBackend({ localDirectory: tempDir('restore') }), storage, [h]);
    assertMatches(restored, model, 'native savepoint');
    restored.dispose();
  });
});
