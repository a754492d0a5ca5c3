import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { AssertionError, CorruptCheckpointError, StorageError, StorageNotFoundError, threadPoolReads } from '@flowstate/core';
import {
  BytePrimitiveArraySerializer,
  encodeSnappyFramed,
  FlinkSavepoint,
  FlinkSnapshots,
  FlinkUnsupportedError,
  JavaDataInput,
  JavaDataOutput,
  javaStringHash,
  keyGroupForHash,
  keyGroupRangeForOperator,
  loadOperatorSnapshot,
  MAX_FLINK_METADATA_BYTES,
  MAX_OPERATOR_SNAPSHOT_BYTES,
  operatorIdFromUid,
  readStringUnits,
  readStringValue,
  StreamResolver,
  writeCanonicalKeyGroup,
  writeFlinkMetadata,
  writeKeyedHeader,
  writeOperatorSnapshotFile,
  writeStringValue,
  type KeyedStreamInfo,
  type SubtaskState,
} from '../src/index.js';
import { BYTE_COPY_SLAB_BYTES, ByteArrayCopies, OWN_COPY_BYTES } from '../src/io/byte-copies.js';
import { dropIdleStreamBuffers, idleStreamBufferCount, streamBufferCapacity } from '../src/io/stream-buffers.js';
import { prng } from './fixtures.js';
import { withTempDir, writeOwnSavepoint } from './own-savepoint.js';

const MAX_PARALLELISM = 8;
const PARALLELISM = 2;
/** Value sizes around the copy thresholds: empty, small, the bench's 4080, and own-buffer sizes. */
const SIZES = [0, 1, 17, 4080, OWN_COPY_BYTES - 1, OWN_COPY_BYTES, BYTE_COPY_SLAB_BYTES + 1];
/** Java-serialized null (TC_NULL) for the CheckpointProperties of metadata V4+: reading needs none. */
const NULL_PROPERTIES = new Uint8Array([0xac, 0xed, 0, 5, 0x70]);

/** String keys (ASCII, NUL, 0x7f, non-ASCII, astral) -> byte[] values of SIZES, deterministic from a seed. */
function entries(n: number): Map<string, Uint8Array> {
  const rnd = prng(42);
  const odd = ['', '\0', 'a\u007f', 'caf\u00e9', '\u20ac-key', 'k\u{1f600}'];
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const size = SIZES[i % SIZES.length]!;
    const seed = Math.floor(rnd() * 256);
    out.set(i < odd.length ? odd[i]! : `key-${i}`, Uint8Array.from({ length: size }, (_, j) => (seed + j * 31) & 0xff));
  }
  return out;
}

/** A canonical Flink savepoint (tag 7, one VALUE state of byte[] under String keys) of `data` in `dir`. */
function writeSavepoint(dir: string, data: Map<string, Uint8Array>, compression: boolean, junkAfterBlocks = 0): void {
  const str = FlinkSnapshots.string();
  const states = [{ name: 'blob', backendStateType: 'KEY_VALUE' as const, options: [['KEYED_STATE_TYPE', 'VALUE'] as const], serializers: [['NAMESPACE_SERIALIZER', FlinkSnapshots.voidNamespace()] as const, ['VALUE_SERIALIZER', FlinkSnapshots.bytes()] as const] }];
  const subtasks: SubtaskState[] = [];
  for (let i = 0; i < PARALLELISM; i++) {
    const { start, end } = keyGroupRangeForOperator(MAX_PARALLELISM, PARALLELISM, i);
    const out = new JavaDataOutput();
    writeKeyedHeader(out, { version: 6, compression, keySerializer: str, states });
    const offsets: number[] = [];
    for (let kg = start; kg <= end; kg++) {
      const records = [...data].filter(([k]) => keyGroupForHash(javaStringHash(k), MAX_PARALLELISM) === kg).map(([k, v]) => {
        const key = new JavaDataOutput();
        key.writeByte(kg);
        str.serializer.serialize(k, key);
        key.writeByte(0);
        const value = new JavaDataOutput();
        BytePrimitiveArraySerializer.serialize(v, value);
        return { stateId: 0, key: key.toBytes(), value: value.toBytes() };
      });
      offsets.push(records.length === 0 ? 0 : out.length);
      const block = new JavaDataOutput();
      writeCanonicalKeyGroup(block, records);
      out.writeBytes(compression ? encodeSnappyFramed(block.bytesView()) : block.bytesView());
      if (records.length > 0) out.writeBytes(new Uint8Array(junkAfterBlocks));
    }
    const bytes = out.toBytes();
    writeFileSync(join(dir, `keyed-${i}`), bytes);
    const stream = { type: 'relative-file' as const, relativePath: `keyed-${i}`, size: bytes.length };
    subtasks.push({ index: i, finished: false, managedOperatorState: null, rawOperatorState: null, managedKeyedState: { type: 'key-groups', tag: 7, startKeyGroup: start, offsets, stream }, rawKeyedState: null, inputChannelState: [], resultSubpartitionState: [] });
  }
  const op = { name: 'blobs', uid: 'blobs', operatorId: operatorIdFromUid('blobs'), parallelism: PARALLELISM, maxParallelism: MAX_PARALLELISM, coordinatorState: null, fullyFinished: false, subtasks };
  writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({ version: 6, checkpointId: 1n, masterStates: [], operators: [op], propertiesBytes: NULL_PROPERTIES }));
}

