import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import {
  AlternatingReadBuffers,
  BooleanSerializer,
  BytesSerializer,
  crc32c,
  crc32cCombine,
  crc32cImplementation,
  DataInputDeserializer,
  DataOutputSerializer,
  ExactDeserializer,
  FsCheckpointStateOutputStream,
  FsCheckpointStorage,
  KeyGroupRange,
  KeyedStateStreamEncoder,
  MemoryFileSystem,
  planKeyGroupReads,
  readKeyGroupBlocks,
  Serializers,
  VoidNamespaceSerializer,
  type KeyedStateStreamHeader,
  type KeyGroupsStateHandle,
  type StateHandleReader,
  type TypeSerializerSnapshot,
  type CheckpointStateOutputStream,
} from '../src/index.js';
import { dropIdleBlockBuffers, giveBackBlockBuffer, IDLE_BLOCK_BUFFERS_MS, takeBlockBuffer } from '../src/snapshot/block-buffers.js';

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('savepoint I/O building blocks (issue 16)', () => {
  it("a finished encoder's block buffer serves the next encoder, one still encoding never shares it, and idle ones are dropped after IDLE_BLOCK_BUFFERS_MS", async () => {
    // Mocked before any give-back (no real drop timer is armed), and from an empty pool.
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    dropIdleBlockBuffers();
    const fs = new MemoryFileSystem();
    const range = KeyGroupRange.of(0, 3);
    const meta = { name: 's', kind: 'VALUE' as const, namespaceSerializerSnapshot: VoidNamespaceSerializer.INSTANCE.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, stateSerializerSnapshot: BytesSerializer.INSTANCE.snapshotConfiguration() as TypeSerializerSnapshot<unknown> };
    /** Encodes every key group into a new file; returns the ArrayBuffers its blocks were written from, and how to finish it. */
    const encode = async (name: string) => {
      const enc = new KeyedStateStreamEncoder(range, Serializers.string.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, [meta]);
      const inner = new FsCheckpointStateOutputStream(fs, name);
      const blocks = new Set<ArrayBufferLike>();
      const out: CheckpointStateOutputStream = {
        get position() {
          return inner.position;
        },
        write: (b, checksum) => {
          if (checksum !== undefined) blocks.add(b.buffer);
          return inner.write(b, checksum);
        },
        closeAndGetHandle: () => inner.closeAndGetHandle(),
        abort: () => inner.abort(),
      };
      await out.write(enc.encodeHeader());
      for (const g of range) {
        enc.beginKeyGroup(g);
        enc.writeEntry(0, bytes(5, g), new Uint8Array(0), bytes(3000, g + 1));
        await enc.endKeyGroupTo(out);
      }
      assert.equal(blocks.size, 1, 'one buffer serves every block of an encoder');
      return { buffer: [...blocks][0]!, finish: async () => enc.finish(await out.closeAndGetHandle()) };
    };
    try {
      const a = await encode('a');
      const b = await encode('b');
      assert.notEqual(a.buffer, b.buffer, 'two encoders at work use two buffers');
      await a.finish();
      const c = await encode('c');
      assert.equal(c.buffer, a.buffer, "the next encoder writes from the finished one's buffer");
      await b.finish();
      await c.finish();
      mock.timers.tick(IDLE_BLOCK_BUFFERS_MS);
      const d = await encode('d');
      assert.ok(d.buffer !== a.buffer && d.buffer !== b.buffer, 'idle buffers were dropped, not lent again');
      await d.finish();
      // Every encoder encoded the same entries: what each wrote from a shared buffer is the same file.
      const first = await fs.read('a');
      assert.ok(first.length > 4 * 3000);
      for (const name of ['b', 'c', 'd']) assert.deepEqual(await fs.read(name), first, name);
    } finally {
      dropIdleBlockBuffers();
      mock.timers.reset();
    }
  });

  it('an encoder takes a block buffer only for its first block: one used for its header alone leaves the idle one in the pool', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    dropIdleBlockBuffers();
    const idle = new DataOutputSerializer(16);
    giveBackBlockBuffer(idle);
    try {
      const enc = new KeyedStateStreamEncoder(KeyGroupRange.of(0, 1), Serializers.string.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, []);
      enc.encodeHeader();
      assert.equal(takeBlockBuffer(), idle, 'the header-only encoder did not take it');
      giveBackBlockBuffer(idle);
      enc.beginKeyGroup(0);
      assert.notEqual(takeBlockBuffer(), idle, 'the first block took it');
    } finally {
      dropIdleBlockBuffers();
      mock.timers.reset();
    }
  });

  it('crc32cCombine gives the CRC32C of the concatenation', () => {
    for (const [a, b] of [[0, 0], [1, 0], [0, 5], [7, 1], [100, 4096], [65_537, 300_001], [3, 1 << 20]] as const) {
      const x = bytes(a, a + 1);
      const y = bytes(b, b + 7);
      assert.equal(crc32cCombine(crc32c(x), crc32c(y), y.length), crc32c(Buffer.concat([x, y])), `${a} + ${b} bytes`);
    }
  });

  it('an output stream given each chunk\'s CRC32C records the same file checksum as one computing it', async () => {
    const fs = new MemoryFileSystem();
    const chunks = [bytes(10, 1), bytes(200_000, 2), bytes(70_000, 3), bytes(17_000, 4), bytes(1, 5)];
    const given = new FsCheckpointStateOutputStream(fs, 'given', 1 << 20);
    const computed = new FsCheckpointStateOutputStream(fs, 'computed', 1 << 20);
    for (const c of chunks) {
      await given.write(c, crc32c(c));
      await computed.write(c);
    }
    const a = await given.closeAndGetHandle();
    const b = await computed.closeAndGetHandle();
    assert.ok(a.type === 'file' && b.type === 'file');
    assert.equal(a.checksum, b.checksum);
    assert.equal(a.checksum, crc32c(await fs.read('given')));
  });

  it('an output stream never hashes a chunk whose CRC32C it was given, however small (no second pass over a block)', async () => {
    // A deliberately wrong checksum shows which one the stream used: the caller's, combined.
    const fs = new MemoryFileSystem();
    const out = new FsCheckpointStateOutputStream(fs, 'trusted', 1 << 20);
    const small = bytes(100, 9);
    const bogus = (crc32c(small) ^ 0x5a5a5a5a) >>> 0;
    await out.write(small, bogus);
    const h = await out.closeAndGetHandle();
    assert.ok(h.type === 'file');
    assert.equal(h.checksum, crc32cCombine(0, bogus, small.length));
    assert.notEqual(h.checksum, crc32c(small));
  });

  it('an output stream writes exactly its input through buffer growth, flushes and direct writes', async () => {
    const fs = new MemoryFileSystem();
    const out = new FsCheckpointStateOutputStream(fs, 'mixed', 256 << 10);
    const chunks: Uint8Array[] = [];
    let x = 7;
    for (let i = 0; i < 400; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const n = x % 9 === 0 ? 70_000 + (x % 100_000) : 1 + (x % 40_000);
      chunks.push(bytes(n, i));
      await out.write(chunks[i]!);
    }
    const h = await out.closeAndGetHandle();
    const all = Buffer.concat(chunks);
    assert.ok(h.type === 'file');
    assert.equal(h.size, all.length);
    assert.equal(h.checksum, crc32c(all));
    assert.ok(Buffer.from(await fs.read('mixed')).equals(all));
  });

  it('writeSerializedLengthPrefixed writes the bytes writeLengthPrefixed would, whatever the length guess', () => {
    for (const len of [0, 1, 127, 128, 300, 16_383, 16_384, 70_000]) {
      for (const guess of [0, 127, 128, 16_384, 1 << 21]) {
        const value = bytes(len, len);
        const a = new DataOutputSerializer(4);
        a.writeUint8(9);
        const inner = new DataOutputSerializer();
        BytesSerializer.INSTANCE.serialize(value, inner);
        a.writeLengthPrefixed(inner.bytesView());
        const b = new DataOutputSerializer(4);
        b.writeUint8(9);
        assert.equal(b.writeSerializedLengthPrefixed(BytesSerializer.INSTANCE, value, guess), inner.length);
        assert.deepEqual(b.bytesView(), a.bytesView(), `length ${len}, guess ${guess}`);
      }
    }
  });

  it('writeSerializedLengthPrefixed keeps a short value written at the end of the buffer (its prefix used to grow the buffer and drop it)', () => {
    // A boolean serializes with writeUint8 (ensure(1)): at 12 of 16 bytes the value fits, but a
    // prefix written with writeVarUint's ensure(5) grew the buffer from the prefix's position and
    // left the value behind: `true` came back as `false`, under a valid CRC.
    for (const filled of [10, 11, 12, 13, 14]) {
      const out = new DataOutputSerializer(16);
      out.writeBytes(new Uint8Array(filled).fill(7));
      assert.equal(out.writeSerializedLengthPrefixed(BooleanSerializer.INSTANCE, true, 1), 1);
      assert.deepEqual([...out.bytesView().subarray(filled)], [1, 1], `after ${filled} bytes`);
    }
  });

  it('a reused DataInputDeserializer reads views of one buffer at their own offsets', () => {
    const out = new DataOutputSerializer();
    out.writeUint32(0xdeadbeef);
    out.writeUint16(7);
    out.writeFloat64(2.5);
    const all = out.bytesView();
    const input = new DataInputDeserializer(new Uint8Array(0));
    input.reset(all.subarray(4), 100);
    assert.equal(input.readUint16(), 7);
    assert.equal(input.readFloat64(), 2.5);
    input.reset(all.subarray(0, 4));
    assert.equal(input.readUint32(), 0xdeadbeef);
    assert.throws(() => input.readUint8(), /truncated/);
    const d = new ExactDeserializer();
    const field = new DataOutputSerializer();
    BytesSerializer.INSTANCE.serialize(bytes(5, 1), field);
    const view = d.decode(BytesSerializer.INSTANCE, field.bytesView(), 'value', 0, true);
    const copy = d.decode(BytesSerializer.INSTANCE, field.bytesView(), 'value');
    assert.equal(view.buffer, field.bytesView().buffer, 'a view aliases the input');
    assert.notEqual(copy.buffer, field.bytesView().buffer, 'the default decode copies');
    assert.deepEqual(view, copy);
  });

  it('planKeyGroupReads: whole blocks per request, up to the byte limit, a larger block alone', () => {
    // Blocks of 10, 10, 50, 10, 10 bytes after a 4-byte header.
    const offsets = [4, 14, 24, 74, 84, 94];
    assert.deepEqual(planKeyGroupReads(offsets, 0, 0, 4, 1000), [{ from: 0, to: 4 }]);
    assert.deepEqual(planKeyGroupReads(offsets, 0, 0, 4, 20), [{ from: 0, to: 1 }, { from: 2, to: 2 }, { from: 3, to: 4 }]);
    assert.deepEqual(planKeyGroupReads(offsets, 0, 1, 3, 20), [{ from: 1, to: 1 }, { from: 2, to: 2 }, { from: 3, to: 3 }]);
    assert.deepEqual(planKeyGroupReads(offsets, 0, 3, 2, 20), []);
  });

  it('readKeyGroupBlocks yields the same blocks and records, with as many requests as planned, at any byte limit', async () => {
    const { handle, header, storage, expected } = await encodedStream();
    for (const maxReadBytes of [1, 100, 400, 1 << 20]) {
      let requests = 0;
      const reader: StateHandleReader = { readFully: (h) => storage.readFully(h), readRange: (h, o, l) => (requests++, storage.readRange(h, o, l)) };
      const got: string[] = [];
      for await (const b of readKeyGroupBlocks(reader, handle, header, { maxReadBytes, range: { startKeyGroup: 9, endKeyGroup: 22 } })) {
        for (const r of b.records) got.push(`${b.keyGroup}:${Buffer.from(r.key).toString('hex')}`);
      }
      assert.deepEqual(got, expected.filter((e) => Number(e.split(':')[0]) >= 9 && Number(e.split(':')[0]) <= 22), `maxReadBytes ${maxReadBytes}`);
      assert.equal(requests, planKeyGroupReads(handle.keyGroupOffsets, 8, 9, 22, maxReadBytes).length, `maxReadBytes ${maxReadBytes}`);
    }
  });

  it('readKeyGroupBlocks with checksumsOnPool yields the same blocks and reports a corrupt block the same way', async () => {
    const { handle, header, storage, expected, fs } = await encodedStream();
    const reader: StateHandleReader = storage;
    for (const maxReadBytes of [1, 100, 1 << 20]) {
      const got: string[] = [];
      for await (const b of readKeyGroupBlocks(reader, handle, header, { maxReadBytes, checksumsOnPool: true })) {
        for (const r of b.records) got.push(`${b.keyGroup}:${Buffer.from(r.key).toString('hex')}`);
      }
      assert.deepEqual(got, expected, `maxReadBytes ${maxReadBytes}`);
    }
    // One byte of key group 17's block flipped in place: the blocks before it are yielded, then the typed error.
    const at = handle.keyGroupOffsets[17 - 8]! + 2;
    const file = handle.stream.type === 'file' ? handle.stream.path : assert.fail('a file handle');
    const stored = await fs.read(file);
    stored[at]! ^= 0x40;
    fs.overwriteForTest(file, stored);
    for (const checksumsOnPool of [false, true]) {
      const seen: number[] = [];
      await assert.rejects(
        (async () => {
          for await (const b of readKeyGroupBlocks(reader, handle, header, { maxReadBytes: 100, checksumsOnPool })) seen.push(b.keyGroup);
        })(),
        (e: Error) => e.name === 'CorruptCheckpointError' && /key group 17 block CRC32C is/.test(e.message),
      );
      assert.deepEqual(seen, [8, 9, 10, 11, 12, 13, 14, 15, 16], `checksumsOnPool ${checksumsOnPool}`);
    }
  });

  it('readKeyGroupBlocks with checksumsOnPool lets the event loop run while a large read is consumed, and not without', { skip: crc32cImplementation.rangesOnPool ? false : 'crc32cRanges computes on the main thread here (no CRC32C addon): no turns are taken' }, async () => {
    // Two reads of about 1.3 MiB (key groups 8..15 and 16..23, one 170,000-byte value each).
    const { handle, header, storage } = await encodedStream({ entries: () => 1, valueBytes: () => 170_000 });
    const maxReadBytes = 1_400_000;
    assert.equal(planKeyGroupReads(handle.keyGroupOffsets, 8, 8, 23, maxReadBytes).length, 2);
    for (const checksumsOnPool of [false, true]) {
      // The block count at which a macrotask queued at the first block ran (the consumer itself never waits).
      let ranAt: number | undefined;
      let consumed = 0;
      for await (const b of readKeyGroupBlocks(storage, handle, header, { maxReadBytes, checksumsOnPool })) {
        if (b.keyGroup === 8) setImmediate(() => (ranAt = consumed));
        consumed++;
      }
      assert.equal(consumed, 16);
      // Without turns nothing in the first read's blocks gives way to it (here, with a memory file
      // system, nothing does at all: it runs after the loop).
      if (checksumsOnPool) assert.ok(ranAt !== undefined && ranAt < 8, `ran after ${ranAt} blocks`);
      else assert.ok(ranAt === undefined || ranAt >= 8, `ran after ${ranAt} blocks`);
    }
  });

  it('AlternatingReadBuffers never lends the buffer of the previous call, and grows a buffer that is too small', () => {
    const b = new AlternatingReadBuffers();
    const first = b.take(10);
    const second = b.take(10);
    assert.notEqual(first, second);
    assert.ok(first.length >= 10 && second.length >= 10);
    assert.equal(b.take(5), first);
    const grown = b.take(20);
    assert.notEqual(grown, second);
    assert.ok(grown.length >= 20);
    assert.equal(b.take(1), first);
  });

  it('readKeyGroupBlocks with readBuffers reads every request into the buffer of the request before the previous one', async () => {
    const { handle, header, storage, expected } = await encodedStream();
    const buffers = new AlternatingReadBuffers();
    // Both buffers at full size up front, so that they are never replaced by larger ones.
    buffers.take(1 << 10);
    buffers.take(1 << 10);
    const lent: Uint8Array[] = [];
    // A reader that honours `into`, as the local file system does.
    const reader: StateHandleReader = {
      readFully: (h) => storage.readFully(h),
      readRange: async (h, o, l, id, into) => {
        const read = await storage.readRange(h, o, l, id);
        assert.ok(into !== undefined && into.length >= l, 'every request is lent a large enough buffer');
        lent.push(into);
        into.set(read);
        return into.subarray(0, l);
      },
    };
    const got: string[] = [];
    for await (const b of readKeyGroupBlocks(reader, handle, header, { maxReadBytes: 100, readBuffers: buffers })) {
      for (const r of b.records) got.push(`${b.keyGroup}:${Buffer.from(r.key).toString('hex')}`);
    }
    assert.deepEqual(got, expected);
    assert.equal(lent.length, planKeyGroupReads(handle.keyGroupOffsets, 8, 8, 23, 100).length);
    assert.ok(lent.length > 3);
    for (let i = 1; i < lent.length; i++) assert.notEqual(lent[i], lent[i - 1], `request ${i} reads into the buffer whose blocks are being consumed`);
    for (let i = 2; i < lent.length; i++) assert.equal(lent[i], lent[i - 2], `request ${i} reuses a buffer`);
  });
});

