import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CorruptCheckpointError, deserializeCheckpointMetadata, KeyGroupRange, Serializers, ValueStateDescriptor, VoidNamespace, type KeyedStateBackend, type KeyedStateBackendParameters, type NativeSnapshotFormat, type StateBackend, type StateHandleReader } from '@flowstate/core';
import { FsStateBackend } from '@flowstate/heap';
import { isIncrementalRocksDBStateHandle, ROCKSDB_NATIVE_FORMAT, RocksDBStateBackend } from '@flowstate/rocksdb';
import { convertSavepoint, diffSavepoints, SavepointDirectory, SavepointReader, SavepointWriter, validateSavepoint } from '../src/index.js';
import { TO_CANONICAL_CONCURRENCY, TO_NATIVE_CONCURRENCY } from '../src/native-conversion.js';
import { D, KEYED_UID, MAX_PARALLELISM } from './fixture-data.js';
import { copyFixture, FIXTURE_V1, freshDirs, keyedHandles, NATIVE, readMeta } from './helpers.js';

const fresh = freshDirs();

/** What a Proxy that changes nothing returns for `prop` of `target` (methods bound to it). */
function passThrough(target: object, prop: string | symbol): unknown {
  const v: unknown = Reflect.get(target, prop, target);
  return typeof v === 'function' ? v.bind(target) : v;
}

/** `format` whose backends create their keyed backends through `createKeyed`, given the format's own backend. */
function withKeyedBackends(format: NativeSnapshotFormat, createKeyed: <K>(b: StateBackend, p: KeyedStateBackendParameters<K>) => Promise<KeyedStateBackend<K>>): NativeSnapshotFormat {
  const createBackend = (w: string): StateBackend => {
    const b = format.createBackend(w);
    return {
      name: b.name,
      supportsAsynchronousSnapshots: b.supportsAsynchronousSnapshots,
      createKeyedStateBackend: (p) => createKeyed(b, p),
      createOperatorStateBackend: (p) => b.createOperatorStateBackend(p),
    };
  };
  return { ...format, createBackend };
}

/** `format` whose backends restore through a reader that counts the files linkFile linked (instead of copying). */
function countingLinks(format: NativeSnapshotFormat): { format: NativeSnapshotFormat; linked: () => number } {
  let linked = 0;
  const counting = (reader: StateHandleReader): StateHandleReader =>
    new Proxy(reader, {
      get(target, prop) {
        const link = target.linkFile;
        if (prop === 'linkFile' && link !== undefined) {
          return async (...args: Parameters<typeof link>) => {
            const ok = await link.apply(target, args);
            if (ok) linked++;
            return ok;
          };
        }
        return passThrough(target, prop);
      },
    });
  const restoreCounting = <K>(b: StateBackend, p: KeyedStateBackendParameters<K>) =>
    b.createKeyedStateBackend(p.stateHandleReader === undefined ? p : { ...p, stateHandleReader: counting(p.stateHandleReader) });
  return { format: withKeyedBackends(format, restoreCounting), linked: () => linked };
}

/** A promise `meet()` settles, raced against 200 ms (so that a conversion running fewer at once still ends). */
function meeting(): { meet: () => void; met: () => Promise<unknown> } {
  let meet: () => void = () => {};
  const done = new Promise<void>((resolve) => (meet = resolve));
  return { meet, met: () => Promise.race([done, new Promise((resolve) => setTimeout(resolve, 200))]) };
}

/**
 * `format` whose backends record how many subtasks are restoring at once, and how many are in
 * flight (restore started, backend not yet disposed). Each restore waits until `expected` have
 * started, and each snapshot's result until `expected` subtasks are in flight, or until 200 ms
 * passed when fewer can: the most seen at once is the conversion's concurrency, whatever the
 * timing of the restores' and snapshots' own work.
 */