/** Every decoded record of `sp`, in stream order. */
async function decodeAll(sp: FlinkSavepoint): Promise<Array<{ key: unknown; value: Uint8Array }>> {
  const op = sp.operators[0]!;
  const out: Array<{ key: unknown; value: Uint8Array }> = [];
  for (const info of await sp.keyedStreams(op)) for (const e of sp.decodedRecords(info, op.maxParallelism)) out.push({ key: e.key, value: e.value as Uint8Array });
  return out;
}

describe('Flink savepoint read path', () => {
  for (const compression of [false, true]) {
    it(`decodes byte[] values equal to the general path (a copy per value), never aliasing the stream (compression ${compression})`, async () => {
      await withTempDir('read-path', async (dir) => {
        const data = entries(30);
        writeSavepoint(dir, data, compression);
        const sp = await FlinkSavepoint.load(dir);
        const decoded = await decodeAll(sp);
        assert.equal(decoded.length, data.size);
        // The general path: each raw record's value field read by the byte[] serializer without shared copies.
        const general: Uint8Array[] = [];
        for (const info of await sp.keyedStreams(sp.operators[0]!)) {
          for (const r of sp.canonicalRecords(info)) general.push(BytePrimitiveArraySerializer.deserialize(new JavaDataInput(r.value, 'raw')));
        }
        assert.deepEqual(decoded.map((e) => Buffer.from(e.value)), general.map((v) => Buffer.from(v)));
        for (const e of decoded) assert.deepEqual(Buffer.from(e.value), Buffer.from(data.get(e.key as string)!), `key ${JSON.stringify(e.key)}`);
        // Writing to decoded values changes neither the other values nor what a later read of the same (cached) streams decodes.
        for (let i = 0; i < decoded.length; i++) {
          decoded[i]!.value.fill(0xa5);
          const next = decoded[i + 1];
          if (next !== undefined) assert.deepEqual(Buffer.from(next.value), Buffer.from(data.get(next.key as string)!));
        }
        const again = await decodeAll(sp);
        for (const e of again) assert.deepEqual(Buffer.from(e.value), Buffer.from(data.get(e.key as string)!));
      });
    });
  }

  it('bytes between a block\'s end mark and the next block are corrupt, for raw and decoded records alike', async () => {
    await withTempDir('read-path', async (dir) => {
      writeSavepoint(dir, entries(20), false, 3);
      const sp = await FlinkSavepoint.load(dir);
      const [info] = await sp.keyedStreams(sp.operators[0]!);
      const corrupt = (e: unknown): boolean => e instanceof CorruptCheckpointError && /3 bytes after the end-of-key-group mark/.test(e.message) && e.message.includes('keyed-0');
      assert.throws(() => [...sp.canonicalRecords(info!)], corrupt);
      assert.throws(() => [...sp.decodedRecords(info!, MAX_PARALLELISM)], corrupt);
    });
  });

  it('ByteArrayCopies: small copies share zero-filled buffers, large ones get their own', () => {
    const copies = new ByteArrayCopies();
    const a = copies.copy(Uint8Array.of(1, 2, 3));
    const b = copies.copy(Uint8Array.of(4, 5));
    assert.equal(a.buffer, b.buffer);
    assert.deepEqual([a.byteOffset, b.byteOffset, a.buffer.byteLength], [0, 3, BYTE_COPY_SLAB_BYTES]);
    // A kept small byte[] keeps at most 8 KiB alive (256 KiB slabs were a fresh mmap each in glibc).
    assert.ok(a.buffer.byteLength <= 8 << 10 && copies.copy(new Uint8Array(4080)).buffer.byteLength <= 8 << 10);
    // Nothing but the copies was written: the rest of the shared buffer is zero.
    assert.ok(new Uint8Array(a.buffer, 5).every((x) => x === 0));
    const big = copies.copy(new Uint8Array(OWN_COPY_BYTES).fill(9));
    assert.notEqual(big.buffer, a.buffer);
    assert.deepEqual([big.byteOffset, big.buffer.byteLength], [0, OWN_COPY_BYTES]);
    // A copy that does not fit in what is left of the buffer starts a new one.
    const fill = OWN_COPY_BYTES - 1;
    const used = [a, b];
    while (used.at(-1)!.buffer === a.buffer) used.push(copies.copy(new Uint8Array(fill).fill(used.length)));
    const last = used.at(-1)!;
    assert.deepEqual([last.byteOffset, used.at(-2)!.byteOffset + fill <= BYTE_COPY_SLAB_BYTES], [0, true]);
    used.slice(2).forEach((c, i) => assert.ok(c.every((x) => x === i + 2)));
  });

  it('readStringValue equals the unit-by-unit path for ASCII, NUL, 0x7f/0x80 and non-ASCII strings', () => {
    const rnd = prng(7);
    const samples = ['', 'a', '\0', '\u007f', '\u0080', 'key-123', 'caf\u00e9', '\u20ac', 'x\u{1f600}y', 'a'.repeat(5000), 'b'.repeat(4096) + '\u00ff'];
    for (let i = 0; i < 200; i++) samples.push(String.fromCharCode(...Array.from({ length: Math.floor(rnd() * 20) }, () => Math.floor(rnd() * (rnd() < 0.8 ? 0x80 : 0x10000)))));
    for (const s of samples) {
      const out = new JavaDataOutput();
      writeStringValue(out, s);
      out.writeByte(0x42);
      const bytes = out.toBytes();
      const fast = new JavaDataInput(bytes, 'fast');
      const general = new JavaDataInput(bytes, 'general');
      // Past the length prefix: what readStringValue read before choosing a path.
      let lenPlus1 = 0;
      for (let shift = 0; ; shift += 7) {
        const b = general.readUnsignedByte();
        lenPlus1 += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) break;
      }
      assert.equal(readStringValue(fast), s);
      assert.equal(readStringUnits(general, lenPlus1 - 1), s);
      assert.equal(fast.position, general.position, JSON.stringify(s.slice(0, 20)));
      assert.equal(fast.readUnsignedByte(), 0x42);
    }
  });

  it('keyedStreams keeps subtask order and reports the first failing subtask though streams are read concurrently', async () => {
    await withTempDir('read-path', async (dir) => {
      writeSavepoint(dir, entries(20), false);
      const sp = await FlinkSavepoint.load(dir);
      assert.deepEqual((await sp.keyedStreams(sp.operators[0]!)).map((i) => i.subtask), [0, 1]);
      // Subtask 0's file gone, subtask 1's of another size: the error is subtask 0's, as a sequential read's would be.
      rmSync(join(dir, 'keyed-0'));
      writeFileSync(join(dir, 'keyed-1'), new Uint8Array(3));
      const fresh = await FlinkSavepoint.load(dir);
      await assert.rejects(fresh.keyedStreams(fresh.operators[0]!), (e) => e instanceof StorageNotFoundError && e.message.includes('keyed-0'));
    });
  });

  it('StreamResolver reads a file once for handles resolved concurrently, and does not keep a failed read', async () => {
    await withTempDir('read-path', async (dir) => {
      const resolver = new StreamResolver(dir, join(dir, '_metadata'));
      const h = { type: 'relative-file' as const, relativePath: 'f', size: 4 };
      await assert.rejects(resolver.resolve(h), StorageNotFoundError);
      writeFileSync(join(dir, 'f'), Uint8Array.of(1, 2, 3, 4));
      const [a, b] = await Promise.all([resolver.resolve(h), resolver.resolve(h)]);
      assert.equal(a.bytes, b.bytes);
      assert.deepEqual([...a.bytes], [1, 2, 3, 4]);
    });
  });

  it('StreamResolver: a read that fails after the open (a handle naming a directory) is a typed StorageError', async () => {
    await withTempDir('read-path', async (dir) => {
      mkdirSync(join(dir, 'sub'));
      const resolver = new StreamResolver(dir, join(dir, '_metadata'));
      // Metadata is input: its size can match the directory's own stat size, so only the read fails.
      const h = { type: 'relative-file' as const, relativePath: 'sub', size: statSync(join(dir, 'sub')).size };
      await assert.rejects(resolver.resolve(h), (e) => e instanceof StorageError && e.message.includes('EISDIR'));
    });
  });

  it('StreamResolver never reads more files at once than its limit (default: threadPoolReads())', async () => {
    let open = 0;
    let most = 0;
    const readFile = async (_path: string, size: number): Promise<Uint8Array> => {
      most = Math.max(most, ++open);
      // Several turns of the event loop: every other resolve has had the chance to start its read.
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
      open--;
      return new Uint8Array(size);
    };
    const handles = Array.from({ length: 20 }, (_, i) => ({ type: 'relative-file' as const, relativePath: `f${i}`, size: 4 }));
    for (const [limit, options] of [[3, { concurrentReads: 3, readFile }], [threadPoolReads(), { readFile }]] as const) {
      most = 0;
      const resolver = new StreamResolver('/sp', '/sp/_metadata', options);
      const resolved = await Promise.all(handles.map((h) => resolver.resolve(h)));
      assert.equal(resolved.length, handles.length);
      assert.equal(most, limit, `at most ${limit} files open at once, and the limit is used`);
    }
  });

  it('StreamResolver calls only a missing file "not found": a file that cannot be opened otherwise is a storage error naming the cause', async () => {
    await withTempDir('read-path', async (dir) => {
      const resolver = new StreamResolver(dir, join(dir, '_metadata'));
      symlinkSync('loop', join(dir, 'loop')); // open() fails with ELOOP: the name exists
      await assert.rejects(resolver.resolve({ type: 'relative-file', relativePath: 'loop', size: 4 }), (e) => e instanceof StorageError && !(e instanceof StorageNotFoundError) && e.message.includes('ELOOP'));
      await assert.rejects(resolver.resolve({ type: 'relative-file', relativePath: 'missing', size: 4 }), StorageNotFoundError);
    });
  });
});