/**
 * A keyed stream over key groups 8..23 (g % 4 entries each, values of 40 × i bytes; or `shape`'s)
 * in a MemoryFileSystem, and its records as `group:key hex`.
 */
async function encodedStream(shape: { entries(g: number): number; valueBytes(i: number): number } = { entries: (g) => g % 4, valueBytes: (i) => 40 * i }): Promise<{ handle: KeyGroupsStateHandle; header: KeyedStateStreamHeader; storage: FsCheckpointStorage; expected: string[]; fs: MemoryFileSystem }> {
  const range = KeyGroupRange.of(8, 23);
  const meta = { name: 's', kind: 'VALUE' as const, namespaceSerializerSnapshot: VoidNamespaceSerializer.INSTANCE.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, stateSerializerSnapshot: BytesSerializer.INSTANCE.snapshotConfiguration() as TypeSerializerSnapshot<unknown> };
  const enc = new KeyedStateStreamEncoder(range, Serializers.string.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, [meta]);
  const fs = new MemoryFileSystem();
  const out = new FsCheckpointStateOutputStream(fs, 'stream');
  await out.write(enc.encodeHeader());
  const expected: string[] = [];
  for (const g of range) {
    enc.beginKeyGroup(g);
    for (let i = 0; i < shape.entries(g); i++) {
      const key = bytes(3, g * 10 + i);
      enc.writeSerializedEntry(0, key, new Uint8Array(0), BytesSerializer.INSTANCE, bytes(shape.valueBytes(i), g));
      expected.push(`${g}:${Buffer.from(key).toString('hex')}`);
    }
    await enc.endKeyGroupTo(out);
  }
  const handle = enc.finish(await out.closeAndGetHandle());
  const storage = new FsCheckpointStorage(fs, { layout: 'savepoint' });
  const header: KeyedStateStreamHeader = { version: 1, keySerializerSnapshot: Serializers.string.snapshotConfiguration() as TypeSerializerSnapshot<unknown>, states: [meta], startKeyGroup: 8, numberOfKeyGroups: 16 };
  return { handle, header, storage, expected, fs };
}