function meetingRestores(format: NativeSnapshotFormat, expected: number): { format: NativeSnapshotFormat; most: () => { restores: number; subtasks: number } } {
  let restoring = 0;
  let inFlight = 0;
  const most = { restores: 0, subtasks: 0 };
  const restores = meeting();
  const subtasks = meeting();
  const holdingSnapshots = <K>(kb: KeyedStateBackend<K>): KeyedStateBackend<K> =>
    new Proxy(kb, {
      get(target, prop) {
        if (prop === 'snapshot') {
          return (...args: Parameters<KeyedStateBackend<K>['snapshot']>) => {
            const future = target.snapshot(...args);
            return { checkpointId: future.checkpointId, syncDurationMs: future.syncDurationMs, cancel: () => future.cancel(), result: subtasks.met().then(() => future.result) };
          };
        }
        if (prop === 'dispose') {
          return () => {
            inFlight--;
            target.dispose();
          };
        }
        return passThrough(target, prop);
      },
    });
  const restoreMeeting = async <K>(b: StateBackend, p: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> => {
    most.subtasks = Math.max(most.subtasks, ++inFlight);
    if (inFlight >= expected) subtasks.meet();
    most.restores = Math.max(most.restores, ++restoring);
    if (restoring >= expected) restores.meet();
    await restores.met();
    try {
      return holdingSnapshots(await b.createKeyedStateBackend(p));
    } catch (e) {
      inFlight--;
      throw e;
    } finally {
      restoring--;
    }
  };
  return { format: withKeyedBackends(format, restoreMeeting), most: () => ({ ...most }) };
}

describe('native RocksDB conversions', () => {
  it('subtasks converted at once: a corrupt block in the last subtask fails the conversion and leaves no output', async () => {
    const input = copyFixture(fresh());
    const handles = keyedHandles(readMeta(input)).filter((h) => h.keyGroupOffsets.length > 2);
    assert.ok(handles.length >= 2, 'the fixture has several keyed subtasks');
    const last = handles[handles.length - 1]!;
    assert.equal(last.stream.type, 'file');
    const path = join(input, last.stream.type === 'file' ? last.stream.path : '');
    const bytes = readFileSync(path);
    const at = last.keyGroupOffsets[0]! + 4; // inside the first block: its CRC32C no longer matches
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(path, bytes);
    const out = join(fresh(), 'native');
    await assert.rejects(convertSavepoint(input, out, 'native-rocksdb', NATIVE), CorruptCheckpointError);
    assert.equal(existsSync(out), false, 'the half-written output was removed');
  });

  it('converts four subtasks at once, restoring two at once to native (each holds a bulk load) and four to canonical', async () => {
    const input = join(fresh(), 'six');
    const count = new ValueStateDescriptor<number>('n', Serializers.int32);
    await SavepointWriter.newSavepoint({ maxParallelism: 32, stateBackend: new FsStateBackend() })
      .withKeyedOperator('op', {
        data: Array.from({ length: 120 }, (_, i) => i),
        keySelector: (i) => `key-${i}`,
        keySerializer: Serializers.string,
        parallelism: 6,
        bootstrap: { processElement: (i, ctx) => ctx.getState(count).update(i) },
      })
      .write(input);
    // Six subtasks tell every limit apart.
    assert.deepEqual([TO_NATIVE_CONCURRENCY, TO_CANONICAL_CONCURRENCY], [{ subtasks: 4, restores: 2 }, { subtasks: 4, restores: 4 }]);
    const toNative = meetingRestores(ROCKSDB_NATIVE_FORMAT, 6);
    const native = join(fresh(), 'native');
    await convertSavepoint(input, native, 'native-rocksdb', { nativeFormats: [toNative.format] });
    const toCanonical = meetingRestores(ROCKSDB_NATIVE_FORMAT, 6);
    const back = join(fresh(), 'canonical');
    await convertSavepoint(native, back, 'canonical', { nativeFormats: [toCanonical.format] });
    // Converting to native, the next restores run while earlier subtasks take and upload their snapshots.
    assert.deepEqual([toNative.most(), toCanonical.most()], [TO_NATIVE_CONCURRENCY, TO_CANONICAL_CONCURRENCY]);
    const diff = await diffSavepoints(await SavepointReader.load(input), await SavepointReader.load(back));
    assert.equal(diff.equal, true, JSON.stringify(diff.operators));
  });

  it('canonical -> native RocksDB -> canonical is identical state by state, and the native savepoint restores into RocksDB', async () => {
    const native = join(fresh(), 'native');
    await convertSavepoint(FIXTURE_V1, native, 'native-rocksdb', NATIVE);
    const dir = new SavepointDirectory(native);
    const meta = deserializeCheckpointMetadata(await dir.readMetadataBytes(), dir.metadataFile);
    const keyed = meta.operators.find((o) => o.uid === KEYED_UID)!.subtasks.flatMap((s) => [...s.keyed]);
    assert.ok(keyed.length > 0 && keyed.every(isIncrementalRocksDBStateHandle), 'every keyed handle is a native RocksDB snapshot');

    // Restore the native savepoint into RocksDB (all subtasks' handles, one backend owning every
    // key group: rescaling from native handles) and compare with the canonical fixture.
    const expected = new Map<string, number>();
    const fixture = await SavepointReader.load(FIXTURE_V1);
    for await (const e of fixture.readKeyedState<string, unknown, number>(KEYED_UID, 'count')) expected.set(e.key, e.value);
    assert.ok(expected.size > 0);
    const kb = await new RocksDBStateBackend({ localDirectory: fresh() }).createKeyedStateBackend({
      operatorIdentifier: KEYED_UID,
      keySerializer: Serializers.string,
      maxParallelism: MAX_PARALLELISM,
      keyGroupRange: new KeyGroupRange(0, MAX_PARALLELISM - 1),
      restoreState: keyed,
      stateHandleReader: dir.reader,
    });
    try {
      const count = kb.getPartitionedState(VoidNamespace, Serializers.voidNamespace, D.count);
      assert.deepEqual(kb.getKeys('count', VoidNamespace).sort(), [...expected.keys()].sort());
      for (const [k, v] of expected) {
        kb.setCurrentKey(k);
        assert.equal(count.value(), v, `count of ${k}`);
      }
    } finally {
      kb.dispose();
    }

    const back = join(fresh(), 'canonical');
    await convertSavepoint(native, back, 'canonical', NATIVE);
    const report = await validateSavepoint(back);
    assert.equal(report.ok, true, JSON.stringify(report));
    const diff = await diffSavepoints(fixture, await SavepointReader.load(back));
    assert.equal(diff.equal, true, JSON.stringify(diff.operators, null, 1));

    // And entry by entry, decoded with each savepoint's own serializers.
    const backReader = await SavepointReader.load(back);
    const stringify = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Map ? [...x] : x));
    const entries = async (r: SavepointReader, name: string, kind: string) => {
      const out: string[] = [];
      if (kind === 'MAP') for await (const e of r.readMapState(KEYED_UID, name)) out.push(stringify(e));
      else for await (const e of r.readKeyedState(KEYED_UID, name)) out.push(stringify(e));
      return out.sort();
    };
    let compared = 0;
    for (const s of await fixture.keyedStates(KEYED_UID)) {
      const a = await entries(fixture, s.name, s.kind);
      assert.deepEqual(await entries(backReader, s.name, s.kind), a, `state ${s.name}`);
      compared += a.length;
    }
    assert.ok(compared > 100, `compared ${compared} entries`);
  });

  it('native -> canonical with SSTs hard-linked into the scratch database writes the same files as with SSTs copied', async () => {
    const native = join(fresh(), 'native');
    await convertSavepoint(FIXTURE_V1, native, 'native-rocksdb', NATIVE);
    // The general path: the same format with a backend that downloads (copies) every file.
    const copying = countingLinks({
      ...ROCKSDB_NATIVE_FORMAT,
      createBackend: (w: string) => new RocksDBStateBackend({ incrementalCheckpoints: true, localDirectory: w, verifySstsBeforeUpload: false, syncLocalFiles: false }),
    });
    const linking = countingLinks(ROCKSDB_NATIVE_FORMAT);
    const canonicalFiles = async (format: NativeSnapshotFormat) => {
      const back = join(fresh(), 'canonical');
      await convertSavepoint(native, back, 'canonical', { nativeFormats: [format], fileNameSeed: 'same' });
      return keyedHandles(readMeta(back)).map((h) => `${h.keyGroupRange.start}-${h.keyGroupRange.end}:${h.stream.size}:${h.stream.type === 'file' ? h.stream.checksum : 'inline'}`);
    };
    const linked = await canonicalFiles(linking.format);
    assert.ok(linked.length > 1);
    const nativeHandles = readMeta(native).operators.flatMap((o) => o.subtasks.flatMap((s) => s.keyed)).filter(isIncrementalRocksDBStateHandle);
    const ssts = nativeHandles.flatMap((h) => [...h.sharedFiles, ...h.privateFiles]).filter((f) => f.name.endsWith('.sst')).length;
    assert.ok(ssts > 1);
    assert.equal(linking.linked(), ssts, 'every SST was linked: no silent fallback to copying');
    assert.deepEqual(linked, await canonicalFiles(copying.format));
    assert.equal(copying.linked(), 0, 'the copying backend linked nothing');
  });
});