/** `data` with every value byte inverted: a savepoint of the same file sizes and other bytes. */
function inverted(data: Map<string, Uint8Array>): Map<string, Uint8Array> {
  return new Map([...data].map(([k, v]) => [k, v.map((x) => x ^ 0xff)]));
}

function assertValues(decoded: Array<{ key: unknown; value: Uint8Array }>, data: Map<string, Uint8Array>): void {
  assert.equal(decoded.length, data.size);
  for (const e of decoded) assert.deepEqual(Buffer.from(e.value), Buffer.from(data.get(e.key as string)!), `key ${JSON.stringify(e.key)}`);
}

/** True if the next record still reads (from a decompressed block); false if it fails with the release assertion. */
function resumesWithinBlock(it: Iterator<unknown>): boolean {
  try {
    it.next();
    return true;
  } catch (e) {
    assert.ok(e instanceof AssertionError, `the release assertion, not ${String(e)}`);
    return false;
  }
}

type StatOwner = { stat: (...args: unknown[]) => Promise<unknown> };

/**
 * Calls of node:fs/promises `stat` while `fn` runs. ESM imports of a builtin are live bindings
 * that syncBuiltinESMExports points at its CommonJS exports: patched there, the loaders call the spy.
 */
async function pathStats(fn: () => Promise<unknown>): Promise<number> {
  const fsp = createRequire(import.meta.url)('node:fs/promises') as StatOwner;
  const original = fsp.stat;
  let calls = 0;
  fsp.stat = (...args) => (calls++, original(...args));
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    fsp.stat = original;
    syncBuiltinESMExports();
  }
  return calls;
}

/** An OperatorSnapshotUtil file without state. */
const EMPTY_OPERATOR_SNAPSHOT = writeOperatorSnapshotFile({ version: 3, rawOperatorState: null, managedOperatorState: null, rawKeyedState: null, managedKeyedState: null, inputChannelState: [], resultSubpartitionState: [] });

describe('Flink loaders of files no handle sizes (_metadata, operator snapshot files)', () => {
  it('read the file with its size from the open descriptor: no stat of it before (only load() asks whether its path is a directory)', async () => {
    await withTempDir('loaders', async (dir) => {
      writeFileSync(join(dir, '_metadata'), writeFlinkMetadata({ version: 3, checkpointId: 1n, masterStates: [], operators: [] }));
      writeFileSync(join(dir, 'snapshot'), EMPTY_OPERATOR_SNAPSHOT);
      assert.equal(await pathStats(() => FlinkSavepoint.load(dir)), 1);
      assert.equal(await pathStats(() => FlinkSavepoint.load(join(dir, '_metadata'))), 1);
      assert.equal(await pathStats(() => loadOperatorSnapshot(join(dir, 'snapshot'))), 0);
      assert.equal((await FlinkSavepoint.load(dir)).metadata.checkpointId, 1n);
      assert.equal((await loadOperatorSnapshot(join(dir, 'snapshot'))).file.version, 3);
    });
  });

  it('a missing file is StorageNotFoundError, one above the limit FlinkUnsupportedError before it is read', async () => {
    await withTempDir('loaders', async (dir) => {
      const metadata = join(dir, '_metadata');
      const snapshot = join(dir, 'snapshot');
      await assert.rejects(FlinkSavepoint.load(dir), (e) => e instanceof StorageNotFoundError && e.path === metadata);
      await assert.rejects(loadOperatorSnapshot(snapshot), (e) => e instanceof StorageNotFoundError && e.path === snapshot);
      // Sparse: nothing of them is read.
      writeFileSync(metadata, '');
      truncateSync(metadata, MAX_FLINK_METADATA_BYTES + 1);
      writeFileSync(snapshot, '');
      truncateSync(snapshot, MAX_OPERATOR_SNAPSHOT_BYTES + 1);
      await assert.rejects(FlinkSavepoint.load(dir), (e) => e instanceof FlinkUnsupportedError && e.file === metadata && e.feature === `_metadata of ${MAX_FLINK_METADATA_BYTES + 1} bytes exceeds ${MAX_FLINK_METADATA_BYTES}`);
      await assert.rejects(loadOperatorSnapshot(snapshot), (e) => e instanceof FlinkUnsupportedError && e.file === snapshot && e.feature === `operator snapshot of ${MAX_OPERATOR_SNAPSHOT_BYTES + 1} bytes exceeds ${MAX_OPERATOR_SNAPSHOT_BYTES}`);
      // Below the limit the file is read (and parsed: eight zero bytes are no operator snapshot).
      truncateSync(snapshot, 8);
      await assert.rejects(loadOperatorSnapshot(snapshot), (e) => e instanceof CorruptCheckpointError && e.file === snapshot);
    });
  });

  it('a _metadata that cannot be opened but exists is a storage error naming the cause, as a state file is', async () => {
    await withTempDir('loaders', async (dir) => {
      symlinkSync('_metadata', join(dir, '_metadata')); // open() fails with ELOOP: the name exists
      await assert.rejects(FlinkSavepoint.load(dir), (e) => e instanceof StorageError && !(e instanceof StorageNotFoundError) && e.path === join(dir, '_metadata') && e.message.includes('ELOOP'));
    });
  });
});

describe('Flink stream buffers (FlinkSavepoint.releaseStreams)', () => {
  it('released streams go to the next savepoint read; decoded values and headers stay, raw views are detached', async () => {
    dropIdleStreamBuffers();
    await withTempDir('release', async (root) => {
      const [a, b] = [join(root, 'a'), join(root, 'b')];
      const data = entries(30);
      writeSavepoint((mkdirSync(a), a), data, false);
      writeSavepoint((mkdirSync(b), b), inverted(data), false);
      const spA = await FlinkSavepoint.load(a);
      const decoded = await decodeAll(spA);
      const infos = await spA.keyedStreams(spA.operators[0]!);
      const raw = [...spA.canonicalRecords(infos[0]!)][0]!;
      spA.releaseStreams();
      assert.equal(idleStreamBufferCount(), PARALLELISM);
      assert.deepEqual([infos[0]!.stream!.bytes.length, raw.key.length, raw.value.length], [0, 0, 0]);
      assert.throws(() => [...spA.decodedRecords(infos[0]!, MAX_PARALLELISM)], AssertionError);
      // The next read (another savepoint) takes both buffers and overwrites them with its own bytes.
      assertValues(await decodeAll(await FlinkSavepoint.load(b)), inverted(data));
      assert.equal(idleStreamBufferCount(), 0);
      assertValues(decoded, data);
      // A released savepoint reads its files again.
      assertValues(await decodeAll(spA), data);
    });
  });

  it('a header outlives its released stream (serializer snapshot payloads are copies)', async () => {
    const dir = writeOwnSavepoint(10, false);
    try {
      const sp = await FlinkSavepoint.load(dir);
      const header = (await sp.keyedStreams(sp.operators[0]!))[0]!.header!;
      const payloads = (): Buffer[] => [header.keySerializer, ...header.states.flatMap((st) => st.serializers.map(([, x]) => x))].map((x) => Buffer.from(x.payload));
      const before = payloads();
      assert.ok(before.some((p) => p.length > 0), 'a header payload to check');
      sp.releaseStreams();
      assert.deepEqual(payloads(), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('savepoints read concurrently never share a buffer, also with buffers idle in the pool', async () => {
    dropIdleStreamBuffers();
    await withTempDir('release', async (root) => {
      const data = entries(30);
      const dirs = ['a', 'b', 'c'].map((d) => join(root, d));
      dirs.forEach((d, i) => writeSavepoint((mkdirSync(d), d), i === 1 ? inverted(data) : data, false));
      const first = await FlinkSavepoint.load(dirs[0]!);
      await first.keyedStreams(first.operators[0]!);
      first.releaseStreams();
      const [b, c] = await Promise.all([FlinkSavepoint.load(dirs[1]!), FlinkSavepoint.load(dirs[2]!)]);
      const infos = (await Promise.all([b, c].map((sp) => sp.keyedStreams(sp.operators[0]!)))).flat();
      assert.equal(idleStreamBufferCount(), 0);
      assert.equal(new Set(infos.map((i) => i.stream!.bytes.buffer)).size, 2 * PARALLELISM);
      assertValues(await decodeAll(b), inverted(data));
      assertValues(await decodeAll(c), data);
    });
  });

  it('a read left early releases its streams as a finished one does', async () => {
    dropIdleStreamBuffers();
    await withTempDir('release', async (dir) => {
      const data = entries(30);
      writeSavepoint(dir, data, false);
      const sp = await FlinkSavepoint.load(dir);
      const [info] = await sp.keyedStreams(sp.operators[0]!);
      for (const _ of sp.decodedRecords(info!, MAX_PARALLELISM)) break;
      sp.releaseStreams();
      assert.equal(idleStreamBufferCount(), PARALLELISM);
      sp.releaseStreams();
      assert.equal(idleStreamBufferCount(), PARALLELISM, 'a second release gives nothing back twice');
      assertValues(await decodeAll(sp), data);
    });
  });

  it('a read paused anywhere and resumed after the release fails with the release assertion, not a TypeError or zeros', async () => {
    for (const compression of [false, true]) {
      await withTempDir('release', async (dir) => {
        writeSavepoint(dir, entries(30), compression);
        const sp = await FlinkSavepoint.load(dir);
        const readers = [(i: KeyedStreamInfo) => sp.canonicalRecords(i), (i: KeyedStreamInfo) => sp.decodedRecords(i, MAX_PARALLELISM)];
        for (const read of readers) {
          const total = [...read((await sp.keyedStreams(sp.operators[0]!))[0]!)].length;
          assert.ok(total > 4, 'several key groups of several records');
          let failedAt = 0;
          // Paused after each record in turn: at a key group's end (next block) and within one (next record).
          for (let taken = 1; taken < total; taken++) {
            const it = read((await sp.keyedStreams(sp.operators[0]!))[0]!);
            for (let i = 0; i < taken; i++) assert.equal(it.next().done, false);
            sp.releaseStreams();
            const what = `compression ${compression}, resumed after ${taken} of ${total}`;
            // A compressed block is decompressed into memory of its own, not released: its remaining
            // records still read; the next block is in the released stream.
            if (!compression) assert.throws(() => it.next(), AssertionError, what);
            else if (!resumesWithinBlock(it)) failedAt++;
          }
          if (compression) assert.ok(failedAt > 0, 'a compressed read resumed at a block boundary fails too');
        }
      });
    }
  });

  it('buffer capacities round up to an eighth of the power of two, so files of about one size share them', () => {
    assert.deepEqual([0, 4096, 4097, 16 << 20, (16 << 20) + 1, 17_000_000].map(streamBufferCapacity), [4096, 4096, 4608, 16 << 20, 18 << 20, 18 << 20]);
  });
});
